from __future__ import annotations

import librosa
import numpy as np
import pytest

from residue.dsp.components import (
    DESCRIPTOR_SIZE,
    ComponentDescriptors,
    MatchResult,
    describe_component,
    descriptor_vector,
    match_components,
    resample_component,
)
from residue.dsp.spectral import stft
from residue.errors import ParameterError


def tone_spectrum(f_hz: float, sr: int, n_fft: int) -> np.ndarray:
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * f_hz * t).astype(np.float32)
    return np.abs(stft(y, n_fft=n_fft, hop_length=n_fft // 4)).mean(axis=-1)


def peak_hz(w: np.ndarray, sr: float, n_fft: int) -> float:
    freqs = np.arange(w.size) * sr / n_fft
    k = int(np.argmax(w))
    near = np.abs(freqs - freqs[k]) < 60
    return float((w[near] * freqs[near]).sum() / w[near].sum())


def test_resample_identity_on_equal_grids(rng: np.random.Generator) -> None:
    w = rng.random(1025).astype(np.float32)
    out = resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=44100, n_fft_to=2048)
    assert out.dtype == np.float32 and out.shape == (1025,)
    np.testing.assert_allclose(out, w / w.sum(), rtol=1e-6)


def test_resample_same_bin_width_keeps_common_bins(rng: np.random.Generator) -> None:
    w = rng.random(1025).astype(np.float32)
    out = resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=22050, n_fft_to=1024)
    np.testing.assert_allclose(out, w[:513] / w[:513].sum(), rtol=1e-5)


def test_peak_stays_at_1khz_across_grids() -> None:
    w = tone_spectrum(1000.0, 44100, 2048)
    assert peak_hz(w, 44100, 2048) == pytest.approx(1000.0, abs=3.0)
    a = resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=48000, n_fft_to=4096)
    assert a.shape == (2049,)
    assert peak_hz(a, 48000, 4096) == pytest.approx(1000.0, abs=3.0)
    b = resample_component(a, sr_from=48000, n_fft_from=4096, sr_to=22050, n_fft_to=1024)
    assert b.shape == (513,)
    assert peak_hz(b, 22050, 1024) == pytest.approx(1000.0, abs=3.0)
    for out in (a, b):
        assert out.sum() == pytest.approx(1.0, rel=1e-5)


def test_nothing_above_the_source_nyquist(rng: np.random.Generator) -> None:
    w = rng.random(513).astype(np.float32) + 0.1
    out = resample_component(w, sr_from=22050, n_fft_from=1024, sr_to=44100, n_fft_to=2048)
    freqs = np.arange(1025) * 44100 / 2048
    assert not out[freqs > 11025 + 1e-6].any()
    assert out[freqs < 11000].min() > 0


def test_coarse_grid_keeps_a_narrow_peak_between_bins() -> None:
    # A one-bin peak on a fine grid that falls between two coarse bins must not vanish.
    w = np.full(4097, 1e-3, np.float32)
    w[1500] = 1.0  # 48000 * 1500 / 8192 = 8789 Hz
    out = resample_component(w, sr_from=48000, n_fft_from=8192, sr_to=48000, n_fft_to=512)
    k = round(8789.0 / (48000 / 512))
    share = float(w[1500] / w.sum())  # 0.196 of the mass is in the peak
    assert out[k - 1 : k + 2].sum() > 0.95 * share
    # Sampling the interpolant at coarse bin centres would have missed it.
    freqs = np.arange(257) * 48000 / 512
    sampled = np.interp(freqs, np.arange(4097) * 48000 / 8192, w)
    assert sampled[k - 1 : k + 2].sum() / sampled.sum() < 0.05
    assert int(np.argmax(out)) in (k - 1, k, k + 1)


def test_resample_validation() -> None:
    w = np.ones(1025, np.float32)
    with pytest.raises(ParameterError, match=r"w has shape \(1025,\); n_fft=1024 needs \(513,\)"):
        resample_component(w, sr_from=44100, n_fft_from=1024, sr_to=44100, n_fft_to=1024)
    with pytest.raises(ParameterError, match="must not be all zeros"):
        resample_component(0 * w, sr_from=44100, n_fft_from=2048, sr_to=44100, n_fft_to=2048)
    with pytest.raises(ParameterError, match="w must be non-negative"):
        resample_component(-w, sr_from=44100, n_fft_from=2048, sr_to=44100, n_fft_to=2048)
    with pytest.raises(ParameterError, match="sr_to=0 must be in"):
        resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=0, n_fft_to=2048)
    with pytest.raises(ParameterError, match="n_fft_to=1 must be in"):
        resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=44100, n_fft_to=1)
    high = np.zeros(1025, np.float32)
    high[900] = 1.0  # 19.4 kHz
    with pytest.raises(ParameterError, match="no energy below 4000 Hz"):
        resample_component(high, sr_from=44100, n_fft_from=2048, sr_to=8000, n_fft_to=256)


def test_descriptors_match_librosa(rng: np.random.Generator) -> None:
    # Independent reference: librosa's spectral features on the same one-frame spectrum.
    w = (rng.random(1025) + 0.05).astype(np.float32)
    d = describe_component(w, sr=44100, n_fft=2048)
    S = w[:, None].astype(np.float64)
    cen = librosa.feature.spectral_centroid(S=S, sr=44100, n_fft=2048)[0, 0]
    bw = librosa.feature.spectral_bandwidth(S=S, sr=44100, n_fft=2048)[0, 0]
    flat = librosa.feature.spectral_flatness(S=S / S.sum())[0, 0]
    assert d.centroid_hz == pytest.approx(cen, rel=1e-6)
    assert d.bandwidth_hz == pytest.approx(bw, rel=1e-6)
    assert d.flatness == pytest.approx(flat, rel=1e-4)
    assert d.mfcc.shape == (13,) and d.mfcc.dtype == np.float32


