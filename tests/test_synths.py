from __future__ import annotations

import numpy as np
import pytest

from residue.dsp import synths
from residue.dsp.notes import make_note, sequence
from residue.dsp.tuning import equal_temperament, just_intonation, pitch_to_hz
from residue.errors import LimitExceeded, ParameterError

SR = 22_050
BUILT_IN = [(name, preset) for name, ps in synths.presets().items() for preset in ps]


def peak_hz(y: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size), n=1 << 17))
    return float(np.argmax(spec) * sr / (1 << 17))


def centroid(y: np.ndarray, sr: int = SR) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    f = np.fft.rfftfreq(y.size, 1 / sr)
    return float((spec * f).sum() / spec.sum())


def harmonic_spectrum(
    f0: float, *, centre_hz: float, n_bins: int = 1025, sr: int = 44_100
) -> np.ndarray:
    """A comb at f0 with a Gaussian envelope (in log frequency) around centre_hz."""
    np.linspace(0, sr / 2, n_bins)
    S = np.zeros(n_bins)
    for h in range(1, int(sr / 2 / f0)):
        k = round(h * f0 / (sr / 2) * (n_bins - 1))
        S[k] += np.exp(-0.5 * (np.log2(h * f0 / centre_hz) / 0.5) ** 2)
    return S


