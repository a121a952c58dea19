"""The studio page end to end: Debian's Chromium against the real server.

Each test drives the page like a person would (file picker, slider, buttons, a real mouse drag,
taps on a phone-sized viewport) and checks what really happened: the level and spectrum of what
the page played (an AnalyserNode in the page), the DOM, the downloaded WAV. Screenshots of every
step go to ``e2e/artifacts/NN-step.png``.

The page's read-only hook ``window.residue`` gives the level meter and the click-to-sound time.
To tell two signals apart the tests also read the spectrum of that same meter: an init script
keeps a reference to every AnalyserNode the page creates (there is one, the engine's meter).
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import Server, wait_studio
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, expect

pytestmark = pytest.mark.e2e

SR = 44100
BPM = 120.0
BARS = 2
LOOP_SAMPLES = round(BARS * 4 * 60.0 / BPM * SR)  # 4 s
BAR_S = 4 * 60.0 / BPM

K = 4
#: Peak RMS (full scale 1) above which we say "sound played"; silence reads 0.
SOUND_RMS = 0.01
#: Touch targets at phone width, CSS pixels.
MIN_TARGET_PX = 44
LATENCY_CLICKS = 20

WAIT_MS = 30_000
DECOMPOSE_MS = 90_000

#: Keeps every AnalyserNode the page makes and can average its spectrum over a time window.
ANALYSER_TAP = """
(() => {
  const made = [];
  const create = BaseAudioContext.prototype.createAnalyser;
  BaseAudioContext.prototype.createAnalyser = function () {
    const node = create.call(this);
    made.push(node);
    return node;
  };
  const capture = (ms, everyMs) => new Promise((resolve, reject) => {
    const node = made[made.length - 1];
    if (!node) { reject(new Error("no AnalyserNode yet")); return; }
    const bins = new Float32Array(node.frequencyBinCount);
    const power = new Float64Array(node.frequencyBinCount);
    const rms = [];
    let frames = 0;
    const id = setInterval(() => {
      node.getFloatFrequencyData(bins);
      for (let i = 0; i < bins.length; i++) power[i] += Math.pow(10, bins[i] / 10);
      frames++;
      rms.push(window.residue.rms());
    }, everyMs);
    setTimeout(() => {
      clearInterval(id);
      resolve({
        power: Array.from(power, (p) => p / Math.max(1, frames)),
        rms,
        sampleRate: node.context.sampleRate,
      });
    }, ms);
  });
  Object.defineProperty(window, "__e2eAnalysers", {
    value: Object.freeze({ count: () => made.length, capture }),
  });
})();
"""


# --- helpers ------------------------------------------------------------------------------------


def make_loop(*, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Two bars of drums (kick, snare, hats) and a bass line at 120 bpm, stereo float32."""
    rng = np.random.default_rng(seed)
    n = LOOP_SAMPLES
    steps = BARS * 16
    step = n // steps
    y = np.zeros((2, n))

    def put(start: int, sig: np.ndarray, pan: float = 0.0) -> None:
        m = min(len(sig), n - start)
        y[0, start : start + m] += sig[:m] * (1 - pan)
        y[1, start : start + m] += sig[:m] * (1 + pan)

    t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * t + 2 * (1 - np.exp(-t * 30)))) * np.exp(-t * 12)
    t = np.arange(int(0.18 * sr)) / sr
    snare = 0.6 * rng.standard_normal(t.size) + 0.4 * np.sin(2 * np.pi * 190 * t)
    snare *= np.exp(-t * 22)
    t = np.arange(int(0.05 * sr)) / sr
    hat = 0.3 * np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t * 80)
    for s in range(steps):
        if s % 4 == 0:
            put(s * step, kick)
        if s % 8 == 4:
            put(s * step, 0.7 * snare, 0.1)
        if s % 2 == 1:
            put(s * step, hat, -0.3)
    for i, note in enumerate([45, 45, 48, 43] * BARS):  # A1 A1 C2 G1, a half bar each
        f = 440.0 * 2 ** ((note - 69) / 12)
        length = 8 * step - 200
        t = np.arange(length) / sr
        fade = np.minimum(1, (length - np.arange(length)) / 200)
        env = np.minimum(1, t / 0.005) * np.exp(-t * 2.5) * fade
        saw = sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 8))
        put(i * 8 * step, 0.35 * saw * env)
    y *= 0.7 / np.abs(y).max()
    return y.astype(np.float32)


