"""Reference-free hints: loudness, flatness, bleed, transient density."""

from __future__ import annotations

import math

import numpy as np
import pytest

from residue.dsp import hints
from residue.errors import ParameterError

SR = 22050


def sine(freq: float, seconds: float, *, sr: int = SR, amp: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_lufs_of_a_full_scale_997_hz_sine_is_minus_3() -> None:
    # ITU-R BS.1770: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS.
    value, method = hints.loudness(sine(997, 3.0, sr=48000), sr=48000)
    assert method == "lufs"
    assert value == pytest.approx(-3.01, abs=0.1)


def test_lufs_of_stereo_is_3_db_louder_than_one_channel() -> None:
    y = sine(997, 3.0, sr=48000, amp=0.1)
    mono, _ = hints.loudness(y, sr=48000)
    stereo, _ = hints.loudness(np.stack([y, y]), sr=48000)
    assert stereo - mono == pytest.approx(3.01, abs=0.05)


def test_short_sounds_fall_back_to_rms() -> None:
    y = np.full(2000, 0.5, dtype=np.float32)  # 91 ms: too short for 400 ms gating blocks
    value, method = hints.loudness(y, sr=SR)
    assert method == "rms"
    assert value == pytest.approx(20 * math.log10(0.5), abs=1e-4)


def test_silence() -> None:
    h = hints.describe(np.zeros((2, SR), dtype=np.float32), sr=SR)
    assert h.loudness_lufs == hints.FLOOR_DB
    assert (h.flatness, h.bleed, h.transients_per_s) == (0.0, 0.0, 0.0)


def test_flatness_orders_noise_above_tone(rng: np.random.Generator) -> None:
    noise = rng.standard_normal(2 * SR).astype(np.float32) * 0.1
    flat_noise = hints.flatness(noise, sr=SR)
    flat_tone = hints.flatness(sine(440, 2.0, amp=0.1), sr=SR)
    assert 0.4 < flat_noise <= 1.0  # white noise: exp(-gamma) ~ 0.56 per frame
    assert flat_tone < 0.05


def test_bleed(rng: np.random.Generator) -> None:
    a = rng.standard_normal((2, SR)).astype(np.float32)
    b = rng.standard_normal((2, SR)).astype(np.float32)
    assert hints.bleed(a, []) == 0.0
    assert hints.bleed(a, [b]) < 0.05
    assert hints.bleed(a, [-2 * a]) == pytest.approx(1.0, abs=1e-5)
    assert hints.bleed(a, [b, 0.5 * a + 0.5 * b]) == pytest.approx(1 / math.sqrt(2), abs=0.03)
    assert hints.bleed(a, [a[:, :100]]) == 0.0  # other shapes are not siblings


@pytest.mark.parametrize("rate_hz", [2, 4, 8])
def test_transient_density_counts_clicks(rng: np.random.Generator, rate_hz: int) -> None:
    y = 0.001 * rng.standard_normal(4 * SR).astype(np.float32)
    y[SR // (2 * rate_hz) :: SR // rate_hz] = 0.9
    density = hints.transient_density(np.stack([y, y]), sr=SR)
    assert rate_hz * 0.75 <= density <= rate_hz * 1.25


def test_describe_is_consistent_with_the_parts(rng: np.random.Generator) -> None:
    y = (sine(220, 2.0, amp=0.2) + 0.05 * rng.standard_normal(2 * SR)).astype(np.float32)
    other = rng.standard_normal(2 * SR).astype(np.float32)
    h = hints.describe(y, sr=SR, others=[other])
    assert h.loudness_method == "lufs"
    assert h.loudness_lufs == pytest.approx(hints.loudness(y, sr=SR)[0], abs=1e-3)
    assert h.flatness == pytest.approx(hints.flatness(y, sr=SR), abs=1e-4)
    assert h.bleed == pytest.approx(hints.bleed(y, [other]), abs=1e-4)
    assert h.transients_per_s == pytest.approx(hints.transient_density(y, sr=SR), abs=1e-3)


def test_long_signals_are_analysed_in_blocks(rng: np.random.Generator) -> None:
    # 130 s at 1 kHz: three analysis blocks; flatness of steady noise does not depend on them.
    y = rng.standard_normal(130_000).astype(np.float32) * 0.1
    assert hints.flatness(y, sr=1000) == pytest.approx(
        hints.flatness(y[:20_000], sr=1000), abs=0.02
    )


def test_bad_audio_is_refused() -> None:
    with pytest.raises(ParameterError, match="NaN or infinite"):
        hints.describe(np.array([0.0, np.nan], dtype=np.float32), sr=SR)


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ParameterError, match="sr=0 must be in"):
        hints.flatness(np.zeros(100, dtype=np.float32), sr=0)


@pytest.mark.parametrize(("sr", "seconds", "channels"), [(44100, 3.0, 2), (8000, 140.0, 1)])
def test_block_wise_loudness_equals_pyloudnorm(
    rng: np.random.Generator, sr: int, seconds: float, channels: int
) -> None:
    pyloudnorm = pytest.importorskip("pyloudnorm")
    n = int(sr * seconds)
    # A swell with silent gaps exercises both gates; 140 s at 8 kHz spans several blocks.
    y = rng.standard_normal((channels, n)) * np.linspace(0.001, 0.5, n)
    y[:, n // 3 : n // 2] = 0.0
    y = y.astype(np.float32)
    ref = pyloudnorm.Meter(sr).integrated_loudness(y.T if channels > 1 else y[0])
    value, method = hints.loudness(y, sr=sr)
    assert method == "lufs"
    assert value == pytest.approx(ref, abs=1e-6)


def test_group_bleed_equals_pairwise_bleed(rng: np.random.Generator) -> None:
    mix = rng.standard_normal((2, 5000)).astype(np.float32)
    parts = [
        0.5 * mix + 0.1 * rng.standard_normal((2, 5000)).astype(np.float32),
        rng.standard_normal((2, 5000)).astype(np.float32),
    ]
    got = hints.group_bleed(mix, parts)
    for i, p in enumerate(parts):
        others = [mix - p] + [q for j, q in enumerate(parts) if j != i]
        assert got[i] == pytest.approx(hints.bleed(p, others), abs=1e-4)


def test_group_bleed_needs_matching_shapes() -> None:
    with pytest.raises(ParameterError, match="estimates must have the mix's shape"):
        hints.group_bleed(np.zeros(10, np.float32), [np.zeros(5, np.float32)])
