from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from residue.dsp import spectral
from residue.dsp.spectral import (
    N_FFT,
    as_device,
    istft,
    log_frequency_rows,
    row_frequencies,
    stft,
    to_db_uint8,
)
from residue.errors import ParameterError

LAYOUTS = {"mono": (), "stereo": (2,), "batched": (3, 2)}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stft_shape_and_dtype(rng: np.random.Generator, layout: str) -> None:
    y = rng.standard_normal((*LAYOUTS[layout], 5000)).astype(np.float32)
    D = stft(y)
    assert D.dtype == np.complex64
    assert D.shape == (*LAYOUTS[layout], 1 + N_FFT // 2, 1 + 5000 // 512)


def test_stft_matches_scipy(rng: np.random.Generator) -> None:
    # Independent reference: scipy's STFT with the same window, zero padding and centring.
    y = rng.standard_normal(6000).astype(np.float32)
    D = stft(y, n_fft=512, hop_length=128)
    win = scipy.signal.get_window("hann", 512, fftbins=True)
    sft = scipy.signal.ShortTimeFFT(win, hop=128, fs=1.0, scale_to=None, phase_shift=None)
    ref = sft.stft(y.astype(np.float64), p0=0, p1=D.shape[-1])
    np.testing.assert_allclose(D, ref, atol=2e-4, rtol=1e-4)


def test_stft_does_not_mutate_input(rng: np.random.Generator) -> None:
    y = rng.standard_normal(3000).astype(np.float32)
    before = y.copy()
    stft(y)
    np.testing.assert_array_equal(y, before)


@pytest.mark.parametrize("n", [1, 7, 511, 2048])
def test_stft_very_short_signals(n: int) -> None:
    y = np.ones(n, dtype=np.float32)
    D = stft(y)
    assert D.shape == (1025, 1 + n // 512)
    np.testing.assert_allclose(istft(D, length=n), y, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6000),
    layout=st.sampled_from(sorted(LAYOUTS)),
    n_fft=st.sampled_from([256, 1024, 2048]),
)
def test_istft_inverts_stft(seed: int, n: int, layout: str, n_fft: int) -> None:
    y = np.random.default_rng(seed).uniform(-1, 1, (*LAYOUTS[layout], n)).astype(np.float32)
    hop = n_fft // 4
    back = istft(stft(y, n_fft=n_fft, hop_length=hop), hop_length=hop, length=n)
    assert back.dtype == np.float32
    assert back.shape == y.shape
    np.testing.assert_allclose(back, y, atol=1e-5)


def test_device_string_and_object_give_same_result(rng: np.random.Generator) -> None:
    y = rng.standard_normal(2000).astype(np.float32)
    np.testing.assert_array_equal(stft(y, device="cpu"), stft(y, device=as_device(None)))


def test_stft_validation() -> None:
    y = np.zeros(100, dtype=np.float32)
    with pytest.raises(ParameterError, match="n_fft=1 must be in"):
        stft(y, n_fft=1)
    with pytest.raises(ParameterError, match="hop_length=0 must be in"):
        stft(y, hop_length=0)
    with pytest.raises(ParameterError, match="contains NaN"):
        stft(np.array([0.0, np.nan]))
    with pytest.raises(ParameterError, match="device='no-such-device'"):
        stft(y, device="no-such-device")


def test_istft_validation() -> None:
    with pytest.raises(ParameterError, match="shape"):
        istft(np.zeros(5, dtype=np.complex64), length=5)
    with pytest.raises(ParameterError, match="length=0 must be in"):
        istft(np.zeros((1025, 3), dtype=np.complex64), length=0)
    with pytest.raises(ParameterError, match="hop_length=4096 must be in"):
        istft(np.zeros((1025, 3), dtype=np.complex64), hop_length=4096, length=10)


def test_row_frequencies_are_log_spaced() -> None:
    f = row_frequencies(sr=44100)
    assert f.shape == (spectral.N_ROWS,)
    assert f[0] == pytest.approx(spectral.F_MIN_HZ)
    assert f[-1] == pytest.approx(22050.0)
    ratios = f[1:] / f[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)


def test_log_rows_of_a_linear_ramp_equal_band_centres() -> None:
    # The band mean of a linear function is its value at the band's centre (in bin units),
    # so a ramp S[f] = f checks the interpolation and the averaging together.
    sr, n_fft = 44100, 2048
    S = np.repeat(np.arange(1025, dtype=np.float32)[:, None], 3, axis=1)
    rows = log_frequency_rows(S, sr=sr, n_fft=n_fft)
    f = row_frequencies(sr=sr)
    log_f = np.log(f)
    half = 0.5 * (log_f[1] - log_f[0])
    edges = np.exp(np.r_[log_f[0] - half, 0.5 * (log_f[1:] + log_f[:-1]), log_f[-1] + half])
    edges = np.clip(edges * n_fft / sr, 0, 1024)
    expected = 0.5 * (edges[1:] + edges[:-1])
    np.testing.assert_allclose(rows[:, 0], expected, rtol=1e-4)
    np.testing.assert_array_equal(rows[:, 0], rows[:, 2])


def test_log_rows_low_rows_interpolate_like_numpy(rng: np.random.Generator) -> None:
    # Low rows are much narrower than a bin: the result is np.interp at the row frequency.
    sr, n_fft = 22050, 512
    S = rng.uniform(0, 1, (257, 2)).astype(np.float32)
    rows = log_frequency_rows(S, sr=sr, n_fft=n_fft, n_rows=512)
    f = row_frequencies(sr=sr, n_rows=512)
    low = f < 60
    ref = np.interp(f[low] * n_fft / sr, np.arange(257), S[:, 1])
    np.testing.assert_allclose(rows[low, 1], ref, atol=2e-3)


def test_log_rows_never_empty_and_peak_lands_on_its_row() -> None:
    sr, n_fft = 44100, 2048
    y = np.sin(2 * np.pi * 1000.0 * np.arange(sr) / sr).astype(np.float32)
    S = np.abs(stft(y, n_fft=n_fft))
    rows = log_frequency_rows(S, sr=sr, n_fft=n_fft)
    f = row_frequencies(sr=sr)
    peak = int(np.argmax(rows[:, 40]))
    assert abs(np.log2(f[peak] / 1000.0)) < 0.05
    flat = log_frequency_rows(np.ones((1025, 2), np.float32), sr=sr, n_fft=n_fft)
    np.testing.assert_allclose(flat, 1.0, rtol=1e-5)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_log_rows_layouts(rng: np.random.Generator, layout: str) -> None:
    S = rng.uniform(0, 1, (*LAYOUTS[layout], 1025, 4)).astype(np.float32)
    rows = log_frequency_rows(S, sr=44100, n_fft=2048, n_rows=64)
    assert rows.shape == (*LAYOUTS[layout], 64, 4)
    assert rows.dtype == np.float32
    one = (
        log_frequency_rows(S[..., 1], sr=44100, n_fft=2048, n_rows=64)
        if not LAYOUTS[layout]
        else None
    )
    if one is not None:
        np.testing.assert_allclose(one, rows[:, 1], rtol=1e-6)


def test_log_rows_single_spectrum_matches_column(rng: np.random.Generator) -> None:
    S = rng.uniform(0, 1, (1025, 3)).astype(np.float32)
    full = log_frequency_rows(S, sr=48000, n_fft=2048)
    one = log_frequency_rows(S[:, 2], sr=48000, n_fft=2048)
    assert one.shape == (spectral.N_ROWS,)
    np.testing.assert_allclose(one, full[:, 2], rtol=1e-6)


def test_log_rows_validation() -> None:
    S = np.ones((1025, 2), np.float32)
    with pytest.raises(ParameterError, match="n_fft=1024 needs 513"):
        log_frequency_rows(S, sr=44100, n_fft=1024)
    with pytest.raises(ParameterError, match="n_rows=1 must be in"):
        log_frequency_rows(S, sr=44100, n_fft=2048, n_rows=1)
    with pytest.raises(ParameterError, match="f_min_hz=30000 must be in"):
        log_frequency_rows(S, sr=44100, n_fft=2048, f_min_hz=30000.0)
    with pytest.raises(ParameterError, match="real-valued"):
        log_frequency_rows(S.astype(np.complex64), sr=44100, n_fft=2048)


def test_to_db_uint8_levels() -> None:
    S = np.array([[2.0, 0.2, 0.02], [2e-4, 0.0, 4.0]], dtype=np.float32)
    levels = to_db_uint8(S, top_db=60.0, ref=2.0)
    assert levels.dtype == np.uint8
    assert levels.tolist() == [[255, 170, 85], [0, 0, 255]]
    auto = to_db_uint8(S, top_db=60.0)
    assert auto[1, 2] == 255
    assert auto[0, 0] == 229  # 2 is 6.02 dB below 4: 255 * (1 - 6.02 / 60)


def test_to_db_uint8_silence_is_zero_not_nan() -> None:
    out = to_db_uint8(np.zeros((4, 5), np.float32))
    assert out.dtype == np.uint8
    assert not out.any()
    assert not to_db_uint8(np.ones(3, np.float32), ref=0.0).any()


def test_to_db_uint8_validation() -> None:
    with pytest.raises(ParameterError, match="top_db=0 must be in"):
        to_db_uint8(np.ones(3), top_db=0.0)
    with pytest.raises(ParameterError, match="ref=-1 must be in"):
        to_db_uint8(np.ones(3), ref=-1.0)
    with pytest.raises(ParameterError, match="real-valued"):
        to_db_uint8(np.ones(3, np.complex64))


@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (1024, 256), (512, 384), (400, 100)])
def test_istft_matches_torch_istft_on_arbitrary_spectra(
    rng: np.random.Generator, n_fft: int, hop: int
) -> None:
    # Not a consistent STFT, so this checks the overlap-add and normalisation themselves.
    import torch

    n_bins = 1 + n_fft // 2
    D = (rng.standard_normal((2, n_bins, 40)) + 1j * rng.standard_normal((2, n_bins, 40))).astype(
        np.complex64
    )
    length = 39 * hop
    ref = torch.istft(
        torch.from_numpy(D),
        n_fft,
        hop,
        window=torch.hann_window(n_fft),
        center=True,
        length=length,
    ).numpy()
    np.testing.assert_allclose(istft(D, hop_length=hop, length=length), ref, atol=2e-5)


