"""The timbre room end to end: Debian's Chromium against the real server.

What a person does, and what the tests check happened:

1. On a desktop window they open the Timbre room: the map shows points, the model's own sounds
   ("anchors") among them.
2. They hover a point with the mouse and hear it (the page's level meter, ``window.residue``);
   the label under the map names that point. Hovering the space between points plays too. They
   move the mouse off the map and the sound stops.
3. They type a song grammar that uses an unknown symbol: the page says which symbol, and "Make
   song" is disabled; "Default grammar" brings back a valid grammar with an example expansion.
4. They make an album of two short songs: a progress bar, then two song cards; they play one and
   hear it, keep one, reload the page and find it still kept (decisions live on the server).
5. They turn the lasso on and draw a polygon around a few points with the mouse: those points are
   listed as the region and the song's criterion becomes "region".
6. On a phone-sized page the room is one column without sideways scrolling, and a tap on the map
   places a marker (and plays it).

The session fixture ``timbre_model`` puts a briefly trained default model in the server's data
folder, so the room does not train one on first use. ``window.residueTimbre`` is the room's
read-only hook: its state, and where each point of the map is drawn in viewport coordinates.
Screenshots go to ``e2e/artifacts/6N-timbre-*.png``.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, wait_studio
from playwright.sync_api import Browser, BrowserContext, FloatRect, Page, expect

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000
#: Two short songs on two shared cores.
ALBUM_MS = 60_000
#: Peak RMS (full scale 1) above which we say "sound played"; silence reads 0.
SOUND_RMS = 0.01
#: RMS below which we say the page is quiet again.
QUIET_RMS = 1e-3
#: Song length asked for, in minutes (6 s): the smallest the form allows.
SONG_MINUTES = 0.1
#: The room's hover radius around a point (room.ts HIT_RADIUS_PX), in CSS pixels.
HIT_RADIUS_PX = 9
#: Least distance from a hovered or tapped point to its neighbours, in CSS pixels.
MIN_GAP_PX = 4
#: Points of the map inside the lasso.
LASSO_POINTS = 5

Say = Callable[[str], None]

#: Notes in the page whether the song progress bar ever showed, whether "Make album" was disabled
#: meanwhile, and every stage text it showed.
PROGRESS_WATCH = """
(() => {
  const bar = document.querySelector('[data-testid="timbre-song-progress"]');
  const stage = document.querySelector('[data-testid="timbre-song-progress-stage"]');
  const button = document.querySelector('[data-testid="make-album"]');
  const seen = { shown: false, makeAlbumDisabled: false, stages: [] };
  window.__e2eSongProgress = seen;
  const note = () => {
    if (bar.offsetParent === null) return;
    seen.shown = true;
    seen.makeAlbumDisabled ||= button.disabled;
    const text = stage.textContent;
    if (text && !seen.stages.includes(text)) seen.stages.push(text);
  };
  new MutationObserver(note).observe(bar.parentElement, {
    attributes: true, subtree: true, childList: true, characterData: true,
  });
})()
"""


# --- helpers ------------------------------------------------------------------------------------


def timbre_state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.residueTimbre.state()")
    return result


def map_points(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate("window.residueTimbre.points()")
    return result


def shot(page: Page, artifacts: Path, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)


def wait_map(page: Page) -> None:
    """Wait until the room has loaded, its map has points and no model job runs."""
    page.wait_for_function(
        "() => { const s = window.residueTimbre?.state();"
        " return s !== undefined && s.loaded && s.points > 0 && s.job === null; }",
        timeout=WAIT_MS,
    )


def open_room(page: Page, server: Server) -> None:
    """Open the studio, wait for its socket, then click the Timbre room's tab."""
    page.goto(server.url)
    wait_studio(page, WAIT_MS)
    page.get_by_test_id("room-timbre").click()
    expect(page.get_by_test_id("timbre-room")).to_be_visible()
    expect(page.get_by_test_id("room-timbre")).to_have_attribute("aria-current", "page")
    wait_map(page)


def wait_level(page: Page, threshold: float = SOUND_RMS) -> float:
    """Wait until the meter's peak RMS since the last reset passes ``threshold``."""
    page.wait_for_function(
        f"() => window.residue.peakRms() > {threshold}", timeout=WAIT_MS, polling=20
    )
    peak: float = page.evaluate("window.residue.peakRms()")
    return peak