def band_profile(power: list[float], sample_rate: float) -> np.ndarray:
    """Share of the power in 20 log-spaced bands from 60 Hz to 16 kHz (sums to 1)."""
    p = np.asarray(power, dtype=np.float64)
    f = np.linspace(0, sample_rate / 2, p.size)
    edges = np.geomspace(60, 16000, 21)
    bands = np.array([p[(f >= lo) & (f < hi)].sum() for lo, hi in itertools.pairwise(edges)])
    total = bands.sum()
    assert total > 0, "the spectrum is silent"
    profile: np.ndarray = bands / total
    return profile


def spectral_distance(a: dict[str, Any], b: dict[str, Any]) -> float:
    """L1 distance of two band profiles: 0 for the same sound, 2 for disjoint spectra."""
    pa = band_profile(a["power"], a["sampleRate"])
    pb = band_profile(b["power"], b["sampleRate"])
    return float(np.abs(pa - pb).sum())


def level_db(capture: dict[str, Any]) -> float:
    return float(20 * np.log10(np.mean(capture["rms"]) + 1e-12))


def state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.residue.state()")
    return result


def shot(page: Page, artifacts: Path, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)


def wait_open(page: Page) -> None:
    """Wait for the socket and the first sound list (a new studio has the demo loops)."""
    wait_studio(page, WAIT_MS)


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: scrollWidth {width[0]} > {width[1]}"


def upload(page: Page, path: Path) -> str:
    """Add ``path`` through the page's file input; return the new sound's id once it is selected."""
    page.get_by_test_id("upload-input").set_input_files(str(path))
    added = page.get_by_test_id("toast-info").filter(has_text=f"Added {path.name}")
    expect(added).to_be_visible(timeout=WAIT_MS)
    selected = page.locator("[data-testid=sound-item][aria-pressed=true]")
    expect(selected).to_have_attribute("data-sound-name", path.name)
    sound_id = selected.get_attribute("data-sound-id")
    assert sound_id is not None and sound_id == state(page)["soundId"]
    return sound_id


def set_k(page: Page, k: int) -> None:
    """Move the K slider with the keyboard (Home, then right arrows), as a person can."""
    slider = page.get_by_test_id("k-slider")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(k - 1):
        page.keyboard.press("ArrowRight")
    expect(slider).to_have_value(str(k))
    expect(page.get_by_test_id("k-value")).to_have_text(f"{k} units")


def choose_first_bar(page: Page, *, typed_bpm: str | None = None) -> dict[str, float]:
    """Drag across the spectrogram from near 0 s to just past one bar; it snaps to bar 1.

    The grid is the tempo detected on upload, or ``typed_bpm`` typed into the tempo field.
    """
    if typed_bpm is not None:
        page.get_by_test_id("tempo-input").fill(typed_bpm)
        page.get_by_test_id("tempo-input").press("Tab")
    box = page.get_by_test_id("spectrogram").bounding_box()
    assert box is not None
    duration = LOOP_SAMPLES / SR
    y = box["y"] + box["height"] / 2

    def x(t: float) -> float:
        return box["x"] + box["width"] * t / duration

    page.mouse.move(x(0.08), y)
    page.mouse.down()
    page.mouse.move(x(1.0), y, steps=4)
    page.mouse.move(x(BAR_S + 0.1), y, steps=4)
    page.mouse.up()
    page.wait_for_function("() => window.residue.state().region !== null", timeout=WAIT_MS)
    region: dict[str, float] = state(page)["region"]
    # the drag snapped to the first bar: exactly, at a typed tempo; near it, at a detected one
    tolerance = 1e-9 if typed_bpm is not None else 0.05
    assert region["start_s"] == pytest.approx(0.0, abs=tolerance)
    assert region["end_s"] == pytest.approx(BAR_S, abs=tolerance)
    expect(page.get_by_test_id("region-text")).to_contain_text("1 bar")
    return region