def test_istft_longer_than_frames_pads_silence(rng: np.random.Generator) -> None:
    y = rng.standard_normal(3000).astype(np.float32)
    out = istft(stft(y), length=8000)
    np.testing.assert_allclose(out[:3000], y, atol=1e-5)
    assert out.shape == (8000,)
    assert np.all(np.isfinite(out))
    assert np.abs(out[4000:]).max() < 1e-6


def test_read_only_input_is_accepted(rng: np.random.Generator) -> None:
    import warnings

    y = rng.standard_normal(3000).astype(np.float32)
    y.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D = stft(y)
        D.setflags(write=False)
        back = istft(D, length=3000)
    np.testing.assert_allclose(back, y, atol=1e-5)


@pytest.mark.parametrize("stereo", [False, True])
def test_thumbnail_puts_a_tone_on_its_log_frequency_row(stereo: bool) -> None:
    sr = 44100
    t = np.arange(3 * sr) / sr
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    y = np.stack([tone, tone]) if stereo else tone
    pic = spectral.thumbnail(y, sr=sr, rows=64, cols=40)
    assert pic.shape == (64, 40) and pic.dtype == np.uint8
    expected = 63 * np.log(1000.0 / 40.0) / np.log(sr / 2 / 40.0)  # row 0 = 40 Hz
    assert abs(int(np.argmax(pic.mean(axis=1))) - expected) <= 2
    assert not spectral.thumbnail(np.zeros(100, np.float32), sr=sr).any()  # silence, short
