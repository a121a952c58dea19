"""The swipe page (``/swipe/``) end to end: Debian's Chromium on a phone against the real server.

An album of four short songs is made over the real socket (the default timbre model comes from
the ``timbre_model`` fixture). On a phone a person opens ``/swipe/?album=<id>``, taps to start
and hears the card in front, drags it right to keep it, rejects the next one and undoes that,
lets a small drag spring back, reloads and finds the decisions kept, sees a decision made here
appear live in a second tab, finishes the deck and exports the kept songs as WAV: a download
link and a folder on the server with the songs and ``tracklist.txt``. At 360 px wide nothing
scrolls sideways. Screenshots go to ``e2e/artifacts/7N-swipe-*.png``.

``window.residue.swipe`` is the page's read-only hook (frontend/README.md, "The swipe page").
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import Server, free_port, start_server
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from websockets.sync.client import connect

from residue import protocol
from residue.transport import tls

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000
#: Peak RMS (full scale 1) above which we say "sound played"; silence reads 0.
SOUND_RMS = 0.01
N_SONGS = 4
PHONE: ViewportSize = {"width": 390, "height": 844}

ENC = msgspec.msgpack.Encoder()
DEC = msgspec.msgpack.Decoder(protocol.ServerFrame)


def reply(ws: Any, request_id: int, kind: type) -> Any:
    """Read frames until the reply of ``kind`` to ``request_id`` (PCM and events skipped)."""
    while True:
        data = ws.recv(timeout=120)
        if isinstance(data, bytes) and data[:2] == protocol.PCM_MAGIC:
            continue
        frame = DEC.decode(data)
        if frame.request_id != request_id:
            continue
        if isinstance(frame, protocol.Error):
            raise AssertionError(f"server refused request {request_id}: {frame.message}")
        if isinstance(frame, kind):
            return frame


def make_album(server: Server, name: str, *, seed: int) -> str:
    """An album of four 3-second songs made over the socket; its id."""
    url = server.url.replace("http://", "ws://") + "/ws"
    with connect(url, max_size=None) as ws:
        ws.send(
            ENC.encode(
                protocol.Hello(
                    request_id=1, protocol_version=protocol.PROTOCOL_VERSION, client="e2e swipe"
                )
            )
        )
        reply(ws, 1, protocol.Welcome)
        ws.send(
            ENC.encode(
                protocol.GenerateAlbum(
                    request_id=2,
                    n_songs=N_SONGS,
                    name=name,
                    params=protocol.SongParams(seed=seed, minutes=0.05),
                )
            )
        )
        made = reply(ws, 2, protocol.AlbumMade)
    assert made.album.n_songs == N_SONGS
    return str(made.album.album_id)


@pytest.fixture(scope="module")
def album(server: Server, timbre_model: str) -> str:
    """A fresh album for the curation test."""
    return make_album(server, "e2e swipe", seed=7)


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield ctx
    ctx.close()


def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.residue.swipe.state()")
    return result


def open_deck(page: Page, url: str) -> None:
    page.goto(url)
    page.wait_for_function(
        "() => window.residue?.swipe !== undefined && window.residue.swipe.state().total > 0"
        " && !window.residue.swipe.state().loading",
        timeout=WAIT_MS,
    )


def front(page: Page) -> str:
    current = state(page)["current"]
    assert current is not None, "no card in front"
    item: str = current["itemId"]
    expect(page.get_by_test_id("swipe-card")).to_have_attribute("data-item-id", item)
    return item


def settle(page: Page) -> None:
    """Wait until every decision and undo sent has the server's answer."""
    page.evaluate("window.residue.swipe.settled()")


def wait_front(page: Page, item: str | None) -> None:
    """Wait until ``item`` is the card in front (None: no card in front)."""
    page.wait_for_function(
        "(id) => (window.residue.swipe.state().current?.itemId ?? null) === id",
        arg=item,
        timeout=WAIT_MS,
    )