def decompose(page: Page, k: int) -> str:
    """Split the selected sound into ``k`` units and wait for exactly ``k`` unit rows."""
    set_k(page, k)
    page.get_by_test_id("decompose-button").click()
    expect(page.get_by_test_id(f"unit-{k - 1}")).to_be_visible(timeout=DECOMPOSE_MS)
    rows = page.locator("[data-testid=unit-rows] > [data-testid^=unit-]")
    expect(rows).to_have_count(k)
    s = state(page)
    assert s["units"] == k and s["job"] is None
    decomposition_id: str = s["decompositionId"]
    assert decomposition_id
    return decomposition_id


def wait_sounding(page: Page) -> float:
    """Wait until the last click produced audible output; return its click-to-sound time."""
    page.wait_for_function("() => window.residue.lastClickToSoundMs() !== null", timeout=WAIT_MS)
    ms: float = page.evaluate("window.residue.lastClickToSoundMs()")
    return ms


def wait_level(page: Page, threshold: float = SOUND_RMS) -> float:
    """Wait until the meter's peak RMS since the last reset passes ``threshold``."""
    page.wait_for_function(
        f"() => window.residue.peakRms() > {threshold}", timeout=WAIT_MS, polling=20
    )
    peak: float = page.evaluate("window.residue.peakRms()")
    return peak


def capture(page: Page, ms: float) -> dict[str, Any]:
    """Average spectrum and RMS samples of the page's output over ``ms`` milliseconds."""
    result: dict[str, Any] = page.evaluate(f"window.__e2eAnalysers.capture({ms:.0f}, 10)")
    return result


def export_edit(page: Page, path: Path) -> np.ndarray:
    """Press the page's export button, save the download to ``path``; (n, channels) float32."""
    with page.expect_download(timeout=WAIT_MS) as info:
        page.get_by_test_id("export-edit").click()
    download = info.value
    assert download.suggested_filename.endswith(".wav"), download.suggested_filename
    download.save_as(path)
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == SR
    return np.asarray(y)


def relative_error(y: np.ndarray, reference: np.ndarray) -> float:
    return float(np.linalg.norm(y - reference) / np.linalg.norm(reference))


def center(page: Page, testid: str) -> tuple[float, float]:
    box = page.get_by_test_id(testid).bounding_box()
    assert box is not None, f"{testid} is not on the page"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


# --- fixtures -----------------------------------------------------------------------------------

Say = Callable[[str], None]


