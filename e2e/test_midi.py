"""The MIDI room end to end: Debian's Chromium against the real server.

A person opens the MIDI room, transcribes a demo loop, sees the notes on the piano roll, selects,
deletes, moves and draws notes with the pointer (mouse on a desktop, taps on a phone), renders them
with a synth and hears it (the page's AnalyserNode, read through ``window.residue``), exports .mid
and WAV (parsed here) and keeps the render as a new sound. Screenshots go to
``e2e/artifacts/4N-midi-*.png``.

``window.residueMidi`` is the room's read-only hook: its state and each note's box on screen.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import pytest
import soundfile as sf
from conftest import Server, wait_studio
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.e2e

WAIT_MS = 30_000
#: Peak RMS (full scale 1) above which we say "sound played"; silence reads 0.
SOUND_RMS = 0.01
MIN_TARGET_PX = 44


def midi_state(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("window.residueMidi.state()")
    return result


def boxes(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate("window.residueMidi.noteBoxes()")
    return result


def shot(page: Page, artifacts: Path, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=full_page)


def open_midi_room(page: Page, server: Server) -> None:
    page.goto(server.url)
    wait_studio(page, WAIT_MS)
    page.get_by_test_id("room-midi").click()
    expect(page.get_by_test_id("midi-room")).to_be_visible()
    expect(page.get_by_test_id("transport-play")).to_be_hidden()  # the studio's bar is away
    page.wait_for_function("window.residueMidi.state().choicesLoaded", timeout=WAIT_MS)


def transcribe(page: Page, source: str, backend: str | None = None) -> int:
    page.get_by_test_id("midi-source").select_option(label=source)
    if backend is not None:
        page.get_by_test_id("midi-backend").select_option(backend)
    page.get_by_test_id("midi-transcribe").click()
    page.wait_for_function(
        "() => { const s = window.residueMidi.state(); return s.job === null && s.notes > 0 }",
        timeout=WAIT_MS,
    )
    notes: int = midi_state(page)["notes"]
    return notes


def heard(page: Page, button: str) -> float:
    """Click ``button``, wait for sound, return the peak RMS the page's meter saw."""
    page.evaluate("window.residue.resetMeter()")
    page.get_by_test_id(button).click()
    page.wait_for_function(
        f"window.residue.peakRms() > {SOUND_RMS}", timeout=WAIT_MS, polling=50
    )
    peak: float = page.evaluate("window.residue.peakRms()")
    return peak


def stop(page: Page) -> None:
    page.get_by_test_id("midi-stop").click()
    page.wait_for_function("window.residueMidi.state().playing === null", timeout=WAIT_MS)


def inside_roll(page: Page, box: dict[str, Any]) -> bool:
    roll = page.get_by_test_id("piano-roll").bounding_box()
    assert roll is not None
    return bool(
        roll["x"] <= box["x"] <= roll["x"] + roll["width"]
        and roll["y"] <= box["y"] <= roll["y"] + roll["height"]
    )


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True, accept_downloads=True,
    )
    yield ctx
    ctx.close()