@pytest.mark.parametrize(("name", "preset"), BUILT_IN)
def test_built_in_synths_are_finite_bounded_and_the_right_length(name: str, preset: str) -> None:
    seq = sequence([make_note(p, 0.1 * i, 0.1 * i + 0.4, velocity=100) for i, p in
                    enumerate([36, 48, 60, 64, 67, 72, 96, 108])])
    synth = synths.make_synth(name, preset=preset)
    y = synths.render(seq, synth=synth, sr=SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert np.all(np.isfinite(y))
    assert 0.01 < np.abs(y).max() <= 1.0
    expected = int(np.ceil((seq.end_s + synth.envelope.release_s + 0.01) * SR))
    assert y.size == expected
    assert synths.render(seq, synth=synth, sr=SR, length=1000).size == 1000


@pytest.mark.parametrize("name", ["additive", "subtractive", "fm"])
def test_a4_sounds_at_440(name: str) -> None:
    y = synths.render(sequence([make_note(69, 0.0, 1.0)]), synth=synths.make_synth(name), sr=SR)
    assert peak_hz(y[: SR]) == pytest.approx(440.0, abs=2.0)


def test_tuning_changes_the_pitch() -> None:
    seq = sequence([make_note(64, 0.0, 1.0)])
    organ = synths.make_synth("additive", preset="organ")
    tet = peak_hz(synths.render(seq, synth=organ, sr=SR)[:SR])
    ji = peak_hz(synths.render(seq, synth=organ, sr=SR, tuning=just_intonation())[:SR])
    assert tet == pytest.approx(pitch_to_hz(64.0), abs=1.5)
    assert ji == pytest.approx(pitch_to_hz(60.0) * 5 / 4, abs=1.5)
    quarter = equal_temperament(24, mapping="keyboard")
    # Key 61 in 24-TET (keyboard mapping) is a quarter tone above middle C.
    q = peak_hz(synths.render(sequence([make_note(61, 0.0, 1.0)]), synth=organ, sr=SR,
                              tuning=quarter)[:SR])
    assert q == pytest.approx(pitch_to_hz(60.5), abs=1.5)


def test_bends_are_followed() -> None:
    note = make_note(69, 0.0, 2.0, bends=[(0.0, 0.0), (0.5, 2.0)])
    y = synths.render(sequence([note]), synth=synths.make_synth("additive", preset="organ"),
                      sr=SR)
    assert peak_hz(y[: int(0.2 * SR)]) == pytest.approx(440.0, abs=15.0)
    assert peak_hz(y[int(1.0 * SR) : int(1.9 * SR)]) == pytest.approx(pitch_to_hz(71.0), abs=3.0)


def test_velocity_scales_level() -> None:
    synth = synths.make_synth("fm", preset="bass")
    loud = synths.render(sequence([make_note(48, 0.0, 0.5, velocity=127)]), synth=synth, sr=SR)
    soft = synths.render(sequence([make_note(48, 0.0, 0.5, velocity=32)]), synth=synth, sr=SR)
    assert np.abs(loud).max() > 2.5 * np.abs(soft).max()


def test_dense_chords_are_limited_not_clipped() -> None:
    seq = sequence([make_note(p, 0.0, 1.0, velocity=127) for p in range(40, 90)])
    y = synths.render(seq, synth=synths.make_synth("subtractive"), sr=SR)
    assert np.abs(y).max() == pytest.approx(synths.PEAK_LIMIT, abs=1e-4)


def test_empty_sequence_renders_nothing() -> None:
    assert synths.render(sequence([]), synth=synths.make_synth("fm"), sr=SR).size == 0


def test_drum_parts_use_the_kit() -> None:
    drums = sequence([make_note(k, 0.5, 0.6) for k in (36, 38, 42)], is_drum=True)
    y = synths.render(drums, synth=synths.make_synth("fm"), sr=SR)
    assert np.abs(y[: int(0.49 * SR)]).max() == 0.0
    assert np.abs(y[int(0.5 * SR) : int(0.6 * SR)]).max() > 0.05
    # The kick is low, the hat high.
    kick = synths.render(sequence([make_note(36, 0.0, 0.1)], is_drum=True),
                         synth=synths.make_synth("fm"), sr=SR)
    hat = synths.render(sequence([make_note(42, 0.0, 0.1)], is_drum=True),
                        synth=synths.make_synth("fm"), sr=SR)
    assert centroid(kick[: SR // 4]) < 500 < 3000 < centroid(hat[: SR // 10])


@pytest.mark.parametrize("mode", synths.SAMPLER_MODES)
def test_sampler_follows_the_component_spectrum(mode: str) -> None:
    dull = harmonic_spectrum(220.0, centre_hz=400.0)
    bright = harmonic_spectrum(220.0, centre_hz=3000.0)
    seq = sequence([make_note(57, 0.0, 1.0)])  # A3 = 220 Hz: the component's own pitch
    y_dull = synths.render(seq, synth=synths.sampler_from_spectrum(dull, sr=44_100, mode=mode),
                           sr=SR)
    y_bright = synths.render(
        seq, synth=synths.sampler_from_spectrum(bright, sr=44_100, mode=mode), sr=SR
    )
    c_dull, c_bright = centroid(y_dull[:SR]), centroid(y_bright[:SR])
    assert c_bright > 2.5 * c_dull
    assert 250 < c_dull < 900 and 1800 < c_bright < 4500
    assert np.all(np.isfinite(y_bright)) and np.abs(y_bright).max() <= 1.0


def test_sampler_transposes_with_the_note() -> None:
    comp = harmonic_spectrum(220.0, centre_hz=600.0)
    synth = synths.sampler_from_spectrum(comp, sr=44_100)
    low = synths.render(sequence([make_note(57, 0.0, 1.0)]), synth=synth, sr=SR)
    high = synths.render(sequence([make_note(69, 0.0, 1.0)]), synth=synth, sr=SR)
    assert centroid(high[:SR]) / centroid(low[:SR]) == pytest.approx(2.0, rel=0.1)


def test_estimate_fundamental_of_a_comb() -> None:
    f = synths.estimate_fundamental(harmonic_spectrum(196.0, centre_hz=800.0), sr=44_100)
    assert f.hz == pytest.approx(196.0, rel=0.02)
    assert f.harmonicity > 0.8
    noise = np.random.default_rng(0).random(1025)
    assert synths.estimate_fundamental(noise, sr=44_100).harmonicity < 0.5


def test_sampler_from_audio_plays_the_sound_at_pitch() -> None:
    t = np.arange(int(0.8 * SR)) / SR
    tone = sum(np.sin(2 * np.pi * 220.0 * h * t) / h for h in range(1, 6)).astype(np.float32)
    synth = synths.sampler_from_audio(tone, sr=SR)
    y = synths.render(sequence([make_note(69, 0.0, 0.5)]), synth=synth, sr=SR)
    assert peak_hz(y[: int(0.4 * SR)]) == pytest.approx(440.0, abs=3.0)
    # One-shot: a note longer than the transposed sample falls silent after it.
    long = synths.render(sequence([make_note(69, 0.0, 2.0)]), synth=synth, sr=SR)
    assert np.abs(long[int(0.5 * SR) : int(1.9 * SR)]).max() < 1e-6


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: synths.make_synth("theremin"), "synth='theremin' must be one of"),
        (lambda: synths.make_synth("fm", preset="nope"), "preset='nope' must be one of"),
        (lambda: synths.make_synth("sampler"), "needs an instrument"),
        (lambda: synths.sampler_from_spectrum(np.zeros(1025), sr=44_100), "silent"),
        (lambda: synths.sampler_from_spectrum(-np.ones(1025), sr=44_100), "non-negative"),
        (lambda: synths.sampler_from_spectrum(np.ones((2, 1025)), sr=44_100), "shape"),
        (lambda: synths.sampler_from_spectrum(np.ones(1025), sr=44_100, mode="x"),
         "mode='x' must be one of"),
        (lambda: synths.sampler_from_audio(np.zeros(1000, np.float32), sr=SR), "silent"),
        (lambda: synths.sampler_from_audio(np.ones(10, np.float32), sr=SR), "at least 64"),
        (lambda: synths.render(sequence([]), synth=synths.make_synth("fm"), sr=100),
         r"sr=100 must be in"),
        (lambda: synths.SubtractiveSynth("sine"), "waveform='sine' must be one of"),
    ],
)
def test_bad_inputs_raise(call: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        call()  # type: ignore[operator]


def test_too_long_a_render_is_refused() -> None:
    seq = sequence([make_note(60, 0.0, 1.0)])
    with pytest.raises(LimitExceeded, match="limit"):
        synths.render(seq, synth=synths.make_synth("fm"), sr=SR,
                      length=int(synths.MAX_RENDER_S * SR) + 1)


def test_render_does_not_mutate_presets() -> None:
    a = synths.render(sequence([make_note(60, 0.0, 0.3)]), synth=synths.make_synth("additive"),
                      sr=SR)
    synths.render(sequence([make_note(100, 0.0, 0.3)]), synth=synths.make_synth("additive"), sr=SR)
    b = synths.render(sequence([make_note(60, 0.0, 0.3)]), synth=synths.make_synth("additive"),
                      sr=SR)
    np.testing.assert_array_equal(a, b)
