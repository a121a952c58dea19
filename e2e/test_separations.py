"""The separations room end to end: Debian's Chromium against the real server.

A person opens the room, runs the quick grid on a demo loop, sees cards appear as cells finish,
plays one and hears it (the page's AnalyserNode, read through ``window.residue``), moves with the
keyboard, rejects one, keeps one and finds it in the Studio's sound list. A phone-width page shows
one card per row. Screenshots go to ``e2e/artifacts/5N-separations-*.png``.

``window.residueSeparations`` is the room's read-only hook.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, wait_studio
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.e2e

WAIT_MS = 60_000
#: Peak RMS (full scale 1) above which we say "sound played"; silence reads 0.
SOUND_RMS = 0.01


def sep_state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.residueSeparations.state()")
    return result


def open_room(page: Page, server: Server) -> None:
    page.goto(server.url)
    wait_studio(page, WAIT_MS)
    page.get_by_test_id("room-separations").click()
    expect(page.get_by_test_id("sep-room")).to_be_visible()
    expect(page.get_by_test_id("transport-play")).to_be_hidden()


def run_until(page: Page, done: int) -> None:
    page.get_by_test_id("sep-sound").select_option(label="demo drums")
    page.get_by_test_id("sep-preset").select_option("quick")
    page.get_by_test_id("sep-run").click()
    page.wait_for_function(
        f"window.residueSeparations.state().done >= {done}", timeout=WAIT_MS, polling=100
    )


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


def test_run_play_keep(server: Server, desktop: BrowserContext, artifacts: Path) -> None:
    page = desktop.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_room(page, server)
    run_until(page, 2)
    cards = page.locator('[data-testid="sep-card"][data-status="done"]')
    assert cards.count() >= 2
    # stop the rest of the grid: finished cards stay
    if sep_state(page)["running"]:
        page.get_by_test_id("sep-cancel").click()
    page.wait_for_function("!window.residueSeparations.state().running", timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "50-separations-grid.png"))

    # a finished card shows its mini spectrogram, with more than one colour in it
    first = cards.first
    thumb = first.get_by_test_id("sep-thumb")
    size = thumb.evaluate("c => [c.width, c.height]")
    assert size[0] > 10 and size[1] > 10, size
    colours = thumb.evaluate(
        "c => new Set(Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".filter((_, i) => i % 4 === 0))).size"
    )
    assert colours > 5, colours

    # play the first finished card and hear it
    page.evaluate("window.residue.resetMeter()")
    first.get_by_test_id("sep-play").click()
    page.wait_for_function(
        f"window.residue.peakRms() > {SOUND_RMS}", timeout=WAIT_MS, polling=50
    )
    assert sep_state(page)["playing"]["what"] == "estimate"
    # A/B: the mix plays instead
    first.get_by_test_id("sep-ab").click()
    page.wait_for_function(
        "window.residueSeparations.state().playing?.what === 'mix'", timeout=WAIT_MS
    )
    page.keyboard.press("Escape")
    page.wait_for_function("window.residueSeparations.state().playing === null", timeout=WAIT_MS)

    # keyboard: focus a card, move right, reject with X
    first.focus()
    page.keyboard.press("ArrowRight")
    moved = sep_state(page)["focus"]
    assert moved is not None
    page.keyboard.press("x")
    expect(page.locator(f'[data-cell="{moved}"]')).to_have_class(re.compile(r"sep-rejected"))

    # keep the first card under a name: it is in the studio's sound list
    first = page.locator('[data-testid="sep-card"][data-status="done"]').first
    first.get_by_test_id("sep-keep-name").fill("e2e kept stem")
    first.get_by_test_id("sep-keep").click()
    page.wait_for_function("window.residueSeparations.state().kept === 1", timeout=WAIT_MS)
    page.get_by_test_id("room-studio").click()
    expect(page.get_by_test_id("sound-list")).to_contain_text("e2e kept stem")
    assert errors == []


def test_phone_width_is_one_column(server: Server, browser: Browser, artifacts: Path) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True)
    page = ctx.new_page()
    try:
        open_room(page, server)
        run_until(page, 2)
        if sep_state(page)["running"]:
            page.get_by_test_id("sep-cancel").click()
        page.wait_for_function("!window.residueSeparations.state().running", timeout=WAIT_MS)
        boxes = [
            b for b in (c.bounding_box() for c in
                        page.locator('[data-testid="sep-card"]').all()[:3])
            if b is not None
        ]
        assert len(boxes) >= 2
        assert len({round(b["x"]) for b in boxes}) == 1  # stacked, not side by side
        assert all(b["x"] + b["width"] <= 390 + 1 for b in boxes)
        page.screenshot(path=str(artifacts / "51-separations-phone.png"))
    finally:
        ctx.close()


def test_custom_grid_editor(server: Server, desktop: BrowserContext, artifacts: Path) -> None:
    """Edit the quick preset into a two-cell grid: a bad value is refused inline, then it runs."""
    page = desktop.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_room(page, server)
    page.get_by_test_id("sep-sound").select_option(label="demo drums")
    page.get_by_test_id("sep-preset").select_option("quick")
    page.get_by_test_id("sep-edit-preset").click()
    editor = page.get_by_test_id("sep-editor")
    expect(editor).to_be_visible()
    expect(page.get_by_test_id("sep-preset")).to_have_value("custom")
    expect(page.get_by_test_id("sep-cells")).to_contain_text("24 cells")
    sweeps = editor.get_by_test_id("sep-sweep")
    expect(sweeps.first).to_be_visible()
    backends = [
        sweep.get_by_test_id("sep-sweep-backend").input_value() for sweep in sweeps.all()
    ]
    assert len(backends) > 2 and "hpss" in backends, backends  # the preset's sweeps
    at = backends.index("hpss")

    # an out-of-range margin: said beside the field, and Run sends nothing
    hpss = editor.locator(f'[data-testid="sep-sweep"][data-index="{at}"]')
    margin = hpss.locator('[data-testid="sep-param"][data-param="margin"]')
    margin.fill("1, 0.5")
    expect(margin).to_have_attribute("aria-invalid", "true")
    expect(hpss.get_by_test_id("sep-param-error").filter(has_text="margin")).to_have_text(
        "margin: 0.5 is below the minimum 1"
    )
    page.get_by_test_id("sep-run").click()
    page.wait_for_function("window.residueSeparations.state().gridError !== null")
    expect(hpss.get_by_test_id("sep-sweep-error")).to_contain_text("below the minimum 1")
    s = sep_state(page)
    assert not s["running"] and s["cells"] == 0
    page.screenshot(path=str(artifacts / "52-separations-editor-error.png"))

    # fixed, and cut down to one hpss sweep of 2 margins x 1 stem = 2 cells
    margin.fill("1, 3")
    expect(margin).to_have_attribute("aria-invalid", "false")
    for index in sorted(set(range(len(backends))) - {at}, reverse=True):
        editor.locator(f'[data-testid="sep-sweep"][data-index="{index}"]').get_by_test_id(
            "sep-sweep-remove"
        ).click()
    expect(sweeps).to_have_count(1)
    only = sweeps.first
    expect(only.get_by_test_id("sep-sweep-backend")).to_have_value("hpss")
    ticked = [
        box.get_attribute("data-stem")
        for box in only.locator('[data-testid="sep-stem"]:checked').all()
    ]
    assert len(ticked) > 1
    for stem in ticked[1:]:  # each tick redraws the sweep: find the box again by its stem
        only.locator(f'[data-testid="sep-stem"][data-stem="{stem}"]').uncheck()
    expect(only.locator('[data-testid="sep-stem"]:checked')).to_have_count(1)
    expect(page.get_by_test_id("sep-cells")).to_contain_text("2 cells")
    assert sep_state(page)["editorCells"] == 2
    page.get_by_test_id("sep-run").click()
    page.wait_for_function(
        "window.residueSeparations.state().done === 2"
        " && !window.residueSeparations.state().running",
        timeout=WAIT_MS,
        polling=100,
    )
    expect(page.locator('[data-testid="sep-card"][data-status="done"]')).to_have_count(2)
    assert sep_state(page)["gridError"] is None
    page.screenshot(path=str(artifacts / "53-separations-editor-run.png"))
    assert errors == []
