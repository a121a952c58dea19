from __future__ import annotations

import io
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from residue.config import Settings
from residue.dsp import synths
from residue.dsp.notes import CleanupOptions, make_note, sequence
from residue.dsp.tuning import just_intonation
from residue.errors import LimitExceeded, ModelUnavailableError, ParameterError
from residue.models import basic_pitch as bp
from residue.models import soundfont as sfont
from residue.services import transcription as svc

SR = 22_050
HAVE_BP = bp.availability().available
HAVE_SF = sfont.availability().available


def tones(pitches: list[int], *, each_s: float = 0.4, sr: int = SR) -> np.ndarray:
    """One harmonic tone per pitch, in sequence."""
    out = []
    for p in pitches:
        t = np.arange(int(each_s * sr)) / sr
        env = np.minimum(1.0, t / 0.005) * np.minimum(1.0, (each_s - t) / 0.02)
        f = 440.0 * 2 ** ((p - 69) / 12)
        out.append(env * sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 7)))
    y = np.concatenate([np.zeros(int(0.1 * sr)), *out, np.zeros(int(0.2 * sr))])
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def drums_audio(rng: np.random.Generator) -> np.ndarray:
    kit = sequence([make_note(k, 0.1 + 0.5 * i, 0.2 + 0.5 * i)
                    for i, k in enumerate([36, 38, 36, 38])], is_drum=True)
    return synths.render(kit, synth=synths.make_synth("fm"), sr=SR)


# --- backends ---------------------------------------------------------------------------------


def test_backends_are_listed_with_reasons() -> None:
    listing = {b.name: b for b in svc.backends()}
    assert set(listing) == set(svc.BACKENDS)
    assert listing["nmf"].available and listing["pyin"].available and listing["drums"].available
    assert listing["basic-pitch"].available == HAVE_BP
    assert listing["basic-pitch"].available or listing["basic-pitch"].reason
    assert svc.default_backend() == ("basic-pitch" if HAVE_BP else "nmf")


@pytest.mark.parametrize("backend", ["nmf", "pyin", *(["basic-pitch"] if HAVE_BP else [])])
def test_pitched_backends_find_a_melody(backend: str) -> None:
    # Basic Pitch hears the bright synthetic tones' upper harmonics as notes: a range keeps
    # them out (and checks that the range reaches each backend).
    opt = svc.TranscribeOptions(max_pitch=84)
    seq = svc.transcribe(tones([60, 67, 64]), sr=SR, backend=backend, options=opt)
    assert [n.pitch for n in seq.notes if n.duration_s > 0.2] == [60, 67, 64]


def test_drums_backend(rng: np.random.Generator) -> None:
    seq = svc.transcribe(drums_audio(rng), sr=SR, backend="drums")
    assert seq.is_drum
    assert [n.pitch for n in seq.notes if n.pitch in (36, 38)] == [36, 38, 36, 38]


@pytest.mark.parametrize("backend", svc.BACKENDS)
def test_silence_gives_an_empty_part(backend: str) -> None:
    if backend == "basic-pitch" and not HAVE_BP:
        pytest.skip(bp.availability().reason)
    seq = svc.transcribe(np.zeros((2, SR), np.float32), sr=SR, backend=backend)
    assert len(seq) == 0


@pytest.mark.parametrize("backend", svc.BACKENDS)
def test_too_short_for_the_window(backend: str) -> None:
    if backend == "basic-pitch" and not HAVE_BP:
        pytest.skip(bp.availability().reason)
    with pytest.raises(ParameterError, match=f"the {backend} backend needs at least"):
        svc.transcribe(np.full(200, 0.1, np.float32), sr=SR, backend=backend)


