"""Short-time Fourier transforms and spectrogram display helpers.

Everything here is pure: numpy in, numpy out, torch for the transforms. Shapes follow librosa:
audio ``y`` is ``(..., n_samples)``, a complex STFT ``D`` and a magnitude ``S`` are
``(..., n_bins, n_frames)`` with ``n_bins = 1 + n_fft // 2``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from residue.dsp._validate import check_audio, check_float, check_int
from residue.errors import ParameterError

N_FFT = 2048
"""Default FFT size: 46 ms at 44.1 kHz, 21.5 Hz bins."""
HOP_LENGTH = 512
"""Default hop: a quarter of ``N_FFT``, so the Hann windows overlap-add to a constant."""
TOP_DB = 80.0
"""Dynamic range of display spectrograms, in dB below the reference."""
N_ROWS = 256
"""Rows of a display spectrogram (one uint8 texture row each)."""
F_MIN_HZ = 30.0
"""Lowest frequency shown on log-frequency displays."""

DeviceLike = str | torch.device | None
"""Where torch work runs: ``None`` for the CPU, or a torch device / name such as ``"cuda"``."""


def as_device(device: DeviceLike) -> torch.device:
    """Return the torch device for ``device`` (``None`` means the CPU).

    Raises
    ------
    ParameterError
        If ``device`` is not a device name torch understands.
    """
    if device is None:
        return torch.device("cpu")
    if isinstance(device, torch.device):
        return device
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"device={device!r} is not a torch device") from exc


def _as_tensor(a: np.ndarray, dev: torch.device) -> torch.Tensor:
    """A tensor reading ``a`` without copying when possible (it is never written to)."""
    if not (a.flags.writeable and a.flags.c_contiguous):
        a = np.array(a, order="C")  # torch refuses read-only memory; copy rather than warn
    return torch.from_numpy(a).to(dev)


def _window(n_fft: int, device: torch.device) -> torch.Tensor:
    return _cached_window(n_fft, str(device))


@functools.lru_cache(maxsize=16)
def _cached_window(n_fft: int, device: str) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=device)


def n_frames_for(n_samples: int, *, hop_length: int = HOP_LENGTH) -> int:
    """Return the number of STFT frames :func:`stft` makes from ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def stft(
    y: np.ndarray,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    device: DeviceLike = None,
) -> np.ndarray:
    """Complex short-time Fourier transform with a Hann window.

    Frames are centred (``center=True``) with zero padding, so signals shorter than a window
    still give one frame.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples), dtype=float]
        Audio.
    n_fft : int
        FFT size, at least 2.
    hop_length : int
        Samples between frames, in ``[1, n_fft]``.
    device : str or torch.device or None
        Where the transform runs; ``None`` is the CPU.

    Returns
    -------
    D : np.ndarray [shape=(..., 1 + n_fft // 2, 1 + n_samples // hop_length), dtype=complex64]

    Raises
    ------
    ParameterError
        If ``y`` is not finite real audio or a size is out of range.

    Examples
    --------
    >>> stft(np.zeros((2, 44100), dtype=np.float32)).shape
    (2, 1025, 87)
    """
    y32 = check_audio(y)
    n_fft = check_int("n_fft", n_fft, lo=2)
    hop_length = check_int("hop_length", hop_length, lo=1, hi=n_fft)
    dev = as_device(device)
    lead = y32.shape[:-1]
    flat = _as_tensor(y32.reshape(-1, y32.shape[-1]), dev)
    D = torch.stft(
        flat,
        n_fft,
        hop_length,
        window=_window(n_fft, dev),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    # torch lays frames out contiguously; callers (NMF, masks) want bins x frames C-ordered.
    out: np.ndarray = np.ascontiguousarray(D.cpu().numpy(), dtype=np.complex64)
    return out.reshape(*lead, *out.shape[-2:])


def istft(
    D: np.ndarray,
    *,
    hop_length: int = HOP_LENGTH,
    length: int,
    device: DeviceLike = None,
) -> np.ndarray:
    """Inverse of :func:`stft` (Hann window, centred frames, overlap-add).

    Parameters
    ----------
    D : np.ndarray [shape=(..., 1 + n_fft // 2, n_frames), dtype=complex]
        Complex STFT.
    hop_length : int
        Samples between frames, in ``[1, n_fft]``.
    length : int
        Number of output samples (the length of the signal that was transformed).
    device : str or torch.device or None
        Where the transform runs; ``None`` is the CPU.

    Returns
    -------
    y : np.ndarray [shape=(..., length), dtype=float32]

    Raises
    ------
    ParameterError
        If ``D`` has the wrong shape or a size is out of range.

    Examples
    --------
    >>> y = np.sin(np.arange(4000, dtype=np.float32) / 10)
    >>> bool(np.allclose(istft(stft(y), length=4000), y, atol=1e-5))
    True
    """
    D = check_stft(D)
    n_fft = 2 * (D.shape[-2] - 1)
    hop_length = check_int("hop_length", hop_length, lo=1, hi=n_fft)
    length = check_int("length", length, lo=1)
    dev = as_device(device)
    lead = D.shape[:-2]
    flat = _as_tensor(D.reshape(-1, *D.shape[-2:]), dev)
    y = istft_torch(flat, n_fft=n_fft, hop_length=hop_length, length=length)
    out: np.ndarray = y.cpu().numpy().astype(np.float32, copy=False)
    return out.reshape(*lead, length)


def istft_torch(D: torch.Tensor, *, n_fft: int, hop_length: int, length: int) -> torch.Tensor:
    """Inverse STFT of a complex tensor ``(B, 1 + n_fft // 2, n_frames)`` -> ``(B, length)``.

    The tensor-level core of :func:`istft`, for callers that already hold torch tensors. When
    ``hop_length`` divides ``n_fft`` the overlap-add is done as ``n_fft / hop_length`` strided
    additions of whole hop-sized chunks, about three times faster than ``torch.istft`` (which
    this falls back to otherwise). Same window, centring and normalisation either way.
    """
    dev = D.device
    if n_fft % hop_length:
        return torch.istft(
            D, n_fft, hop_length, window=_window(n_fft, dev), center=True, length=length
        )
    n_batch, _, n_frames = D.shape
    r = n_fft // hop_length
    frames = torch.fft.irfft(D, n=n_fft, dim=-2)  # (B, n_fft, n_frames)
    window = _window(n_fft, dev)
    chunks = torch.zeros((n_batch, n_frames + r - 1, hop_length), dtype=frames.dtype, device=dev)
    for j in range(r):
        part = slice(j * hop_length, (j + 1) * hop_length)
        # Window and overlap-add in one pass: chunk t + j gets part j of frame t.
        chunks[:, j : j + n_frames].addcmul_(frames[:, part].transpose(-1, -2), window[part])
    start = n_fft // 2
    avail = chunks.shape[1] * hop_length - start
    y = chunks.view(n_batch, -1)[:, start : start + length]
    env = _window_envelope(n_frames, n_fft, hop_length, str(dev))[start : start + length]
    if avail < length:  # asked for more than the frames cover: silence after
        y = torch.nn.functional.pad(y, (0, length - avail))
        env = torch.nn.functional.pad(env, (0, length - avail), value=1.0)
    return y / env


@functools.lru_cache(maxsize=16)
def _window_envelope(n_frames: int, n_fft: int, hop_length: int, device: str) -> torch.Tensor:
    """Overlap-added squared window; tiny values are set to 1 (nothing to normalise there)."""
    w2 = _window(n_fft, torch.device(device)).square()
    r = n_fft // hop_length
    env = torch.zeros((n_frames + r - 1, hop_length), dtype=torch.float32, device=device)
    for j in range(r):
        env[j : j + n_frames] += w2[j * hop_length : (j + 1) * hop_length]
    flat = env.reshape(-1)
    return torch.where(flat > 1e-11, flat, torch.ones_like(flat))


def check_stft(D: np.ndarray, *, name: str = "D") -> np.ndarray:
    """Check a complex STFT of at least 2 dimensions with an even FFT size; return complex64."""
    if not isinstance(D, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array, got {type(D).__name__}")
    if D.ndim < 2:
        raise ParameterError(f"{name} must have shape (..., n_bins, n_frames), got {D.shape}")
    if D.shape[-2] < 2 or D.shape[-1] < 1:
        raise ParameterError(f"{name} needs at least 2 bins and 1 frame, got shape {D.shape}")
    return np.asarray(D, dtype=np.complex64)


def row_frequencies(*, sr: float, n_rows: int = N_ROWS, f_min_hz: float = F_MIN_HZ) -> np.ndarray:
    """Centre frequencies of log-spaced display rows, from ``f_min_hz`` to ``sr / 2``.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    n_rows : int
        Number of rows, at least 2.
    f_min_hz : float
        Frequency of row 0, in ``(0, sr / 2)``.

    Returns
    -------
    freqs : np.ndarray [shape=(n_rows,), dtype=float64]
        Increasing; ``freqs[0] == f_min_hz`` and ``freqs[-1] == sr / 2``.

    Raises
    ------
    ParameterError
        If a value is out of range.

    Examples
    --------
    >>> row_frequencies(sr=44100, n_rows=3, f_min_hz=30.0).round(1).tolist()
    [30.0, 813.3, 22050.0]
    """
    sr = check_float("sr", sr, lo=1.0)
    n_rows = check_int("n_rows", n_rows, lo=2)
    nyquist = sr / 2
    f_min_hz = check_float("f_min_hz", f_min_hz, lo=1e-3, hi=nyquist * (1 - 1e-6))
    return np.asarray(np.geomspace(f_min_hz, nyquist, n_rows), dtype=np.float64)


def log_frequency_rows(
    S: np.ndarray,
    *,
    sr: float,
    n_fft: int,
    n_rows: int = N_ROWS,
    f_min_hz: float = F_MIN_HZ,
) -> np.ndarray:
    """Resample linear-frequency magnitudes onto log-spaced display rows.

    Each row is the mean, over the row's band, of the spectrum linearly interpolated between
    bins. Where a band is narrower than a bin (low rows) this is plain linear interpolation, so
    no row comes out empty; where it spans many bins (high rows) it averages them, so narrow
    peaks between row centres are not dropped.

    Parameters
    ----------
    S : np.ndarray [shape=(..., 1 + n_fft // 2, n_frames) or (1 + n_fft // 2,), dtype=float]
        Non-negative magnitudes, or a single spectrum.
    sr : float
        Sample rate in Hz.
    n_fft : int
        FFT size that produced ``S``.
    n_rows : int
        Number of rows, at least 2.
    f_min_hz : float
        Centre frequency of row 0, in ``(0, sr / 2)``.

    Returns
    -------
    rows : np.ndarray [shape=(..., n_rows, n_frames) or (n_rows,), dtype=float32]
        Row 0 is the lowest frequency.

    Raises
    ------
    ParameterError
        If ``S`` does not have ``1 + n_fft // 2`` bins or a value is out of range.

    Examples
    --------
    >>> log_frequency_rows(np.ones((1025, 4)), sr=44100, n_fft=2048).shape
    (256, 4)
    """
    n_fft = check_int("n_fft", n_fft, lo=2)
    freqs = row_frequencies(sr=sr, n_rows=n_rows, f_min_hz=f_min_hz)
    if not isinstance(S, np.ndarray):
        raise ParameterError(f"S must be a numpy array, got {type(S).__name__}")
    if np.iscomplexobj(S):
        raise ParameterError(f"S must be real-valued (a magnitude), got dtype {S.dtype}")
    n_bins = 1 + n_fft // 2
    single = S.ndim == 1
    axis_len = S.shape[-1] if single else (S.shape[-2] if S.ndim >= 2 else 0)
    if axis_len != n_bins:
        raise ParameterError(f"S has {axis_len} bins; n_fft={n_fft} needs {n_bins}")
    S32 = np.asarray(S, dtype=np.float32)
    X = S32[:, None] if single else S32

    # Band edges in fractional bin units: geometric midpoints between row centres.
    log_f = np.log(freqs)
    half = 0.5 * (log_f[1] - log_f[0])
    edges_hz = np.exp(
        np.concatenate([[log_f[0] - half], 0.5 * (log_f[1:] + log_f[:-1]), [log_f[-1] + half]])
    )
    edges = np.clip(edges_hz * n_fft / sr, 0.0, n_bins - 1.0)
    centres = np.clip(freqs * n_fft / sr, 0.0, n_bins - 1.0)

    # Integral of the piecewise-linear interpolant from bin 0 to each bin (trapezoids).
    cum = np.zeros(X.shape, dtype=np.float64)
    np.cumsum(0.5 * (X[..., 1:, :] + X[..., :-1, :]), axis=-2, out=cum[..., 1:, :])

    def integral(pos: np.ndarray) -> np.ndarray:
        lo = np.minimum(np.floor(pos).astype(np.int64), n_bins - 2)
        a = (pos - lo)[:, None]
        x_lo = X[..., lo, :]
        x_hi = X[..., lo + 1, :]
        # Area from bin lo to lo + a under the line from x_lo to x_hi.
        area: np.ndarray = cum[..., lo, :] + a * x_lo + 0.5 * a * a * (x_hi - x_lo)
        return area

    width = edges[1:] - edges[:-1]
    area = integral(edges[1:]) - integral(edges[:-1])
    narrow = width < 1e-9
    safe = np.where(narrow, 1.0, width)[:, None]
    rows = area / safe
    if narrow.any():
        # A band squeezed at the Nyquist edge: take the interpolant's value at its centre.
        lo = np.minimum(np.floor(centres).astype(np.int64), n_bins - 2)
        a = (centres - lo)[:, None]
        point = (1 - a) * X[..., lo, :] + a * X[..., lo + 1, :]
        rows = np.where(narrow[:, None], point, rows)
    out: np.ndarray = np.maximum(rows, 0.0).astype(np.float32)
    return out[..., 0] if single else out


def to_db_uint8(S: np.ndarray, *, top_db: float = TOP_DB, ref: float | None = None) -> np.ndarray:
    """Map magnitudes to 8-bit display levels on a decibel scale.

    ``20 * log10(S / ref)`` is clipped to ``[-top_db, 0]`` and scaled to ``0..255``.

    Parameters
    ----------
    S : np.ndarray [shape=(...), dtype=float]
        Non-negative magnitudes.
    top_db : float
        Dynamic range in dB, positive.
    ref : float or None
        Magnitude shown as 255; ``None`` uses ``S.max()``. Silence (a non-positive reference)
        gives all zeros.

    Returns
    -------
    levels : np.ndarray [shape=S.shape, dtype=uint8]

    Raises
    ------
    ParameterError
        If ``top_db`` or ``ref`` is out of range.

    Examples
    --------
    >>> to_db_uint8(np.array([1.0, 0.1, 0.0]), top_db=40.0).tolist()
    [255, 128, 0]
    """
    top_db = check_float("top_db", top_db, lo=1e-3)
    if not isinstance(S, np.ndarray):
        raise ParameterError(f"S must be a numpy array, got {type(S).__name__}")
    if np.iscomplexobj(S):
        raise ParameterError(f"S must be real-valued (a magnitude), got dtype {S.dtype}")
    S32 = np.asarray(S, dtype=np.float32)
    if ref is None:
        ref_value = float(np.nanmax(S32)) if S32.size else 0.0
    else:
        ref_value = check_float("ref", ref, lo=0.0)
    if not (ref_value > 0 and math.isfinite(ref_value)):
        return np.zeros(S32.shape, dtype=np.uint8)
    floor = ref_value * 10.0 ** (-top_db / 20.0)
    with np.errstate(invalid="ignore"):
        clipped = np.clip(np.nan_to_num(S32, nan=0.0), floor, ref_value)
    db = 20.0 * np.log10(clipped / ref_value)
    levels: np.ndarray = np.rint((db + top_db) * (255.0 / top_db))
    out: np.ndarray = np.clip(levels, 0, 255).astype(np.uint8)
    return out


def thumbnail(
    y: np.ndarray, *, sr: float, rows: int = 64, cols: int = 160, n_fft: int = 4096
) -> np.ndarray:
    """A small log-frequency spectrogram of a whole sound, for a card.

    ``cols`` Hann-windowed frames of ``n_fft`` samples spread evenly over the mono mix (so a
    sound of any length fills the picture), resampled to ``rows`` log-spaced rows from 40 Hz,
    80 dB range.

    Parameters
    ----------
    y : np.ndarray [shape=(n,) or (channels, n), dtype=float]
    sr : float
        Sample rate in Hz.
    rows, cols : int
        Size of the picture.
    n_fft : int
        Frame length.

    Returns
    -------
    levels : np.ndarray [shape=(rows, cols), dtype=uint8]
        Row 0 is the lowest frequency.
    """
    check_int("rows", rows, lo=2, hi=1024)
    check_int("cols", cols, lo=1, hi=4096)
    mono = np.asarray(y, dtype=np.float32)
    mono = mono.mean(axis=0) if mono.ndim == 2 else mono
    if mono.size < n_fft:
        mono = np.pad(mono, (0, n_fft - mono.size))
    starts = np.linspace(0, mono.size - n_fft, cols).astype(np.int64)
    window = np.hanning(n_fft).astype(np.float32)
    frames = np.stack([mono[s : s + n_fft] for s in starts]) * window
    S = np.abs(np.fft.rfft(frames, axis=-1)).T.astype(np.float32)  # (bins, cols)
    grid = log_frequency_rows(S, sr=sr, n_fft=n_fft, n_rows=rows, f_min_hz=40.0)
    return to_db_uint8(grid, top_db=80.0)