@pytest.fixture
def say(capsys: pytest.CaptureFixture[str]) -> Say:
    """Print past pytest's capture: the measured figures must show in the run's output."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    return write


@pytest.fixture(scope="module")
def loop_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("loops") / "e2e-loop.wav"
    sf.write(path, make_loop().T, SR, subtype="PCM_16")
    return path


def open_page(context: BrowserContext, server: Server) -> Iterator[Page]:
    """A page of the studio with the analyser tap, open and connected; no uncaught errors."""
    errors: list[str] = []
    try:
        context.add_init_script(ANALYSER_TAP)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url)
        wait_open(page)
        yield page
    finally:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield from open_page(context, server)


@pytest.fixture
def phone(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        has_touch=True,
        is_mobile=True,
    )
    yield from open_page(context, server)


# --- tests --------------------------------------------------------------------------------------


def test_studio_flow(page: Page, loop_wav: Path, artifacts: Path, say: Say) -> None:
    """Upload, split into 4, solo, swap by dragging, keep in the library, reload, export."""
    shot(page, artifacts, "01-loaded")
    assert state(page)["units"] == 0

    upload(page, loop_wav)
    shot(page, artifacts, "02-uploaded")

    region = choose_first_bar(page, typed_bpm=f"{BPM:g}")
    shot(page, artifacts, "03-region")

    decompose(page, K)
    shot(page, artifacts, "04-decomposed")
    analysers = page.evaluate("window.__e2eAnalysers.count()")
    assert analysers == 1, f"expected one AnalyserNode (the meter), found {analysers}"

    # nothing plays yet: the meter reads silence
    page.evaluate("window.residue.resetMeter()")
    assert page.evaluate("window.residue.rms()") < 1e-4

    # solo unit 1: the edit plays with only unit 1 audible, and the meter hears it
    page.get_by_test_id("unit-solo-0").click()
    expect(page.get_by_test_id("unit-solo-0")).to_have_attribute("aria-pressed", "true")
    wait_sounding(page)
    peak = wait_level(page)
    s = state(page)
    assert s["solo"] == 0 and s["playing"]["status"] == "playing"
    shot(page, artifacts, "05-solo-unit-1")
    loop_ms = (region["end_s"] - region["start_s"]) * 1000
    before = capture(page, loop_ms)
    again = capture(page, loop_ms)
    same = spectral_distance(before, again)
    assert same < 0.25, f"the same sound measured twice should match (distance {same:.3f})"

    # swap units 1 and 2: drag unit 1's handle onto unit 2 with the mouse
    page.evaluate("window.residue.resetMeter()")
    page.mouse.move(*center(page, "unit-handle-0"))
    page.mouse.down()
    page.mouse.move(*center(page, "swap-target-1"), steps=12)
    # the row under the pointer shows that it will take the drop
    expect(page.get_by_test_id("unit-1")).to_have_class(re.compile(r"\bdrop-over\b"))
    shot(page, artifacts, "06-dragging")
    page.mouse.up()
    expect(page.get_by_test_id("unit-0")).to_contain_text("plays unit 2")
    expect(page.get_by_test_id("unit-1")).to_contain_text("plays unit 1")
    expect(page.get_by_test_id("toast-info").last).to_contain_text("Swapped unit 1")
    s = state(page)
    assert s["edited"] and s["canUndo"] and s["solo"] == 0
    # the edit that plays follows the swap: wait for its first sound, then listen again
    wait_sounding(page)
    wait_level(page)
    after = capture(page, loop_ms)
    shot(page, artifacts, "07-swapped")
    changed = spectral_distance(before, after)
    say(
        f"\nswap: spectral distance {changed:.3f} (same sound twice: {same:.3f}); "
        f"level {level_db(before):.1f} dB -> {level_db(after):.1f} dB; solo peak RMS {peak:.3f}"
    )
    assert changed > max(0.3, 4 * same), (
        f"unit 1 sounds the same after the swap (distance {changed:.3f}, noise {same:.3f})"
    )

    # keep unit 1 (now playing unit 2's sound) in the library under a name
    page.get_by_test_id("transport-play").click()  # stop
    page.wait_for_function("() => window.residue.state().playing === null", timeout=WAIT_MS)
    name = f"e2e kept {uuid.uuid4().hex[:6]}"
    page.get_by_test_id("unit-select-0").click()
    page.get_by_test_id("save-name").fill(name)
    page.get_by_test_id("save-tags").fill("e2e drums")
    page.get_by_test_id("save-button").click()
    item = page.locator(f"[data-testid=library-item][data-name='{name}']")
    expect(item).to_be_visible(timeout=WAIT_MS)
    expect(item).to_contain_text("e2e")
    shot(page, artifacts, "08-kept")

    # export the edit (the swap, without the solo) as a WAV of the region
    edited = export_edit(page, artifacts / "export-edit.wav")
    shot(page, artifacts, "09-exported")
    start = round(region["start_s"] * SR)
    stop = min(round(region["end_s"] * SR), LOOP_SAMPLES)
    assert stop - start == round(BAR_S * SR)
    assert edited.shape == (stop - start, 2), (
        f"exported {edited.shape}, the region is {stop - start} samples"
    )
    assert float(np.sqrt(np.mean(edited**2))) > SOUND_RMS
    original = make_loop()[:, start:stop].T
    # the export carries the swap; with the swap undone it is the original region again
    page.get_by_test_id("undo").click()
    expect(page.get_by_test_id("unit-0")).not_to_contain_text("plays unit")
    unedited = export_edit(page, artifacts / "export-unedited.wav")
    assert unedited.shape == edited.shape
    error_edited = relative_error(edited, original)
    error_unedited = relative_error(unedited, original)
    say(
        f"export: relative difference to the original region {error_edited:.3f} with the swap, "
        f"{error_unedited:.4f} without"
    )
    assert error_unedited < 0.02, f"the unedited export is not the region ({error_unedited:.3f})"
    assert error_edited > 0.2, f"the export does not carry the swap ({error_edited:.3f})"
    page.get_by_test_id("redo").click()
    expect(page.get_by_test_id("unit-0")).to_contain_text("plays unit 2")

    # the library survives a reload
    page.reload()
    wait_open(page)
    item = page.locator(f"[data-testid=library-item][data-name='{name}']")
    expect(item).to_be_visible(timeout=WAIT_MS)
    expect(item.locator(".tag")).to_have_text(["e2e", "drums"])
    assert state(page)["library"] >= 1
    shot(page, artifacts, "10-reloaded-library")


def test_click_to_sound_latency(page: Page, loop_wav: Path, artifacts: Path, say: Say) -> None:
    """Play a unit of a cached decomposition 20 times; print click-to-first-sound p50 and p95."""
    upload(page, loop_wav)
    choose_first_bar(page)
    decompose(page, K)
    idle = "() => window.residue.state().playing === null"

    def click_to_sound(unit: int) -> float:
        """Play ``unit``, hear it, stop it; the click-to-sound time of that play."""
        play = page.get_by_test_id(f"unit-play-{unit}")
        page.evaluate("window.residue.resetMeter()")
        play.click()
        ms = wait_sounding(page)
        wait_level(page)
        play.click()
        page.wait_for_function(idle, timeout=WAIT_MS)
        return ms

    # the first play of each unit renders it on the server; later ones start from the worker's
    # cache of rendered clips
    first = [click_to_sound(unit) for unit in range(K)]
    times = [click_to_sound(0) for _ in range(LATENCY_CLICKS)]
    shot(page, artifacts, "11-latency")
    p50, p95 = np.percentile(times, [50, 95])
    say(f"\nclick-to-sound p50: {p50:.0f} ms")
    say(f"click-to-sound p95: {p95:.0f} ms")
    say(
        f"click-to-sound, first play of each unit (rendered by the server): "
        f"{', '.join(f'{t:.0f}' for t in first)} ms"
    )
    assert len(times) == LATENCY_CLICKS and all(t >= 0 for t in times)


def test_phone_width(phone: Page, loop_wav: Path, artifacts: Path) -> None:
    """At 390x844 with touch: one column, no sideways scroll, big targets, sound plays."""
    page = phone
    no_horizontal_scroll(page)
    shot(page, artifacts, "20-phone-loaded")

    upload(page, loop_wav)
    no_horizontal_scroll(page)
    set_k(page, K)
    page.get_by_test_id("decompose-button").tap()
    expect(page.get_by_test_id(f"unit-{K - 1}")).to_be_visible(timeout=DECOMPOSE_MS)
    assert state(page)["units"] == K
    no_horizontal_scroll(page)
    shot(page, artifacts, "21-phone-decomposed", full_page=True)

    targets = [
        "decompose-button",
        "unit-play-0",
        "unit-solo-0",
        "unit-mute-0",
        "unit-handle-0",
        "export-edit",
        "save-button",
        "transport-play",
        "loop-toggle",
        "undo",
    ]
    small = []
    for testid in targets:
        box = page.get_by_test_id(testid).bounding_box()
        assert box is not None, f"{testid} is not on the page"
        if box["width"] < MIN_TARGET_PX or box["height"] < MIN_TARGET_PX:
            small.append(f"{testid} {box['width']:.0f}x{box['height']:.0f}")
    add = page.locator("label[for=upload-input]").bounding_box()
    assert add is not None
    if add["height"] < MIN_TARGET_PX:
        small.append(f"add-sound {add['width']:.0f}x{add['height']:.0f}")
    assert small == [], f"touch targets under {MIN_TARGET_PX} px: {small}"

    # solo unit 1 with a tap: the meter hears it
    page.evaluate("window.residue.resetMeter()")
    page.get_by_test_id("unit-solo-0").tap()
    wait_sounding(page)
    wait_level(page)
    assert state(page)["solo"] == 0
    shot(page, artifacts, "22-phone-solo")

    # swap with two taps: pick unit 1's handle, then tap unit 2
    page.get_by_test_id("unit-handle-0").tap()
    expect(page.locator(".pick-banner")).to_be_visible()
    page.get_by_test_id("swap-target-1").tap()
    expect(page.get_by_test_id("unit-0")).to_contain_text("plays unit 2")
    assert state(page)["edited"]
    no_horizontal_scroll(page)
    shot(page, artifacts, "23-phone-swapped")

    # the library panel is reachable: scroll to it and keep the unit
    save = page.get_by_test_id("save-button")
    save.scroll_into_view_if_needed()
    expect(save).to_be_in_viewport()
    before = state(page)["library"]
    save.tap()
    page.wait_for_function(f"() => window.residue.state().library > {before}", timeout=WAIT_MS)
    expect(page.get_by_test_id("library-item").first).to_be_visible()
    no_horizontal_scroll(page)
    shot(page, artifacts, "24-phone-library")


def test_bad_upload_shows_error(page: Page, loop_wav: Path, artifacts: Path) -> None:
    """A file that is not audio: a clear toast, no new sound, and the page still works."""
    sounds = state(page)["sounds"]
    junk = FilePayload(name="not-audio.wav", mimeType="audio/wav", buffer=b"RIFF\x00junk" * 50)
    page.get_by_test_id("upload-input").set_input_files(files=[junk])
    toast = page.get_by_test_id("toast-error")
    expect(toast).to_be_visible(timeout=WAIT_MS)
    expect(toast).to_contain_text("not-audio.wav is not an audio file")
    text = toast.inner_text()
    reason = text.split("not-audio.wav is not an audio file", 1)[1].strip()
    assert len(reason) > 10, f"the error gives no reason: {text!r}"
    shot(page, artifacts, "30-bad-upload")
    assert state(page)["sounds"] == sounds
    expect(page.locator("[data-testid=sound-item][data-sound-name='not-audio.wav']")).to_have_count(
        0
    )

    # still usable: a good file goes in and plays
    upload(page, loop_wav)
    page.evaluate("window.residue.resetMeter()")
    page.get_by_test_id("transport-play").click()
    wait_sounding(page)
    wait_level(page)
    shot(page, artifacts, "31-after-bad-upload")


def test_delete_sound_leaves_every_tab(
    browser: Browser, server: Server, tmp_path: Path, artifacts: Path
) -> None:
    """Delete an uploaded sound after confirming: it leaves this tab's list and another tab's."""
    path = tmp_path / "to-delete.wav"
    sf.write(path, make_loop(seed=3).T[: SR * 2], SR, subtype="PCM_16")
    first_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    second_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        first = first_ctx.new_page()
        first.goto(server.url)
        wait_open(first)
        sound_id = upload(first, path)
        second = second_ctx.new_page()
        second.goto(server.url)
        wait_open(second)
        theirs = second.locator(f"[data-testid=sound-item][data-sound-id='{sound_id}']")
        expect(theirs).to_have_count(1, timeout=WAIT_MS)

        row = first.locator("li.sound-row").filter(
            has=first.locator(f"[data-sound-id='{sound_id}']")
        )
        row.get_by_test_id("sound-delete").click()
        shot(first, artifacts, "32-delete-sound-confirm")
        first.get_by_test_id("confirm-delete-sound").click()
        mine = first.locator(f"[data-testid=sound-item][data-sound-id='{sound_id}']")
        expect(mine).to_have_count(0, timeout=WAIT_MS)
        expect(theirs).to_have_count(0, timeout=WAIT_MS)
        # another sound is selected, and the demo loops are untouched
        assert state(first)["soundId"] not in (None, sound_id)
        assert state(second)["sounds"] == state(first)["sounds"] > 0
    finally:
        first_ctx.close()
        second_ctx.close()