def mouse_drag(page: Page, dx: float, *, steps: int = 10) -> None:
    """Press on the card in front, move ``dx`` pixels sideways in small steps, let go."""
    box = page.get_by_test_id("swipe-card").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x + dx * i / steps, y + 2)
        page.wait_for_timeout(20)
    page.mouse.up()


def touch_drag(page: Page, dx: float, *, steps: int = 8) -> None:
    """The same gesture with a finger (touch events through the DevTools protocol)."""
    box = page.get_by_test_id("swipe-card").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]}
        )
        for i in range(1, steps + 1):
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchMove", "touchPoints": [{"x": x + dx * i / steps, "y": y}]},
            )
            page.wait_for_timeout(20)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def no_sideways_scroll(page: Page) -> None:
    """At 360 px wide the page does not scroll sideways (then back to the phone's width)."""
    page.set_viewport_size({"width": 360, "height": 740})
    page.wait_for_timeout(100)
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    page.set_viewport_size(PHONE)
    assert widths[0] <= widths[1], f"scrollWidth {widths[0]} > clientWidth {widths[1]} at 360 px"


def test_curate_album_on_a_phone(
    server: Server, album: str, phone: BrowserContext, artifacts: Path
) -> None:
    url = f"{server.url}/swipe/?album={album}"
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_deck(page, url)
    s = state(page)
    assert (s["kind"], s["albumId"], s["total"], s["left"]) == ("song", album, N_SONGS, N_SONGS)
    expect(page.get_by_test_id("swipe-start")).to_be_visible()

    # the first tap starts the sound: the card in front plays
    page.get_by_test_id("swipe-start").tap()
    expect(page.get_by_test_id("swipe-start")).to_be_hidden()
    first = front(page)
    page.wait_for_function(
        f"window.residue.swipe.peakRms() > {SOUND_RMS}", timeout=WAIT_MS, polling=50
    )
    assert state(page)["playing"] == first
    page.screenshot(path=str(artifacts / "70-swipe-card.png"))
    no_sideways_scroll(page)

    # drag it right: kept, and the next card comes to the front
    mouse_drag(page, 160)
    expect(page.get_by_test_id("swipe-kept")).to_have_text("1")
    second = front(page)
    assert second != first
    assert state(page)["decisions"][first] == "keep"

    # reject the next one, then undo: it is back in front, undecided
    page.get_by_test_id("swipe-reject").tap()
    expect(page.get_by_test_id("swipe-rejected")).to_have_text("1")
    assert front(page) != second
    settle(page)
    page.get_by_test_id("swipe-undo").tap()
    expect(page.get_by_test_id("swipe-rejected")).to_have_text("0")
    wait_front(page, second)
    settle(page)
    assert state(page)["decisions"][second] is None

    # a small drag (a finger this time) springs back without deciding
    touch_drag(page, -30)
    page.wait_for_timeout(300)
    s = state(page)
    assert s["current"]["itemId"] == second
    assert (s["kept"], s["rejected"], s["left"]) == (1, 0, N_SONGS - 1)

    # reload: the decisions were the server's, not the page's
    page.reload()
    open_deck(page, url)
    s = state(page)
    assert (s["kept"], s["rejected"], s["left"]) == (1, 0, N_SONGS - 1)
    assert s["decisions"][first] == "keep"
    expect(page.get_by_test_id("swipe-kept")).to_have_text("1")
    page.get_by_test_id("swipe-start").tap()
    wait_front(page, second)

    # a second tab sees a decision made in this one, live
    other = phone.new_page()
    other.on("pageerror", lambda e: errors.append(str(e)))
    open_deck(other, url)
    assert state(other)["decisions"][second] is None
    page.get_by_test_id("swipe-keep").tap()
    other.wait_for_function(
        "(id) => window.residue.swipe.state().decisions[id] === 'keep'",
        arg=second,
        timeout=WAIT_MS,
    )
    expect(other.get_by_test_id("swipe-kept")).to_have_text("2")
    other.close()

    # the rest with the keys: reject one, keep the last -> done
    third = front(page)
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "(id) => window.residue.swipe.state().current?.itemId !== id", arg=third, timeout=WAIT_MS
    )
    fourth = front(page)
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("swipe-done")).to_be_visible()
    settle(page)
    s = state(page)
    assert s["done"] and s["current"] is None
    assert (s["kept"], s["rejected"], s["left"]) == (3, 1, 0)
    assert s["decisions"] == {first: "keep", second: "keep", third: "reject", fourth: "keep"}
    page.screenshot(path=str(artifacts / "71-swipe-done.png"))

    # export the kept songs as WAV: a download link and a folder on the server
    page.get_by_test_id("swipe-format-wav").check()
    page.get_by_test_id("swipe-export").tap()
    expect(page.get_by_test_id("swipe-download")).to_be_visible(timeout=WAIT_MS)
    href = page.get_by_test_id("swipe-download").get_attribute("href")
    assert href
    assert (page.get_by_test_id("swipe-download").get_attribute("download") or "").endswith(".zip")
    magic = page.evaluate(
        "async (url) => [...new Uint8Array(await (await fetch(url)).arrayBuffer(), 0, 2)]", href
    )
    assert bytes(magic) == b"PK"  # the zip is really there
    folder_text = page.get_by_test_id("swipe-folder").inner_text().strip()
    folder = Path(folder_text)
    if not folder.is_absolute():
        folder = server.data / folder
    assert folder.is_dir(), f"{folder_text} is not a folder on the server"
    assert folder.resolve().is_relative_to(server.data.resolve())
    assert len(list(folder.glob("*.wav"))) == 3
    assert len((folder / "tracklist.txt").read_text().strip().splitlines()) >= 3
    page.screenshot(path=str(artifacts / "72-swipe-exported.png"))
    no_sideways_scroll(page)
    assert errors == []