def test_descriptors_of_tone_and_flat_spectra() -> None:
    tone = np.zeros(1025, np.float32)
    tone[93] = 1.0
    d = describe_component(tone, sr=44100, n_fft=2048)
    assert d.centroid_hz == pytest.approx(93 * 44100 / 2048)
    assert d.bandwidth_hz == pytest.approx(0.0, abs=1e-6)
    assert d.flatness < 1e-5
    flat = describe_component(np.ones(1025, np.float32), sr=44100, n_fft=2048)
    assert flat.centroid_hz == pytest.approx(11025.0)
    assert flat.flatness == pytest.approx(1.0)


def test_descriptors_do_not_depend_on_level_or_grid() -> None:
    w = tone_spectrum(440.0, 44100, 2048) + tone_spectrum(1320.0, 44100, 2048) * 0.5 + 1e-3
    d = describe_component(w, sr=44100, n_fft=2048)
    louder = describe_component(10 * w, sr=44100, n_fft=2048)
    np.testing.assert_allclose(louder.mfcc, d.mfcc, rtol=1e-5, atol=1e-4)
    for sr, n_fft in [(44100, 4096), (48000, 2048)]:
        other = resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=sr, n_fft_to=n_fft)
        e = describe_component(other, sr=sr, n_fft=n_fft)
        assert e.centroid_hz == pytest.approx(d.centroid_hz, rel=0.02)
        dist = np.linalg.norm(descriptor_vector(e) - descriptor_vector(d))
        assert dist < 0.15, (sr, n_fft, dist)


def test_descriptor_vector_distances_mean_something() -> None:
    sr, n_fft = 44100, 2048
    vec = {
        f: descriptor_vector(
            describe_component(tone_spectrum(f, sr, n_fft) + 1e-4, sr=sr, n_fft=n_fft)
        )
        for f in (400.0, 440.0, 3000.0)
    }
    noise = descriptor_vector(describe_component(np.ones(1025, np.float32), sr=sr, n_fft=n_fft))
    assert vec[400.0].shape == (DESCRIPTOR_SIZE,) and vec[400.0].dtype == np.float32
    near = np.linalg.norm(vec[400.0] - vec[440.0])
    assert near < np.linalg.norm(vec[400.0] - vec[3000.0])
    assert near < np.linalg.norm(vec[400.0] - noise)


def test_descriptor_vector_layout() -> None:
    d = ComponentDescriptors(4000.0, 250.0, 0.5, np.full(13, 20.0, np.float32))
    v = descriptor_vector(d)
    np.testing.assert_allclose(v[:3], [2.0, -2.0, 2.0])
    np.testing.assert_allclose(v[3:], 1.0)
    with pytest.raises(ParameterError, match=r"mfcc has shape \(12,\)"):
        descriptor_vector(d._replace(mfcc=np.zeros(12)))


def test_describe_validation() -> None:
    with pytest.raises(ParameterError, match=r"n_fft=1024 needs \(513,\)"):
        describe_component(np.ones(1025), sr=44100, n_fft=1024)
    with pytest.raises(ParameterError, match="must not be all zeros"):
        describe_component(np.zeros(1025), sr=44100, n_fft=2048)
    with pytest.raises(ParameterError, match="sr=0 must be in"):
        describe_component(np.ones(1025), sr=0, n_fft=2048)


def test_match_nearest_and_weird(rng: np.random.Generator) -> None:
    q = rng.standard_normal((5, 16))
    c = rng.standard_normal((30, 16))
    dist = np.linalg.norm(q[:, None] - c[None], axis=-1)
    near = match_components(q, c, strategy="nearest")
    far = match_components(q, c, strategy="weird")
    assert isinstance(near, MatchResult)
    assert near.indices.dtype == np.int64 and near.distances.dtype == np.float32
    np.testing.assert_array_equal(near.indices, dist.argmin(axis=1))
    np.testing.assert_array_equal(far.indices, dist.argmax(axis=1))
    np.testing.assert_allclose(near.distances, dist.min(axis=1), rtol=1e-6)
    np.testing.assert_allclose(far.distances, dist.max(axis=1), rtol=1e-6)


def test_match_random_is_seeded(rng: np.random.Generator) -> None:
    q = rng.standard_normal((40, 4))
    c = rng.standard_normal((7, 4))
    a = match_components(q, c, strategy="random", rng=np.random.default_rng(3))
    b = match_components(q, c, strategy="random", rng=np.random.default_rng(3))
    other = match_components(q, c, strategy="random", rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, other.indices)
    assert a.indices.min() >= 0 and a.indices.max() < 7
    assert len(set(a.indices.tolist())) > 1
    dist = np.linalg.norm(q - c[a.indices], axis=1)
    np.testing.assert_allclose(a.distances, dist, rtol=1e-6)


def test_match_validation() -> None:
    q = np.zeros((2, 16))
    with pytest.raises(ParameterError, match="candidates is empty"):
        match_components(q, np.zeros((0, 16)), strategy="nearest")
    with pytest.raises(ParameterError, match="queries have 16 dimensions but candidates have 3"):
        match_components(q, np.zeros((4, 3)), strategy="nearest")
    with pytest.raises(ParameterError, match="strategy='close' must be one of"):
        match_components(q, q, strategy="close")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="NaN or infinite"):
        match_components(q, np.full((2, 16), np.nan), strategy="nearest")
    with pytest.raises(ParameterError, match=r"queries must have shape \(n, dims\)"):
        match_components(np.zeros(16), q, strategy="nearest")