def wait_quiet(page: Page) -> None:
    """Wait until nothing plays: the room says so and the meter reads (almost) silence."""
    page.wait_for_function(
        f"() => window.residueTimbre.state().playing === null"
        f" && window.residue.rms() < {QUIET_RMS}",
        timeout=WAIT_MS,
        polling=20,
    )


def isolated_point(points: list[dict[str, Any]], box: FloatRect) -> dict[str, Any]:
    """The visible point farthest from its nearest neighbour (a hover or tap on it hits it)."""
    margin = 2 * HIT_RADIUS_PX

    def inside(p: dict[str, Any]) -> bool:
        x: float = p["x"]
        y: float = p["y"]
        return (
            box["x"] + margin < x < box["x"] + box["width"] - margin
            and box["y"] + margin < y < box["y"] + box["height"] - margin
        )

    def gap(p: dict[str, Any]) -> float:
        others = (math.dist((p["x"], p["y"]), (q["x"], q["y"])) for q in points if q is not p)
        return min(others, default=math.inf)

    candidates = [p for p in points if p["visible"] and inside(p)]
    assert candidates, "no point is drawn inside the map"
    best = max(candidates, key=gap)
    # the nearest point within the hit radius wins: a few pixels apart is enough even if the
    # browser rounds the pointer's position to whole pixels
    assert gap(best) > MIN_GAP_PX, f"every point has a neighbour within {gap(best):.1f} px"
    return best


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, f"the page scrolls sideways: {width[0]} > {width[1]}"


def circle(cx: float, cy: float, r: float, n: int = 40) -> list[tuple[float, float]]:
    return [
        (cx + r * math.cos(2 * math.pi * i / n), cy + r * math.sin(2 * math.pi * i / n))
        for i in range(n + 1)
    ]


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def say(capsys: pytest.CaptureFixture[str]) -> Say:
    """Print past pytest's capture: the measured figures show in the run's output."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    return write


def room_page(context: BrowserContext, server: Server) -> Iterator[Page]:
    """The Timbre room open in ``context``, its map shown; no uncaught errors in the page."""
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        open_room(page, server)
        yield page
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="module")
def desktop(browser: Browser, server: Server, timbre_model: str) -> Iterator[Page]:
    """One desktop page for the module's desktop steps, in file order (each leaves it idle)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield from room_page(context, server)


@pytest.fixture
def phone(browser: Browser, server: Server, timbre_model: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        has_touch=True,
        is_mobile=True,
    )
    yield from room_page(context, server)


# --- tests --------------------------------------------------------------------------------------


def test_map_shows_points(desktop: Page, timbre_model: str, artifacts: Path) -> None:
    page = desktop
    count = page.get_by_test_id("timbre-point-count")
    expect(count).to_have_attribute("data-count", re.compile(r"^[1-9]\d*$"))
    n = int(count.get_attribute("data-count") or 0)
    expect(count).to_contain_text(f"{n} points")
    points = map_points(page)
    assert len(points) == n == timbre_state(page)["points"]
    kinds = {p["kind"] for p in points}
    assert "anchor" in kinds, f"no model sounds on the map: kinds {kinds}"
    assert any(p["visible"] for p in points), "no point is inside the drawn map"
    # the map is of the model the fixture trained
    assert timbre_state(page)["modelId"] == timbre_model
    page.get_by_test_id("timbre-map").scroll_into_view_if_needed()
    shot(page, artifacts, "60-timbre-map")


def test_hover_plays_and_leaving_stops(desktop: Page, artifacts: Path, say: Say) -> None:
    page = desktop
    canvas = page.get_by_test_id("timbre-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    target = isolated_point(map_points(page), box)
    label = page.get_by_test_id("timbre-hover-label")
    expect(label).not_to_contain_text(target["label"])

    # from outside the map onto the point, as a hand moves
    page.evaluate("window.residue.resetMeter()")
    page.mouse.move(box["x"] - 20, target["y"])
    started = time.monotonic()
    page.mouse.move(target["x"], target["y"], steps=6)
    expect(label).to_contain_text(target["label"])
    assert timbre_state(page)["hover"].startswith(target["label"])
    peak = wait_level(page)
    heard_after = time.monotonic() - started
    playing = timbre_state(page)["playing"]
    assert playing is not None and playing["what"] == "preview"
    shot(page, artifacts, "61-timbre-hover")

    # the space between points plays as well
    spot = page.evaluate("window.residueTimbre.emptySpot()")
    assert spot is not None
    page.evaluate("window.residue.resetMeter()")
    page.mouse.move(spot["x"], spot["y"], steps=4)
    expect(label).to_contain_text("between points")
    wait_level(page)

    # off the map: the sound stops
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] - 40, steps=4)
    expect(label).not_to_contain_text("between points")
    wait_quiet(page)
    page.evaluate("window.residue.resetMeter()")
    page.wait_for_timeout(400)
    after: float = page.evaluate("window.residue.peakRms()")
    assert after < QUIET_RMS, f"still sounding after the mouse left the map (peak RMS {after:.4f})"
    say(f"\ntimbre hover: heard {heard_after * 1000:.0f} ms after moving, peak RMS {peak:.3f}")