def test_unknown_backend_and_options() -> None:
    with pytest.raises(ParameterError, match="backend='crepe' must be one of"):
        svc.transcribe(tones([60]), sr=SR, backend="crepe")
    with pytest.raises(ParameterError, match=r"unknown transcription option\(s\) \['wobble'\]"):
        svc.TranscribeOptions.from_dict({"wobble": 1})
    with pytest.raises(ParameterError, match=r"max_pitch=50 must be in \[60, 127\]"):
        svc.transcribe(tones([60]), sr=SR, backend="nmf",
                       options=svc.TranscribeOptions(min_pitch=60, max_pitch=50))


def test_missing_model_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bp, "wheel_model_path", lambda: None)
    with pytest.raises(ModelUnavailableError, match="basic-pitch is unavailable"):
        svc.transcribe(tones([60]), sr=SR, backend="basic-pitch")
    assert svc.default_backend() == "nmf"


def test_options_reach_the_backend_and_the_cleanup() -> None:
    y = tones([48, 60, 72, 60])
    opt = svc.TranscribeOptions.from_dict({"min_pitch": 55, "max_pitch": 70,
                                           "merge_gap_s": 0.5})
    seq = svc.transcribe(y, sr=SR, backend="nmf", options=opt)
    # The range drops 48 and 72; merging joins the two 60s across the 72's gap.
    assert [n.pitch for n in seq.notes] == [60]
    assert seq.notes[0].duration_s > 1.0


def test_quantize_with_tempo_from_the_audio() -> None:
    seq = svc.transcribe(tones([60, 62, 64, 65, 67, 69], each_s=0.5), sr=SR, backend="pyin",
                         options=svc.TranscribeOptions(cleanup=CleanupOptions(quantize=True)))
    assert seq.tempo_bpm is not None
    step = 60.0 / seq.tempo_bpm / 4
    phase = [(n.start_s / step) % 1.0 for n in seq.notes]
    offsets = np.array(phase) - phase[0]
    np.testing.assert_allclose(np.minimum(offsets % 1.0, 1 - offsets % 1.0), 0.0, atol=1e-6)


def test_note_limit() -> None:
    with pytest.raises(LimitExceeded, match="the limit is 2"):
        svc.transcribe(tones([60, 62, 64, 65]), sr=SR, backend="nmf",
                       options=svc.TranscribeOptions(max_notes=2))


# --- MIDI files -------------------------------------------------------------------------------


def test_midi_round_trip_keeps_notes_bends_and_parts() -> None:
    lead = sequence([
        make_note(60, 0.0, 0.5, velocity=90),
        make_note(64, 0.25, 1.0, velocity=70, bends=[(0.0, 0.0), (0.3, 0.5), (0.6, -0.25)]),
        make_note(67, 0.5, 1.5, velocity=100, bends=[(0.0, 1.0)]),
    ], program=81, name="lead")
    drums = sequence([make_note(36, 0.0, 0.1), make_note(42, 0.5, 0.6)], is_drum=True,
                     name="drums")
    parts = svc.from_midi(svc.to_midi([lead, drums], tempo_bpm=100.0))
    by_name = {p.name: p for p in parts}
    assert set(by_name) == {"lead", "drums"}
    back, kit = by_name["lead"], by_name["drums"]
    assert kit.is_drum and [n.pitch for n in kit.notes] == [36, 42]
    assert back.program == 81 and back.tempo_bpm == pytest.approx(100.0)
    assert [(n.pitch, n.velocity) for n in back.notes] == [(60, 90), (64, 70), (67, 100)]
    for a, b in zip(lead.notes, back.notes, strict=True):
        assert abs(a.start_s - b.start_s) < 1e-3 and abs(a.end_s - b.end_s) < 1e-3
        for t in (0.0, 0.2, 0.35, 0.7):
            if t < a.duration_s:
                # 14-bit bends at +-2 semitones: within 1/4096 semitone.
                assert abs(a.pitch_curve(np.array([t]))[0] - b.pitch_curve(np.array([t]))[0]) \
                    < 1e-3