def test_phone_over_plain_http_plays_whole_previews(
    server: Server, browser: Browser, timbre_model: str, artifacts: Path
) -> None:
    """A phone on the Wi-Fi opens the swipe page over plain http, where browsers give no audio
    worklets: the previews are fetched whole and loop, and keeping still works."""
    lan = tls.lan_addresses()
    if not lan:
        pytest.skip("this machine has no network address a phone could use")
    album_id = make_album(server, "e2e plain http", seed=11)
    port = free_port()
    proc = start_server(
        server.data, port, RESIDUE_HOST="0.0.0.0", RESIDUE_DEMO="0", RESIDUE_WARM_UP="0"
    )
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        token = (server.data / "owner-token").read_text().strip()
        page = ctx.new_page()
        open_deck(page, f"http://{lan[0]}:{port}/swipe/?album={album_id}#s=default&t={token}")
        assert page.evaluate("isSecureContext") is False
        first = front(page)
        page.get_by_test_id("swipe-start").tap()
        page.wait_for_function(
            "window.residue.swipe.peakRms() > 0.01", timeout=WAIT_MS, polling=50
        )
        s = state(page)
        assert s["engine"] == "buffer" and s["playing"] == first
        page.get_by_test_id("swipe-keep").tap()
        page.wait_for_function(
            "(id) => { const s = window.residue.swipe.state();"
            " return s.kept === 1 && s.playing !== null && s.playing !== id; }",
            arg=first,
            timeout=WAIT_MS,
        )
        page.evaluate("window.residue.swipe.resetMeter()")
        page.wait_for_function(
            "window.residue.swipe.peakRms() > 0.01", timeout=WAIT_MS, polling=50
        )
        page.screenshot(path=str(artifacts / "73-swipe-plain-http.png"))
    finally:
        ctx.close()
        proc.terminate()
        proc.wait(timeout=10)