def test_grammar_error_then_reset(desktop: Page, artifacts: Path) -> None:
    page = desktop
    grammar = page.get_by_test_id("song-grammar")
    error = page.get_by_test_id("grammar-error")
    make_song = page.get_by_test_id("make-song")
    expect(make_song).to_be_enabled()
    expect(error).to_be_hidden()

    grammar.fill("S -> XQ\nX -> AB | BA")
    expect(error).to_be_visible()
    expect(error).to_contain_text("unknown symbol 'Q'")
    expect(grammar).to_have_attribute("aria-invalid", "true")
    expect(make_song).to_be_disabled()
    expect(page.get_by_test_id("make-album")).to_be_disabled()
    page.get_by_test_id("song-grammar").scroll_into_view_if_needed()
    shot(page, artifacts, "62-timbre-grammar-error")

    page.get_by_test_id("grammar-reset").click()
    expect(error).to_be_hidden()
    expect(grammar).to_have_value(re.compile(r"^S -> "))
    expect(grammar).to_have_attribute("aria-invalid", "false")
    expect(page.get_by_test_id("grammar-example")).to_have_text(
        re.compile(r"^For example: [A-E]+$")
    )
    expect(make_song).to_be_enabled()
    assert timbre_state(page)["grammar"]["status"] == "ok"


def test_album_play_keep_persists(desktop: Page, artifacts: Path, say: Say) -> None:
    page = desktop
    minutes = page.get_by_test_id("song-minutes")
    allowed_min = float(minutes.get_attribute("min") or "nan")
    assert allowed_min <= SONG_MINUTES, f"the form refuses {SONG_MINUTES} min (min {allowed_min})"
    minutes.fill(f"{SONG_MINUTES:g}")
    assert minutes.evaluate("el => el.checkValidity()"), "the browser calls 0.1 min invalid"
    expect(page.get_by_test_id("song-problem")).to_have_text("")
    songs = page.get_by_test_id("album-songs")
    songs.fill("2")
    songs.press("Tab")  # the count is read on change, as a person leaves the field
    page.get_by_test_id("album-name").fill("e2e timbre album")

    # short songs are made in well under a second: a watcher in the page notes the progress bar
    page.evaluate(PROGRESS_WATCH)
    started = time.monotonic()
    page.get_by_test_id("make-album").click()
    page.wait_for_function(
        "() => window.residueTimbre.state().songJob === null", timeout=ALBUM_MS, polling=50
    )
    took = time.monotonic() - started
    seen: dict[str, Any] = page.evaluate("window.__e2eSongProgress")
    assert seen["shown"], "the progress bar never showed"
    assert seen["makeAlbumDisabled"], "Make album stayed enabled while the album was made"
    assert "album of 2 songs" in seen["stages"], seen["stages"]
    assert any(st.startswith("song 2 of 2: ") for st in seen["stages"]), seen["stages"]
    expect(page.get_by_test_id("timbre-song-progress")).to_be_hidden()
    expect(page.get_by_test_id("make-album")).to_be_enabled()
    cards = page.get_by_test_id("song-card")
    expect(cards).to_have_count(2)  # the list now shows the new album, in track order
    s = timbre_state(page)
    assert s["made"] == 2 and s["albumFilter"] is not None
    album_songs = {x["id"] for x in s["songs"]}
    assert {x["album"] for x in s["songs"]} == {s["albumFilter"]}
    for track, card in enumerate(cards.all(), start=1):  # track order, 6 s each
        expect(card).to_contain_text(f"track {track} of “e2e timbre album”")
        expect(card).to_contain_text(f"0:{SONG_MINUTES * 60:02.0f}")
    expect(page.get_by_test_id("song-count")).to_contain_text("2 · 0 kept")
    shot(page, artifacts, "63-timbre-album", full_page=True)

    # play the first song: it sounds
    first = cards.nth(0)
    page.evaluate("window.residue.resetMeter()")
    first.get_by_test_id("song-play").click()
    wait_level(page)
    page.wait_for_timeout(500)
    peak: float = page.evaluate("window.residue.peakRms()")
    playing = timbre_state(page)["playing"]
    assert playing is not None and playing["what"] == "song"
    assert playing["song"] == first.get_attribute("data-song")
    expect(first.get_by_test_id("song-play")).to_have_attribute("aria-pressed", "true")
    first.get_by_test_id("song-play").click()  # again: stop
    wait_quiet(page)

    # keep the second song: the card says so, and so does the server after a reload
    second = cards.nth(1)
    song_id = second.get_attribute("data-song")
    assert song_id
    expect(second).to_have_attribute("data-decision", "")
    second.get_by_test_id("song-keep").click()
    kept = page.locator(f'[data-testid="song-card"][data-song="{song_id}"]')
    expect(kept).to_have_attribute("data-decision", "keep")
    expect(kept.get_by_test_id("song-keep")).to_have_attribute("aria-pressed", "true")
    expect(cards.nth(0)).to_have_attribute("data-decision", "")

    page.reload()
    expect(page.get_by_test_id("timbre-room")).to_be_visible(timeout=WAIT_MS)
    wait_map(page)
    kept = page.locator(f'[data-testid="song-card"][data-song="{song_id}"]')
    expect(kept).to_have_attribute("data-decision", "keep", timeout=WAIT_MS)
    # all songs are listed after a reload: of the album's two, the kept one only is kept
    decisions = {x["id"]: x["decision"] for x in timbre_state(page)["songs"]}
    assert album_songs <= decisions.keys()
    assert {i: decisions[i] for i in album_songs} == {
        i: ("keep" if i == song_id else None) for i in album_songs
    }
    say(
        f"\ntimbre album: 2 songs of {SONG_MINUTES * 60:.0f} s in {took:.1f} s;"
        f" song peak RMS {peak:.3f}"
    )