def test_overlapping_bends_get_their_own_channels() -> None:
    notes = [make_note(60 + i, 0.0, 1.0, bends=[(0.0, 0.1 * i)]) for i in range(5)]
    data = svc.to_midi(sequence(notes))
    mid = mido.MidiFile(file=io.BytesIO(data))
    channels_of_notes = {m.channel for t in mid.tracks for m in t if m.type == "note_on"}
    assert len(channels_of_notes) == 5
    # Each used channel sets its bend range by RPN 0 in order: 101, 100, 6, 38.
    for track in mid.tracks:
        ccs = [(m.control, m.value) for m in track if m.type == "control_change"]
        if any(m.type == "note_on" for m in track):
            assert ccs[:4] == [(101, 0), (100, 0), (6, 2), (38, 0)]


def test_notes_sharing_a_bend_share_a_channel() -> None:
    # A just-intonation chord: each note has its own constant offset (0, -13.7, +2 cents), so
    # three channels; the chord repeated later reuses them, as does a C an octave up.
    chord = [make_note(p, t, t + 0.5) for t in (0.0, 1.0) for p in (60, 64, 67)]
    chord.append(make_note(72, 0.2, 0.4))
    data = svc.to_midi(sequence(chord), tuning=just_intonation())
    mid = mido.MidiFile(file=io.BytesIO(data))
    used = {m.channel for t in mid.tracks for m in t if m.type == "note_on"}
    assert len(used) == 3
    parts = svc.from_midi(data)
    pitches = sorted({round(float(n.pitch_curve(np.array([0.1]))[0]), 2) for p in parts
                      for n in p.notes})
    assert pitches == [60.0, 63.86, 67.02, 72.0]


def test_tuned_export_plays_back_retuned() -> None:
    seq = sequence([make_note(64, 0.0, 1.0)])
    back = svc.from_midi(svc.to_midi(seq, tuning=just_intonation()))
    (note,) = back[0].notes
    sounding = note.pitch + note.center_bend()
    assert sounding == pytest.approx(64 - 0.13686, abs=1e-3)


def test_bad_midi_is_refused() -> None:
    with pytest.raises(ParameterError, match="not a MIDI file"):
        svc.from_midi(b"RIFF....WAVEfmt ")
    with pytest.raises(ParameterError, match="empty"):
        svc.from_midi(b"")
    with pytest.raises(ParameterError, match="not a MIDI file"):
        svc.from_midi(svc.to_midi(sequence([make_note(60, 0.0, 1.0)]))[:30])


def test_too_many_notes_is_refused() -> None:
    track = mido.MidiTrack()
    for _ in range(svc.DEFAULT_MAX_NOTES + 1):
        track.append(mido.Message("note_on", note=60, velocity=64, time=0))
        track.append(mido.Message("note_off", note=60, velocity=0, time=1))
    mid = mido.MidiFile()
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    with pytest.raises(LimitExceeded, match="20001 notes; the limit is 20000"):
        svc.from_midi(buf.getvalue())


# --- rendering --------------------------------------------------------------------------------


@pytest.mark.parametrize("synth", ["additive", "subtractive", "fm"])
def test_render_built_in(synth: str) -> None:
    y = svc.render(sequence([make_note(60, 0.0, 0.5)]), synth=synth, sr=SR, tuning="19-edo")
    assert y.shape[0] == 1 and y.dtype == np.float32 and 0 < np.abs(y).max() <= 1


def test_render_sampler_needs_an_instrument() -> None:
    seq = sequence([make_note(60, 0.0, 0.5)])
    with pytest.raises(ParameterError, match="needs an instrument"):
        svc.render(seq, synth="sampler")
    w = np.zeros(1025)
    w[[10, 20, 30]] = 1.0
    y = svc.render(seq, synth="sampler", sr=SR,
                   instrument=synths.sampler_from_spectrum(w, sr=44_100))
    assert np.abs(y).max() > 0