def test_transcribe_edit_render_export_keep(
    server: Server, desktop: BrowserContext, artifacts: Path
) -> None:
    page = desktop.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_midi_room(page, server)
    n = transcribe(page, "demo chords")
    shot(page, artifacts, "40-midi-transcribed")
    found = boxes(page)
    assert len(found) == n >= 8
    assert all(inside_roll(page, b) for b in found)  # the whole loop fits the roll
    expect(page.get_by_test_id("midi-origin")).to_contain_text(f"{n} notes")

    # select a note with the mouse and delete it with the keyboard; undo and redo
    target = found[len(found) // 2]
    page.mouse.click(target["x"], target["y"])
    assert midi_state(page)["selected"] == [target["id"]]
    expect(page.get_by_test_id("roll-info")).to_contain_text("velocity")
    page.keyboard.press("Delete")
    assert midi_state(page)["notes"] == n - 1
    assert target["id"] not in {b["id"] for b in boxes(page)}
    shot(page, artifacts, "41-midi-deleted")
    page.get_by_test_id("midi-undo").click()
    assert midi_state(page)["notes"] == n
    page.get_by_test_id("midi-redo").click()
    assert midi_state(page)["notes"] == n - 1

    # drag a note up two semitones (and a little later)
    b = boxes(page)[0]
    page.mouse.move(b["x"], b["y"])
    page.mouse.down()
    page.mouse.move(b["x"] + 20, b["y"] - 2 * b["h"], steps=6)
    page.mouse.up()
    moved = next(x for x in boxes(page) if x["id"] == b["id"])
    assert moved["pitch"] == b["pitch"] + 2 and moved["start"] > b["start"]

    # draw a note on an empty row with the Draw tool
    page.get_by_test_id("midi-tool-draw").click()
    roll = page.get_by_test_id("piano-roll").bounding_box()
    assert roll is not None
    top_row_y = roll["y"] + 3
    page.mouse.move(roll["x"] + roll["width"] * 0.5, top_row_y)
    page.mouse.down()
    page.mouse.move(roll["x"] + roll["width"] * 0.6, top_row_y, steps=4)
    page.mouse.up()
    assert midi_state(page)["notes"] == n
    drawn = next(x for x in boxes(page) if x["selected"])  # a drawn note is selected
    assert drawn["pitch"] == max(x["pitch"] for x in boxes(page))
    assert drawn["end"] - drawn["start"] >= 0.1
    page.get_by_test_id("midi-tool-select").click()

    # render with a synth and preset: sound plays
    page.get_by_test_id("midi-synth").select_option("fm")
    page.get_by_test_id("midi-preset").select_option("epiano")
    peak = heard(page, "midi-play-render")
    assert midi_state(page)["playing"]["kind"] == "render"
    shot(page, artifacts, "42-midi-playing")
    stop(page)
    assert peak > SOUND_RMS

    # export .mid: the file parses and holds the edited notes
    with page.expect_download() as dl:
        page.get_by_test_id("midi-export-mid").click()
    mid = Path(dl.value.path()).read_bytes()
    assert dl.value.suggested_filename.endswith(".mid")
    pm = pretty_midi.PrettyMIDI(io.BytesIO(mid))
    written = sorted(note.pitch for inst in pm.instruments for note in inst.notes)
    assert written == sorted(x["pitch"] for x in boxes(page))

    # export the rendered WAV
    with page.expect_download() as dl:
        page.get_by_test_id("midi-export-wav").click()
    y, sr = sf.read(dl.value.path(), dtype="float32")
    assert sr == 44100 and float(np.sqrt(np.mean(y**2))) > SOUND_RMS

    # keep the render as a new sound: the studio lists it
    sounds_before = page.evaluate("window.residue.state().sounds")
    page.get_by_test_id("midi-save-name").fill("chords as epiano")
    page.get_by_test_id("midi-save").click()
    expect(page.get_by_test_id("toast-info").filter(has_text="chords as epiano")).to_be_visible(
        timeout=WAIT_MS
    )
    page.wait_for_function(f"window.residue.state().sounds === {sounds_before + 1}")
    page.get_by_test_id("room-studio").click()
    expect(page.get_by_test_id("sound-item").filter(has_text="chords as epiano")).to_be_visible()
    shot(page, artifacts, "43-midi-kept-in-studio")
    assert errors == []


def test_tunings_soundfont_sampler_and_both(
    server: Server, desktop: BrowserContext, artifacts: Path
) -> None:
    page = desktop.new_page()
    open_midi_room(page, server)
    transcribe(page, "demo bass", backend="nmf")
    # the source and the notes together, in quarter tones
    page.get_by_test_id("midi-tuning").select_option("24-tet")
    assert heard(page, "midi-play-both") > SOUND_RMS
    assert midi_state(page)["playing"]["kind"] == "both"
    stop(page)
    page.get_by_test_id("midi-tuning").select_option("edo")
    page.get_by_test_id("midi-edo").fill("19")
    page.get_by_test_id("midi-edo").press("Enter")
    assert heard(page, "midi-play-render") > SOUND_RMS
    stop(page)
    # the sampler plays a sound as its instrument
    page.get_by_test_id("midi-synth").select_option("sampler")
    page.get_by_test_id("midi-instrument").select_option(label="demo pad")
    assert heard(page, "midi-play-render") > SOUND_RMS
    stop(page)
    # General MIDI through FluidSynth when a SoundFont is installed, else shown disabled with why
    font = page.locator("[data-testid=midi-synth] option[value=soundfont]")
    if font.is_disabled():
        expect(page.get_by_test_id("midi-synth-note")).to_contain_text("unavailable")
    else:
        page.get_by_test_id("midi-synth").select_option("soundfont")
        page.get_by_test_id("midi-program").select_option("33")  # fingered bass
        assert heard(page, "midi-play-render") > SOUND_RMS
        stop(page)
    shot(page, artifacts, "44-midi-sound-choices")


def test_a_file_that_is_not_midi_then_a_midi_file(
    server: Server, desktop: BrowserContext, artifacts: Path, tmp_path: Path
) -> None:
    page = desktop.new_page()
    open_midi_room(page, server)
    bad = tmp_path / "song.mid"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt this is not a midi file")
    page.get_by_test_id("midi-import-input").set_input_files(str(bad))
    expect(page.get_by_test_id("toast-error").filter(has_text="not a MIDI file")).to_be_visible(
        timeout=WAIT_MS
    )
    shot(page, artifacts, "45-midi-bad-file")
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(90, p, 0.3 * i, 0.3 * i + 0.25) for i, p in enumerate(
        [60, 62, 64, 65, 67, 69, 71, 72])]
    pm.instruments.append(inst)
    good = tmp_path / "scale.mid"
    pm.write(str(good))
    page.get_by_test_id("midi-import-input").set_input_files(str(good))
    page.wait_for_function("window.residueMidi.state().notes === 8", timeout=WAIT_MS)
    assert [b["pitch"] for b in boxes(page)] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert heard(page, "midi-play-render") > SOUND_RMS
    stop(page)