def test_lasso_selects_region(desktop: Page, artifacts: Path) -> None:
    page = desktop
    lasso = page.get_by_test_id("timbre-lasso")
    expect(lasso).to_have_attribute("aria-pressed", "false")
    lasso.click()
    expect(lasso).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("song-criterion")).not_to_have_value("region")

    # where the points are now (the click above may have scrolled the page)
    canvas = page.get_by_test_id("timbre-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    points = [p for p in map_points(page) if p["visible"]]
    assert len(points) > LASSO_POINTS, f"only {len(points)} points on the map"
    # a circle around the point nearest the map's middle, half-way between the LASSO_POINTS-th
    # and the next nearest points
    mid = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    centre = min(points, key=lambda p: math.dist(mid, (p["x"], p["y"])))
    cx, cy = centre["x"], centre["y"]
    dist = sorted(math.dist((cx, cy), (p["x"], p["y"])) for p in points)
    radius = max(12.0, (dist[LASSO_POINTS - 1] + dist[LASSO_POINTS]) / 2)
    surely_in = {p["index"] for p in points if math.dist((cx, cy), (p["x"], p["y"])) < radius - 3}
    maybe_in = {p["index"] for p in points if math.dist((cx, cy), (p["x"], p["y"])) < radius + 3}
    assert len(surely_in) >= 2

    path = circle(cx, cy, radius)
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y, steps=2)
    page.mouse.up()

    page.wait_for_function("() => window.residueTimbre.state().region !== null", timeout=WAIT_MS)
    s = timbre_state(page)
    selected = set(s["selected"])
    assert surely_in <= selected <= maybe_in, (surely_in, selected, maybe_in)
    assert s["criterion"] == "region"
    expect(page.get_by_test_id("song-criterion")).to_have_value("region")
    listed = page.get_by_test_id("timbre-selected-point")
    expect(listed).to_have_count(len(selected))
    shown = {int(x.get_attribute("data-point") or -1) for x in listed.all()}
    assert shown == selected
    expect(page.get_by_test_id("timbre-selection")).to_contain_text(centre["label"])
    # a region the song can follow: nothing stops "Make song"
    expect(page.get_by_test_id("make-song")).to_be_enabled()
    shot(page, artifacts, "64-timbre-lasso")

    page.get_by_test_id("timbre-clear-region").click()
    expect(listed).to_have_count(0)
    expect(page.get_by_test_id("song-criterion")).not_to_have_value("region")
    lasso.click()
    expect(lasso).to_have_attribute("aria-pressed", "false")


