from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from residue.errors import ModelUnavailableError, ParameterError
from residue.models import basic_pitch as bp

MODEL = bp.wheel_model_path()
needs_model = pytest.mark.skipif(
    MODEL is None or not bp.availability().available,
    reason=f"Basic Pitch unavailable: {bp.availability().reason}",
)
SR = bp.SAMPLE_RATE


def harmonic(pitches: list[int], seconds: float, *, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(1.0, t / 0.01) * np.exp(-t * 0.8)
    y = sum(
        np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * h * t) / h
        for p in pitches for h in range(1, 7)
    )
    return (0.6 * env * y / np.abs(y).max()).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> bp.BasicPitch:
    if MODEL is None:
        pytest.skip("Basic Pitch's ONNX file is not installed")
    return bp.load(MODEL)


def test_model_file_is_found_without_importing_basic_pitch() -> None:
    import subprocess
    import sys

    if MODEL is None:
        pytest.skip("basic-pitch is not installed")
    assert MODEL.name == "nmp.onnx" and MODEL.is_file()
    code = ("import sys; from residue.models import basic_pitch as bp; bp.availability(); "
            "print('basic_pitch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    state = bp.availability()
    assert state.available and state.reason == "" and state.path == MODEL


def test_availability_says_why_not(tmp_path: Path) -> None:
    missing = bp.availability(tmp_path / "nope.onnx")
    assert not missing.available and "does not exist" in missing.reason
    # A models folder without the file falls back to the wheel's copy (or says it is absent).
    state = bp.availability(models_dir=tmp_path)
    assert state.available == (MODEL is not None)


def test_a_models_dir_copy_wins(tmp_path: Path) -> None:
    if MODEL is None:
        pytest.skip("basic-pitch is not installed")
    local = tmp_path / "basic_pitch" / "nmp.onnx"
    local.parent.mkdir()
    local.write_bytes(MODEL.read_bytes())
    assert bp.resolve_model_path(tmp_path) == local


def test_a_corrupt_model_is_unavailable(tmp_path: Path) -> None:
    bad = tmp_path / "nmp.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelUnavailableError, match="not a loadable ONNX model"):
        bp.BasicPitch(bad)
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        bp.BasicPitch(tmp_path / "absent.onnx")


@needs_model
def test_a_tone_becomes_its_note(model: bp.BasicPitch) -> None:
    seq = bp.transcribe(harmonic([69], 1.5), sr=SR, model=model)
    assert seq.name == "basic-pitch"
    # The model also hears some upper harmonics as short quiet notes; the tone is the main one.
    main = max(seq.notes, key=lambda n: n.duration_s * n.velocity)
    assert main.pitch == 69
    assert main.start_s < 0.1 and 1.0 < main.end_s < 1.6
    assert all(n.pitch == 69 or n.pitch - 69 in (12, 19, 24, 28, 31) for n in seq.notes)


@needs_model
@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_a_chord_at_another_rate(model: bp.BasicPitch, layout: str) -> None:
    y = harmonic([60, 64, 67], 1.5, sr=44_100)
    if layout == "stereo":
        y = np.stack([y, y])
    seq = bp.transcribe(y, sr=44_100, model=model)
    assert {60, 64, 67} <= {n.pitch for n in seq.notes}


@needs_model
def test_output_frames_match_the_audio_length(model: bp.BasicPitch) -> None:
    y = harmonic([57], 3.3)
    out = model.predict(y)
    n = int(np.floor(y.size * bp.FPS / SR))
    assert out.note.shape == (n, 88) and out.onset.shape == (n, 88)
    assert out.contour.shape == (n, 264)
    assert out.note.dtype == np.float32


@needs_model
def test_notes_match_basic_pitchs_own_note_creation(model: bp.BasicPitch) -> None:
    # Independent reference: Basic Pitch's note_creation on the same model output.
    logging.disable(logging.WARNING)
    try:
        nc = pytest.importorskip("basic_pitch.note_creation")
    finally:
        logging.disable(logging.NOTSET)
    y = np.concatenate([harmonic([60, 64, 67], 1.2), harmonic([62, 65, 69, 72], 1.5),
                        harmonic([55, 59], 1.0)])
    out = model.predict(y)
    _, ref_events = nc.model_output_to_notes(
        {"note": out.note, "onset": out.onset, "contour": out.contour},
        onset_thresh=0.5, frame_thresh=0.3, min_note_len=11,
    )
    seq = bp.notes_from_output(out)
    ref = sorted((round(float(e[0]), 6), round(float(e[1]), 6), int(e[2]),
                  max(1, round(127 * float(e[3])))) for e in ref_events)
    got = sorted((round(n.start_s, 6), round(n.end_s, 6), n.pitch, n.velocity) for n in seq.notes)
    assert got == ref
    bends_ref = {(round(float(e[0]), 6), int(e[2])): [b / 3 for b in e[4]] for e in ref_events}
    for n in seq.notes:
        want = bends_ref[(round(n.start_s, 6), n.pitch)]
        have = [b.semitones for b in n.bends] or [0.0] * len(want)
        np.testing.assert_allclose(have, want)
    np.testing.assert_allclose(bp.frames_to_times(500), nc.model_frames_to_time(500))


def test_melodia_search_equals_the_quadratic_one(rng: np.random.Generator) -> None:
    # The sorted-candidate search must give what repeated argmax over the matrix gives.
    frames = rng.random((300, 88)) ** 6
    onsets = np.zeros_like(frames)
    fast = bp.note_events(frames, onsets, options=bp.NoteOptions(infer_onsets=False))
    # Reference: Basic Pitch's loop, written out with np.argmax each time.
    remaining = frames.copy()
    ref = []
    thr, tol, min_len = 0.3, 11, 11
    n_frames = frames.shape[0]
    while remaining.max() > thr:
        i_mid, f = np.unravel_index(np.argmax(remaining), remaining.shape)
        remaining[i_mid, f] = 0
        i, k = i_mid + 1, 0
        while i < n_frames - 1 and k < tol:
            k = k + 1 if remaining[i, f] < thr else 0
            remaining[i, max(f - 1, 0) : f + 2] = 0
            i += 1
        i_end = i - 1 - k
        i, k = i_mid - 1, 0
        while i > 0 and k < tol:
            k = k + 1 if remaining[i, f] < thr else 0
            remaining[i, max(f - 1, 0) : f + 2] = 0
            i -= 1
        i_start = i + 1 + k
        if i_end - i_start > min_len:
            ref.append((int(i_start), int(i_end), int(f) + 21))
    assert [(a, b, p) for a, b, p, _ in fast] == ref


@needs_model
def test_silence_gives_no_notes_and_short_sounds_are_refused(model: bp.BasicPitch) -> None:
    assert len(bp.transcribe(np.zeros(SR, np.float32), sr=SR, model=model)) == 0
    with pytest.raises(ParameterError, match="basic-pitch backend needs at least 93 ms"):
        bp.transcribe(np.ones(1000, np.float32), sr=SR, model=model)


@needs_model
@pytest.mark.parametrize(
    ("options", "match"),
    [
        (bp.NoteOptions(onset_threshold=1.5), r"onset_threshold=1.5 must be in \[0, 1\]"),
        (bp.NoteOptions(frame_threshold=-0.1), r"frame_threshold=-0.1 must be in"),
        (bp.NoteOptions(energy_tolerance=0), r"energy_tolerance=0 must be in"),
        (bp.NoteOptions(min_freq_hz=0.0), r"min_freq_hz=0 must be in"),
    ],
)
def test_bad_note_options(model: bp.BasicPitch, options: bp.NoteOptions, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        bp.transcribe(harmonic([60], 0.5), sr=SR, model=model, options=options)


@needs_model
def test_frequency_limits_and_thresholds(model: bp.BasicPitch) -> None:
    y = harmonic([48, 72], 1.5)
    out = model.predict(y)
    both = {n.pitch for n in bp.notes_from_output(out).notes}
    assert {48, 72} <= both
    high = bp.notes_from_output(out, options=bp.NoteOptions(min_freq_hz=300.0))
    assert all(n.pitch >= 62 for n in high.notes) and 72 in {n.pitch for n in high.notes}
    none = bp.notes_from_output(out, options=bp.NoteOptions(onset_threshold=1.0,
                                                            frame_threshold=1.0))
    assert len(none) == 0
