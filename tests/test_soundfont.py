from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from residue.errors import LimitExceeded, ModelUnavailableError, ParameterError
from residue.models import soundfont as sfont

STATE = sfont.availability()
needs_fluidsynth = pytest.mark.skipif(not STATE.available, reason=STATE.reason or "available")


def small_font() -> sfont.SoundFont:
    # TimGM6mb loads in a fraction of FluidR3's time; either is fine.
    for font in STATE.fonts:
        if font.name == "TimGM6mb":
            return font
    return STATE.fonts[0]


def midi_bytes(notes: list[tuple[int, float, float]], *, program: int = 0) -> bytes:
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program)
    inst.notes = [pretty_midi.Note(100, p, s, e) for p, s, e in notes]
    pm.instruments.append(inst)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


@needs_fluidsynth
def test_fonts_are_found_preferred_first_and_once() -> None:
    names = [f.name for f in STATE.fonts]
    assert len(names) == len(set(names))
    assert len({f.path.resolve() for f in STATE.fonts}) == len(STATE.fonts)
    if "FluidR3_GM" in names:
        assert names[0] == "FluidR3_GM"
    assert sfont.choose_font(None) == STATE.fonts[0]


def test_extra_folders_are_searched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Mine.sf2").write_bytes(b"RIFF")
    (tmp_path / "TimGM6mb.sf2").write_bytes(b"RIFF")
    (tmp_path / "notes.txt").write_text("not a font")
    monkeypatch.setattr(sfont, "SYSTEM_FONT_DIRS", ())
    found = sfont.find_fonts([tmp_path])
    # Preferred GM fonts first, then the others; only .sf2/.sf3 files.
    assert [f.name for f in found] == ["TimGM6mb", "Mine"]


@needs_fluidsynth
def test_render_produces_audio() -> None:
    y = sfont.render_midi(midi_bytes([(60, 0.0, 0.5), (64, 0.5, 1.0)]), font=small_font(),
                          sr=22_050)
    assert y.dtype == np.float32 and y.shape[0] == 2
    # FluidSynth keeps rendering a few seconds of release and reverb after the last note.
    assert 1.0 * 22_050 <= y.shape[1] <= 8.0 * 22_050
    assert np.all(np.isfinite(y))
    level = np.sqrt(np.mean(y[:, : 22_050] ** 2))
    assert level > 1e-3
    # Spectral peak near middle C's harmonics in the first half second.
    spec = np.abs(np.fft.rfft(y[0, 2000:11000]))
    f = np.fft.rfftfreq(9000, 1 / 22_050)
    assert 200 < f[np.argmax(spec)] < 1100


@needs_fluidsynth
def test_programs_sound_different() -> None:
    notes = [(60, 0.0, 0.8)]
    piano = sfont.render_midi(midi_bytes(notes, program=0), font=small_font(), sr=22_050)
    flute = sfont.render_midi(midi_bytes(notes, program=73), font=small_font(), sr=22_050)
    n = min(piano.shape[1], flute.shape[1])
    assert not np.allclose(piano[:, :n], flute[:, :n], atol=1e-3)


def test_missing_binary_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sfont.shutil, "which", lambda name: None)
    state = sfont.availability()
    assert not state.available and "fluidsynth program is not installed" in state.reason
    with pytest.raises(ModelUnavailableError, match="fluidsynth"):
        sfont.choose_font(None)
    with pytest.raises(ModelUnavailableError, match="fluidsynth"):
        sfont.render_midi(b"MThd", font=sfont.SoundFont("x", Path("/x.sf2")))


def test_missing_fonts_are_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sfont, "SYSTEM_FONT_DIRS", (tmp_path,))
    monkeypatch.setattr(sfont.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    state = sfont.availability()
    assert not state.available and "no General MIDI SoundFont" in state.reason


@needs_fluidsynth
def test_unknown_font_name() -> None:
    with pytest.raises(ParameterError, match="soundfont='Nope' must be one of"):
        sfont.choose_font("Nope")


@needs_fluidsynth
def test_bad_midi_and_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="FluidSynth could not render"):
        sfont.render_midi(b"this is not midi", font=small_font())
    with pytest.raises(ParameterError, match=r"sr=100 must be in"):
        sfont.render_midi(midi_bytes([(60, 0.0, 0.1)]), font=small_font(), sr=100)


@needs_fluidsynth
def test_limits() -> None:
    long = midi_bytes([(60, 0.0, 30.0)])
    with pytest.raises(LimitExceeded, match="the limit is 5 s"):
        sfont.render_midi(long, font=small_font(), sr=8_000, max_duration_s=5.0)
    many = midi_bytes([(40 + i % 40, i * 0.05, i * 0.05 + 2.0) for i in range(12_000)])
    with pytest.raises(LimitExceeded, match="FluidSynth took longer than"):
        sfont.render_midi(many, font=STATE.fonts[0], sr=44_100, timeout_s=0.2)