def test_pinned_points_make_a_song(desktop: Page, server: Server, artifacts: Path) -> None:
    """Click a point, pin it as A, make a song: the song's recipe starts at that timbre."""
    page = desktop
    box = page.get_by_test_id("timbre-map").bounding_box()
    assert box is not None
    point = isolated_point(map_points(page), box)
    page.mouse.click(point["x"], point["y"])
    expect(page.get_by_test_id("timbre-marker-label")).to_contain_text(point["label"])
    pin = page.get_by_test_id("timbre-pin")
    expect(pin).to_have_text("Pin as A")
    pin.click()
    pins = page.get_by_test_id("timbre-pin-item")
    expect(pins).to_have_count(1)
    expect(pins.first).to_have_attribute("data-letter", "A")
    expect(pins.first).to_contain_text(point["label"])
    expect(pin).to_have_text("Unpin A")
    shot(page, artifacts, "66-timbre-pinned")

    page.get_by_test_id("song-minutes").fill(f"{SONG_MINUTES:g}")
    before = timbre_state(page)["made"]
    page.get_by_test_id("make-song").click()
    page.wait_for_function(
        f"() => window.residueTimbre.state().made > {before}"
        " && window.residueTimbre.state().songJob === null",
        timeout=ALBUM_MS,
        polling=50,
    )
    # the newest song's recipe on the server holds one pinned latent, A
    with sqlite3.connect(server.data / "residue.db") as db:
        (settings,) = db.execute(
            "SELECT settings FROM songs ORDER BY created_at DESC, rowid DESC LIMIT 1"
        ).fetchone()
    assert len(json.loads(settings)["points"]) == 1

    page.get_by_test_id("timbre-clear-pins").click()
    expect(pins).to_have_count(0)
    page.keyboard.press("Escape")


def test_phone_link_explains_itself(desktop: Page) -> None:
    """On a server that only this machine reaches, "On a phone" says how to reach it instead."""
    page = desktop
    page.get_by_test_id("phone-button").click()
    expect(page.get_by_test_id("phone-panel")).to_be_visible()
    expect(page.get_by_test_id("phone-note")).to_contain_text("RESIDUE_HTTPS=1")
    expect(page.get_by_test_id("phone-qr")).to_be_hidden()
    page.get_by_test_id("phone-button").click()
    expect(page.get_by_test_id("phone-panel")).to_be_hidden()


def test_phone_one_column_tap_places_marker(phone: Page, artifacts: Path) -> None:
    page = phone
    no_horizontal_scroll(page)
    panels = [
        page.locator(".timbre-map-panel"),
        page.locator(".timbre-form"),
        page.locator(".timbre-songs-panel"),
    ]
    boxes = [p.bounding_box() for p in panels]
    assert all(b is not None for b in boxes)
    lefts = {round(b["x"]) for b in boxes if b is not None}
    assert len(lefts) == 1, f"the panels are not stacked: x = {lefts}"
    tops = [b["y"] for b in boxes if b is not None]
    assert tops == sorted(tops), f"the panels are not one under the other: y = {tops}"
    assert all(b["x"] + b["width"] <= 390 + 1 for b in boxes if b is not None)

    canvas = page.get_by_test_id("timbre-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    target = isolated_point(map_points(page), box)
    marker = page.get_by_test_id("timbre-marker-label")
    expect(marker).to_have_text("")
    page.evaluate("window.residue.resetMeter()")
    canvas.tap(position={"x": target["x"] - box["x"], "y": target["y"] - box["y"]})
    expect(marker).to_be_visible()
    expect(marker).to_have_text(re.compile(rf"^Marker: {re.escape(target['label'])}"))
    wait_level(page)
    playing = timbre_state(page)["playing"]
    assert playing is not None and playing["what"] == "marker"
    no_horizontal_scroll(page)
    shot(page, artifacts, "65-timbre-phone", full_page=True)
    page.get_by_test_id("timbre-stop").tap()
    wait_quiet(page)