def test_to_midi_from_a_unit_on_a_phone(
    server: Server, phone: BrowserContext, artifacts: Path
) -> None:
    page = phone.new_page()
    page.goto(server.url)
    wait_studio(page, WAIT_MS)
    page.locator("[data-testid=sound-item]").filter(has_text="demo bass").first.tap()
    page.get_by_test_id("decompose-button").tap()
    to_midi = page.get_by_test_id("unit-to-midi-0")
    expect(to_midi).to_be_visible(timeout=90_000)
    to_midi.tap()
    expect(page.get_by_test_id("midi-room")).to_be_visible()
    page.wait_for_function(
        "() => { const s = window.residueMidi.state(); return s.job === null"
        " && s.source !== null && s.source.includes('unit 1') }",
        timeout=WAIT_MS,
    )
    page.wait_for_function("window.residueMidi.state().notes > 0", timeout=WAIT_MS)
    shot(page, artifacts, "46-midi-phone-unit", full_page=True)
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways: {width}"
    small = page.evaluate(
        """() => [...document.querySelectorAll(
             '[data-testid=midi-room] button, [data-testid=midi-room] select, .rooms button')]
           .filter((e) => e.offsetParent !== null)
           .map((e) => { const r = e.getBoundingClientRect();
                         return [e.dataset.testid || e.textContent.trim(), r.width, r.height]; })
           .filter(([, w, h]) => w < 44 || h < 44)"""
    )
    assert small == [], f"touch targets under {MIN_TARGET_PX} px: {small}"
    # tap a note, delete it with the button, hear the rest
    n = midi_state(page)["notes"]
    page.get_by_test_id("piano-roll").scroll_into_view_if_needed()
    b = boxes(page)[0]
    page.touchscreen.tap(b["x"], b["y"])
    assert midi_state(page)["selected"] == [b["id"]]
    page.get_by_test_id("midi-delete").tap()
    assert midi_state(page)["notes"] == n - 1
    if n > 1:
        page.evaluate("window.residue.resetMeter()")
        page.get_by_test_id("midi-play-render").tap()
        page.wait_for_function(f"window.residue.peakRms() > {SOUND_RMS}", timeout=WAIT_MS)
        shot(page, artifacts, "47-midi-phone-playing")
        page.get_by_test_id("midi-stop").tap()