@pytest.mark.parametrize(
    ("kwargs", "match", "error"),
    [
        ({"synth": "organ"}, "synth='organ' must be one of", ParameterError),
        ({"program": 200}, r"program=200 must be in \[0, 127\]", ParameterError),
        ({"tuning": "wonky"}, "tuning='wonky' must be one of", ParameterError),
        ({"preset": "nope"}, "preset='nope' must be one of", ParameterError),
        ({"max_duration_s": 0.5}, "the limit is 0 s|the limit is 1 s", LimitExceeded),
    ],
)
def test_render_rejects(kwargs: dict[str, object], match: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=match):
        svc.render(sequence([make_note(60, 0.0, 2.0)]), **kwargs)  # type: ignore[arg-type]


@pytest.mark.skipif(not HAVE_SF, reason=sfont.availability().reason or "available")
def test_render_soundfont_in_just_intonation() -> None:
    y = svc.render(sequence([make_note(64, 0.0, 1.0)], program=73), synth="soundfont",
                   tuning="just", sr=SR, soundfont=None)
    assert y.shape[0] == 2 and np.abs(y).max() > 0.01
    spec = np.abs(np.fft.rfft(y[0, 2000:20000], n=1 << 16))
    peak = np.argmax(spec) * SR / (1 << 16)
    # A flute plays mostly its fundamental: the JI major third of C4, 327.0 Hz (12-TET: 329.6).
    assert abs(peak - 327.03) < 1.2


def test_render_choices() -> None:
    choices = svc.render_choices()
    assert set(choices.synths) == {"additive", "subtractive", "fm", "sampler"}
    assert len(choices.programs) == 128 and choices.programs[0] == "Acoustic Grand Piano"
    assert choices.soundfont_available == HAVE_SF


# --- command line -----------------------------------------------------------------------------


def test_cli_transcribe_then_render(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    wav = tmp_path / "in.wav"
    sf.write(wav, tones([57, 64, 69]), SR)
    result = svc.run_transcribe_cli(wav, "nmf", tmp_path / "out" / "in.mid", settings=settings)
    assert result.out.is_file() and result.backend == "nmf" and result.n_notes >= 3
    parts = svc.from_midi(result.out.read_bytes())
    assert [n.pitch for n in parts[0].notes if n.duration_s > 0.2] == [57, 64, 69]
    out = svc.run_render_cli(result.out, "fm", tmp_path / "out.wav", preset="bell",
                             tuning="24-tet", mapping="keyboard", sr=SR, settings=settings)
    y, sr = sf.read(out)
    assert sr == SR and y.size > SR and np.abs(y).max() > 0
    sample = svc.run_render_cli(result.out, "sampler", tmp_path / "s.wav", sample=wav,
                                sr=SR, settings=settings)
    assert sample.is_file()
    with pytest.raises(ParameterError, match="--synth sampler needs --sample"):
        svc.run_render_cli(result.out, "sampler", tmp_path / "x.wav", settings=settings)
    with pytest.raises(ParameterError, match="is not a file"):
        svc.run_render_cli(tmp_path / "absent.mid", "fm", tmp_path / "x.wav", settings=settings)


def test_wide_bend_range_round_trip() -> None:
    # A 5-semitone scoop needs more than the default +-2: RPN writes 12, the reader honours it.
    note = make_note(60, 0.0, 1.0, bends=[(0.0, -5.0), (0.5, 0.0)])
    (part,) = svc.from_midi(svc.to_midi(sequence([note]), bend_range=12.0))
    (back,) = part.notes
    assert back.pitch == 60
    np.testing.assert_allclose(back.pitch_curve(np.array([0.0, 0.6])), [55.0, 60.0], atol=2e-3)
    # With the default range the scoop is re-keyed (and clipped) rather than lost.
    (part,) = svc.from_midi(svc.to_midi(sequence([note])))
    assert part.notes[0].pitch in (57, 58)
