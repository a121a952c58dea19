"""Timbre vectors: the averaged spectrum of a short clip on a log-frequency grid, and back.

A *timbre vector* describes a steady sound by its magnitude spectrum averaged over time (phase
and time structure dropped), on :data:`N_BINS` log-spaced rows from :data:`F_MIN_HZ` to
:data:`SR` / 2, in decibels below the loudest row scaled into ``0..1``::

    v = clip(1 + 20 log10(rows / max(rows)) / TOP_DB, 0, 1)

so the loudest row is 1 and anything :data:`TOP_DB` dB or more below it is 0. The level of the
clip is dropped (two clips that differ only in gain have the same vector); silence gives all
zeros.

The way back is a *drone*: a stationary sound of any length whose averaged spectrum is the
vector's, with random phases (one inverse FFT the length of the drone, so it is periodic: it
loops without a click) or with phases found by Griffin-Lim on a circular STFT (also periodic).

Clips for a training set come from sounds by :func:`extract_clips`, which scores each clip by
its spectral flux so that drums and abrupt starts, which a drone model cannot represent, are
flagged.
"""

from __future__ import annotations

import functools
import math
from typing import Literal, NamedTuple

import numpy as np
import soxr
import torch

from residue.dsp import spectral
from residue.dsp._validate import check_audio, check_choice, check_float, check_int
from residue.errors import ParameterError

N_BINS = 1233
"""Rows of a timbre vector."""
SR = 44_100
"""Sample rate of the timbre grid: clips at other rates are resampled to it first."""
F_MIN_HZ = 20.0
"""Centre frequency of row 0; the last row is at ``SR / 2``."""
TOP_DB = 80.0
"""Dynamic range of a vector: 0 is this many dB (or more) below its loudest row."""
N_FFT = 4096
"""Analysis FFT size at :data:`SR` (93 ms, 10.8 Hz bins)."""
HOP_LENGTH = 1024
"""Analysis hop."""
CLIP_S = 2.0
"""Default clip length in seconds."""
FLUX_N_FFT = 2048
"""FFT size of the transient (spectral flux) analysis."""
FLUX_HOP = 512
"""Hop of the transient analysis."""
FLUX_FLOOR_DB = 80.0
"""The flux analysis ignores anything more than this far below the sound's loudest band."""
FLUX_BANDS = 48
"""Log-spaced bands the flux analysis pools the spectrum into."""
FLUX_F_MIN_HZ = 40.0
"""Centre of the lowest flux band."""
TRANSIENT_THRESHOLD_DB = 8.0
"""Default flux (mean positive dB step between frames) above which a clip is flagged."""
SILENCE_DBFS = -60.0
"""Clips quieter than this (RMS) are marked silent."""
DRONE_RMS_DBFS = -20.0
"""Default RMS level of a drone."""
GRIFFIN_LIM_ITER = 32
"""Default Griffin-Lim iterations."""
MAX_DRONE_S = 60.0 * 60.0
"""Longest drone one call renders."""
OVERSAMPLE = 1
"""Grid points per analysis bin on which drone magnitudes are pre-compensated."""
PRECOMP_ITER = 4
"""Richardson-Lucy steps of :func:`precompensate`."""
MAX_CLIPS = 10_000
"""Most clips :func:`extract_clips` returns for one sound."""

Phase = Literal["random", "griffinlim"]
PHASES: tuple[Phase, ...] = ("random", "griffinlim")

_TINY = 1e-12
_CHUNK = 64  # clips per STFT batch
_FLOOR = 10.0 ** (-TOP_DB / 20.0)  # a row at v = 0


class ClipSet(NamedTuple):
    """Clips cut from one sound by :func:`extract_clips`.

    Attributes
    ----------
    clips : np.ndarray [shape=(n_clips, n_samples), dtype=float32]
        Mono clips at the sound's rate.
    starts : np.ndarray [shape=(n_clips,), dtype=int64]
        First sample of each clip in the sound.
    transient_db : np.ndarray [shape=(n_clips,), dtype=float32]
        Largest spectral flux inside each clip: the mean positive step, in dB, of the
        log-magnitude spectrum from one frame to the next. Drones stay near 0-2 dB; a drum hit or
        a plucked note jumps by 10 dB or more.
    flagged : np.ndarray [shape=(n_clips,), dtype=bool]
        ``transient_db`` above the threshold: drums or abrupt starts.
    silent : np.ndarray [shape=(n_clips,), dtype=bool]
        RMS below :data:`SILENCE_DBFS`.
    """

    clips: np.ndarray
    starts: np.ndarray
    transient_db: np.ndarray
    flagged: np.ndarray
    silent: np.ndarray

    @property
    def usable(self) -> np.ndarray:
        """Clips neither flagged nor silent, as a bool mask."""
        out: np.ndarray = ~(self.flagged | self.silent)
        return out


# ---------------------------------------------------------------------------------------------
# The grid


def timbre_frequencies() -> np.ndarray:
    """Centre frequencies of the :data:`N_BINS` rows, log-spaced from 20 Hz to 22050 Hz.

    Returns
    -------
    freqs : np.ndarray [shape=(1233,), dtype=float64]

    Examples
    --------
    >>> f = timbre_frequencies()
    >>> f.shape, float(f[0]), float(f[-1])
    ((1233,), 20.0, 22050.0)
    """
    return spectral.row_frequencies(sr=SR, n_rows=N_BINS, f_min_hz=F_MIN_HZ)


def check_vectors(v: np.ndarray, *, name: str = "v") -> np.ndarray:
    """Check timbre vectors of shape ``(..., 1233)`` with finite values; return float32.

    Values are clipped into ``[0, 1]`` (decoders may overshoot a little).

    Raises
    ------
    ParameterError
        If ``v`` is not an array of that shape or holds NaN or infinity.
    """
    if not isinstance(v, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array, got {type(v).__name__}")
    if v.ndim < 1 or v.shape[-1] != N_BINS:
        raise ParameterError(f"{name} must have shape (..., {N_BINS}), got {v.shape}")
    if np.iscomplexobj(v) or v.dtype.kind not in "biuf":
        raise ParameterError(f"{name} must be real-valued, got dtype {v.dtype}")
    v32 = np.asarray(v, dtype=np.float32)
    if not np.all(np.isfinite(v32)):
        raise ParameterError(f"{name} contains NaN or infinite values")
    out: np.ndarray = np.clip(v32, 0.0, 1.0)
    return out


# ---------------------------------------------------------------------------------------------
# Spectrum -> vector


def rows_to_vector(rows: np.ndarray) -> np.ndarray:
    """Scale non-negative log-frequency magnitudes ``(..., 1233)`` into a timbre vector.

    Each vector is divided by its largest row, converted to dB and mapped by
    ``1 + dB / TOP_DB`` into ``[0, 1]``. An all-zero input gives all zeros.

    Returns
    -------
    v : np.ndarray [shape=rows.shape, dtype=float32]
    """
    r = np.asarray(rows, dtype=np.float64)
    peak = r.max(axis=-1, keepdims=True)
    ratio = np.divide(r, peak, out=np.zeros_like(r), where=peak > 0)
    db = 20.0 * np.log10(np.maximum(ratio, _TINY))
    v = np.clip(1.0 + db / TOP_DB, 0.0, 1.0)
    v = np.where(peak > 0, v, 0.0)
    return v.astype(np.float32)


def spectrum_to_vector(S: np.ndarray, *, sr: float, n_fft: int) -> np.ndarray:
    """Turn linear-frequency magnitude spectra into timbre vectors.

    Spectra at another rate or FFT size are first interpolated (linearly, over Hz) onto the
    :data:`SR` / :data:`N_FFT` grid, with nothing above their own Nyquist frequency; then
    resampled onto the log rows by :func:`residue.dsp.spectral.log_frequency_rows` (band means
    where a row spans many bins). This is how an NMF component (a spectrum ``w``) gets a place
    in the same space as audio clips.

    Parameters
    ----------
    S : np.ndarray [shape=(..., 1 + n_fft // 2), dtype=float]
        Non-negative magnitudes (for example an STFT averaged over time, or a component).
    sr : float
        Sample rate of ``S``'s grid in Hz.
    n_fft : int
        FFT size of ``S``'s grid.

    Returns
    -------
    v : np.ndarray [shape=(..., 1233), dtype=float32]

    Raises
    ------
    ParameterError
        If ``S`` has the wrong number of bins or is negative or not finite.

    Examples
    --------
    >>> w = np.zeros(1025); w[100] = 1.0
    >>> v = spectrum_to_vector(w, sr=44100, n_fft=2048)
    >>> v.shape, float(v.max())
    ((1233,), 1.0)
    """
    sr = check_float("sr", sr, lo=1000.0, hi=768_000.0)
    n_fft = check_int("n_fft", n_fft, lo=16, hi=1 << 18)
    if not isinstance(S, np.ndarray):
        raise ParameterError(f"S must be a numpy array, got {type(S).__name__}")
    n_bins = 1 + n_fft // 2
    if S.ndim < 1 or S.shape[-1] != n_bins:
        raise ParameterError(f"S must have shape (..., {n_bins}) for n_fft={n_fft}, got {S.shape}")
    if np.iscomplexobj(S):
        raise ParameterError(f"S must be real-valued (a magnitude), got dtype {S.dtype}")
    S64 = np.asarray(S, dtype=np.float64)
    if not np.all(np.isfinite(S64)):
        raise ParameterError("S contains NaN or infinite values")
    if S64.size and float(S64.min()) < 0:
        raise ParameterError("S must be non-negative")
    lead = S64.shape[:-1]
    flat = S64.reshape(-1, n_bins)
    if sr != SR or n_fft != N_FFT:
        f_from = np.arange(n_bins) * (sr / n_fft)
        f_to = np.arange(1 + N_FFT // 2) * (SR / N_FFT)
        moved = (
            np.stack([np.interp(f_to, f_from, row, right=0.0) for row in flat])
            if len(flat)
            else np.zeros((0, 1 + N_FFT // 2))
        )
        flat = moved
    rows = spectral.log_frequency_rows(
        np.ascontiguousarray(flat.T, dtype=np.float32),
        sr=SR,
        n_fft=N_FFT,
        n_rows=N_BINS,
        f_min_hz=F_MIN_HZ,
    ).T
    return rows_to_vector(rows).reshape(*lead, N_BINS)


def _to_grid_rate(y: np.ndarray, sr: int) -> np.ndarray:
    if sr == SR:
        return y
    flat = y.reshape(-1, y.shape[-1])
    out = soxr.resample(np.ascontiguousarray(flat.T), sr, SR, quality="HQ")
    res = np.ascontiguousarray(np.asarray(out, dtype=np.float32).reshape(-1, flat.shape[0]).T)
    return res.reshape(*y.shape[:-1], res.shape[-1])


def timbre_vectors(clips: np.ndarray, *, sr: int, device: spectral.DeviceLike = None) -> np.ndarray:
    """Timbre vectors of mono clips: averaged magnitude spectrum -> log rows -> dB in 0..1.

    Parameters
    ----------
    clips : np.ndarray [shape=(..., n_samples), dtype=float]
        Mono clips, each leading index its own clip (mix channels down first, or use
        :func:`clip_vector`). Usually :data:`CLIP_S` seconds; any length of at least 10 ms works.
    sr : int
        Sample rate; clips at another rate than :data:`SR` are resampled (soxr) first.
    device : str or torch.device or None
        Where the STFT runs.

    Returns
    -------
    v : np.ndarray [shape=(..., 1233), dtype=float32]

    Raises
    ------
    ParameterError
        If the clips are not finite audio or shorter than 10 ms.

    Examples
    --------
    >>> t = np.arange(88200) / 44100
    >>> v = timbre_vectors(np.sin(2 * np.pi * 440 * t)[None], sr=44100)
    >>> v.shape, round(float(timbre_frequencies()[np.argmax(v[0])]))
    ((1, 1233), 441)
    """
    sr = check_int("sr", sr, lo=1000, hi=768_000)
    y = check_audio(clips, name="clips", min_samples=max(2, sr // 100))
    y = _to_grid_rate(y, sr)
    lead = y.shape[:-1]
    flat = y.reshape(-1, y.shape[-1])
    S = np.empty((flat.shape[0], 1 + N_FFT // 2), dtype=np.float32)
    for start in range(0, flat.shape[0], _CHUNK):  # bounded memory for many clips
        D = spectral.stft(flat[start : start + _CHUNK], n_fft=N_FFT, hop_length=HOP_LENGTH,
                          device=device)
        S[start : start + _CHUNK] = np.abs(D).mean(axis=-1)  # phase and time dropped
    return spectrum_to_vector(S, sr=SR, n_fft=N_FFT).reshape(*lead, N_BINS)


def clip_vector(y: np.ndarray, *, sr: int) -> np.ndarray:
    """Timbre vector of one clip, mono ``(n,)`` or multichannel ``(channels, n)`` (mixed down).

    Returns
    -------
    v : np.ndarray [shape=(1233,), dtype=float32]

    Examples
    --------
    >>> clip_vector(np.zeros((2, 4410), np.float32), sr=44100).max()
    np.float32(0.0)
    """
    y32 = check_audio(y, min_samples=2)
    if y32.ndim > 2:
        raise ParameterError(f"y must have shape (n,) or (channels, n), got {y32.shape}")
    mono = y32 if y32.ndim == 1 else y32.mean(axis=0)
    out: np.ndarray = timbre_vectors(mono, sr=sr)
    return out


# ---------------------------------------------------------------------------------------------
# Vector -> sound


def vector_to_rows(v: np.ndarray) -> np.ndarray:
    """Linear magnitudes of the rows of timbre vectors (the loudest row is 1).

    A value of 0 becomes ``10 ** (-TOP_DB / 20)``, the floor of the scale.

    Returns
    -------
    rows : np.ndarray [shape=(..., 1233), dtype=float32]
    """
    v32 = check_vectors(v)
    out: np.ndarray = (10.0 ** ((v32.astype(np.float64) - 1.0) * TOP_DB / 20.0)).astype(np.float32)
    return out


def vector_magnitudes(v: np.ndarray, *, freqs_hz: np.ndarray) -> np.ndarray:
    """Magnitudes of timbre vectors at arbitrary frequencies.

    The rows are interpolated linearly over log frequency; below :data:`F_MIN_HZ` the
    magnitude falls by 12 dB per octave, and it is 0 at 0 Hz and above ``SR / 2``.

    Parameters
    ----------
    v : np.ndarray [shape=(..., 1233), dtype=float]
    freqs_hz : np.ndarray [shape=(n_freqs,), dtype=float]
        Non-negative frequencies.

    Returns
    -------
    M : np.ndarray [shape=(..., n_freqs), dtype=float32]
    """
    rows = vector_to_rows(v).astype(np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    log_rows = np.log(timbre_frequencies())
    log_f = np.log(np.maximum(f, _TINY))
    flat = rows.reshape(-1, N_BINS)
    lo = np.clip(np.searchsorted(log_rows, log_f) - 1, 0, N_BINS - 2)
    a = np.clip((log_f - log_rows[lo]) / (log_rows[lo + 1] - log_rows[lo]), 0.0, 1.0)
    M = flat[:, lo] * (1.0 - a) + flat[:, lo + 1] * a
    ramp = np.where(f < F_MIN_HZ, (f / F_MIN_HZ) ** 2, 1.0)
    ramp = np.where((f <= 0) | (f > SR / 2 * (1 + 1e-9)), 0.0, ramp)
    out: np.ndarray = (M * ramp).astype(np.float32)
    return out.reshape(*rows.shape[:-1], f.size)


def _rms_normalise(y: np.ndarray, rms_dbfs: float) -> np.ndarray:
    target = 10.0 ** (rms_dbfs / 20.0)
    rms = np.sqrt(np.mean(np.square(y, dtype=np.float64), axis=-1, keepdims=True))
    gain = np.divide(target, rms, out=np.zeros_like(rms), where=rms > _TINY)
    out: np.ndarray = (y * gain).astype(np.float32)
    return out


def drone(
    v: np.ndarray,
    *,
    n_samples: int,
    sr: int = SR,
    phase: Phase = "random",
    n_iter: int = GRIFFIN_LIM_ITER,
    rms_dbfs: float = DRONE_RMS_DBFS,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Render timbre vectors as drones that loop seamlessly.

    ``phase="random"`` gives every frequency of an ``n_samples``-point inverse FFT the
    vector's magnitude and a random phase: stationary, and periodic with period ``n_samples``
    by construction, so ``np.tile`` of it never clicks. ``phase="griffinlim"`` runs fast
    Griffin-Lim (Perraudin et al. 2013, momentum 0.99) on a *circular* STFT (frames wrap
    around the end), whose target magnitude in every frame is the vector's; it is periodic too
    and sounds more tonal, at ``2 * n_iter`` FFTs per frame.

    Parameters
    ----------
    v : np.ndarray [shape=(..., 1233), dtype=float]
        Timbre vectors; each gives its own drone.
    n_samples : int
        Length of each drone (the loop period), 1 to an hour of samples.
    sr : int
        Output sample rate; content above ``SR / 2`` is absent.
    phase : {"random", "griffinlim"}
        How phases are made.
    n_iter : int
        Griffin-Lim iterations, 1 to 500.
    rms_dbfs : float
        RMS level of each drone, in ``[-80, 0]`` dBFS (a zero vector gives silence).
    rng : np.random.Generator or None
        Source of the random phases; ``None`` uses a fixed seed (0).

    Returns
    -------
    y : np.ndarray [shape=(..., n_samples), dtype=float32]

    Raises
    ------
    ParameterError
        If ``v`` does not have 1233 values per vector or an argument is out of range.

    Examples
    --------
    >>> v = np.linspace(1.0, 0.2, 1233, dtype=np.float32)
    >>> y = drone(v, n_samples=44100)
    >>> y.shape, round(float(20 * np.log10(np.sqrt(np.mean(y ** 2)))), 1)
    ((44100,), -20.0)
    """
    v32 = check_vectors(v)
    sr = check_int("sr", sr, lo=8000, hi=192_000)
    n_samples = check_int("n_samples", n_samples, lo=1, hi=int(MAX_DRONE_S * sr))
    check_choice("phase", phase, PHASES)
    n_iter = check_int("n_iter", n_iter, lo=1, hi=500)
    rms_dbfs = check_float("rms_dbfs", rms_dbfs, lo=-80.0, hi=0.0)
    gen = rng if rng is not None else np.random.default_rng(0)
    lead = v32.shape[:-1]
    flat = v32.reshape(-1, N_BINS)
    if phase == "random":
        y = _random_phase(flat, n_samples=n_samples, sr=sr, rng=gen)
    else:
        y = _griffin_lim(flat, n_samples=n_samples, sr=sr, n_iter=n_iter, rng=gen)
    silent = ~np.any(flat > 0, axis=-1)
    y[silent] = 0.0
    return _rms_normalise(y, rms_dbfs).reshape(*lead, n_samples)


def _random_phase(
    flat: np.ndarray, *, n_samples: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    M = fine_magnitudes(flat, n_samples=n_samples, sr=sr)
    return random_phase_noise(M, n_samples=n_samples, rng=rng)


def random_phase_noise(M: torch.Tensor, *, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Inverse FFT of magnitudes ``(B, n_samples // 2 + 1)`` with uniform random phases.

    The result is periodic with period ``n_samples``: it loops without a click.

    Returns
    -------
    y : np.ndarray [shape=(B, n_samples), dtype=float32]
    """
    u = torch.from_numpy(rng.random(size=tuple(M.shape), dtype=np.float32))
    X = torch.polar(M, u.mul_(2.0 * math.pi))
    if n_samples % 2 == 0 and n_samples > 1:
        X[:, -1] = X[:, -1].real.to(X.dtype)  # the Nyquist bin of an even length is real
    out: np.ndarray = torch.fft.irfft(X, n=n_samples, dim=-1).numpy()
    return out.astype(np.float32, copy=False)


def fine_magnitudes(v: np.ndarray, *, n_samples: int, sr: int) -> torch.Tensor:
    """Magnitudes of every bin of an ``n_samples``-point FFT for random-phase synthesis.

    The vectors' magnitudes on a grid of :data:`OVERSAMPLE` points per analysis bin are
    pre-compensated for the analysis window (:func:`precompensate`), then interpolated
    linearly onto the ``n_samples``-point grid.

    Parameters
    ----------
    v : np.ndarray [shape=(B, 1233), dtype=float32]
    n_samples : int
    sr : int

    Returns
    -------
    M : torch.Tensor [shape=(B, n_samples // 2 + 1), dtype=float32]
    """
    step = SR / N_FFT / OVERSAMPLE
    grid = np.arange(N_FFT // 2 * OVERSAMPLE + 1) * step
    M = precompensate(torch.from_numpy(vector_magnitudes(v, freqs_hz=grid)))
    n_out = n_samples // 2 + 1
    if sr == SR and n_samples % 2 == 0 and n_out > 1:
        # Both grids run from 0 Hz to exactly SR / 2: plain linear resizing.
        fast = torch.nn.functional.interpolate(
            M.unsqueeze(1), size=n_out, mode="linear", align_corners=True
        )
        return fast.squeeze(1)
    freqs = np.fft.rfftfreq(n_samples, 1.0 / sr)
    pos = np.minimum(freqs / step, grid.size - 1.0)
    lo = np.minimum(np.floor(pos).astype(np.int64), grid.size - 2)
    frac = torch.from_numpy((pos - lo).astype(np.float32))
    lo_t = torch.from_numpy(lo)
    out = M[:, lo_t] * (1.0 - frac) + M[:, lo_t + 1] * frac
    out[:, torch.from_numpy(freqs > SR / 2)] = 0.0
    return out


@functools.lru_cache(maxsize=1)
def _window_power_kernel() -> tuple[float, ...]:
    """``|W(f)|^2`` of the analysis window at OVERSAMPLE points per bin, +-8 bins, unit sum."""
    w = np.hanning(N_FFT + 1)[:-1]  # periodic Hann, as the STFT uses
    half = 8 * OVERSAMPLE
    response = np.abs(np.fft.rfft(w, n=N_FFT * OVERSAMPLE)[: half + 1]) ** 2
    k = np.concatenate([response[:0:-1], response])
    return tuple(float(x) for x in k / k.sum())


def _blur(P: np.ndarray, K: tuple[float, ...], out: np.ndarray) -> np.ndarray:
    """Zero-padded convolution along the last axis by shifted sums, into ``out``.

    A direct sum of non-negative terms keeps its relative precision in float32 at every
    level (an FFT convolution would bury the -160 dB floor of a power spectrum in rounding).
    Plain numpy: many small operations, which threaded torch makes slow on a busy machine.
    """
    half = len(K) // 2
    n = P.shape[-1]
    padded = np.pad(P, ((0, 0), (half, half)))
    np.multiply(padded[:, :n], K[0], out=out)
    for j in range(1, len(K)):
        out += K[j] * padded[:, j : j + n]
    return out


def precompensate(M: torch.Tensor, *, n_iter: int = PRECOMP_ITER) -> torch.Tensor:
    """Sharpen magnitudes so that, heard as noise and analysed again, they come back.

    The analysis of a stationary noise whose power spectrum is ``P`` sees ``P`` blurred by the
    window's power response ``K``, which raises the skirts and valleys around every peak (a
    tone's analysed spectrum already carries that blur once). A few Richardson-Lucy steps
    find ``P_in`` with ``K * P_in ~= P``: ``P_in <- P_in * (K * (P / (K * P_in)))``. Positive
    throughout; the vector round-trip error falls by about a third.

    Parameters
    ----------
    M : torch.Tensor [shape=(B, n_grid), dtype=float32]
        Magnitudes on a grid of :data:`OVERSAMPLE` points per analysis bin.
    n_iter : int
        Richardson-Lucy iterations.

    Returns
    -------
    torch.Tensor [shape=(B, n_grid), dtype=float32]
    """
    K = _window_power_kernel()
    target = np.square(M.numpy(), dtype=np.float32) + np.float32(1e-30)
    P = target.copy()
    blurred = np.empty_like(P)
    ratio = np.empty_like(P)
    for _ in range(n_iter):
        _blur(P, K, blurred)
        np.maximum(blurred, np.float32(1e-30), out=blurred)
        np.divide(target, blurred, out=blurred)
        P *= _blur(blurred, K, ratio)
    return torch.from_numpy(np.sqrt(P, out=P))


class _CircularFrames:
    """A circular STFT of a periodic signal of ``length`` samples: frames wrap around the end.

    Frame ``j`` is centred at ``(j * length) // n_frames``, so any length works (hops differ by
    at most one sample); the inverse divides by the overlap-added squared window, sample by
    sample, which makes it the least-squares inverse Griffin-Lim needs.
    """

    def __init__(self, length: int, n_fft: int, hop: int) -> None:
        n_frames = max(1, round(length / hop))
        centres = (np.arange(n_frames, dtype=np.int64) * length) // n_frames
        idx = (centres[:, None] - n_fft // 2 + np.arange(n_fft)[None, :]) % length
        self.length = length
        self.n_fft = n_fft
        self.idx = torch.from_numpy(idx)
        self.flat_idx = self.idx.reshape(-1)
        self.window = torch.hann_window(n_fft, periodic=True, dtype=torch.float32)
        wsum = torch.zeros(length, dtype=torch.float32)
        wsum.index_add_(0, self.flat_idx, self.window.square().repeat(n_frames))
        self.inv_wsum = torch.where(wsum > 1e-8, wsum.reciprocal(), torch.zeros_like(wsum))

    def stft(self, y: torch.Tensor) -> torch.Tensor:
        """(B, length) -> (B, n_frames, n_fft // 2 + 1) complex."""
        frames = y[:, self.idx] * self.window
        out: torch.Tensor = torch.fft.rfft(frames, dim=-1)
        return out

    def istft(self, X: torch.Tensor) -> torch.Tensor:
        """(B, n_frames, bins) -> (B, length): windowed overlap-add, normalised."""
        frames = torch.fft.irfft(X, n=self.n_fft, dim=-1) * self.window
        B = X.shape[0]
        flat = torch.zeros((B, self.length), dtype=torch.float32)
        flat.index_add_(1, self.flat_idx, frames.reshape(B, -1))
        return flat * self.inv_wsum


def _griffin_lim(
    flat: np.ndarray, *, n_samples: int, sr: int, n_iter: int, rng: np.random.Generator
) -> np.ndarray:
    n_fft = N_FFT if sr >= 32_000 else N_FFT // 2
    hop = n_fft // 4
    frames = _CircularFrames(n_samples, n_fft, hop)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    M = torch.from_numpy(vector_magnitudes(flat, freqs_hz=freqs))[:, None, :]  # (B, 1, bins)
    n_frames = frames.idx.shape[0]
    angles = rng.uniform(0.0, 2.0 * np.pi, size=(flat.shape[0], n_frames, M.shape[-1]))
    phase = torch.polar(torch.ones(1), torch.from_numpy(angles.astype(np.float32)))
    momentum = 0.99
    rebuilt = torch.zeros_like(phase)
    for _ in range(n_iter):
        previous = rebuilt
        rebuilt = frames.stft(frames.istft(M * phase))
        phase = rebuilt - (momentum / (1.0 + momentum)) * previous
        phase = phase / (phase.abs() + 1e-16)
    out: np.ndarray = frames.istft(M * phase).numpy().astype(np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# Clips and transients


def spectral_flux(y: np.ndarray, *, sr: int) -> np.ndarray:
    """Onset strength of mono audio: the mean positive dB step of the spectrum per frame.

    The power STFT (about 46 ms frames, a quarter overlap) is pooled into
    :data:`FLUX_BANDS` log-spaced bands (band means, so a noise's frame-to-frame scatter
    averages out), in dB floored at :data:`FLUX_FLOOR_DB` below the sound's loudest band (so
    steps out of near-silence do not count as loud); frame ``t`` scores
    ``mean_b max(0, L[b, t] - L[b, t - 1])``. Frames whose window runs past either end of the
    sound score 0 (a cut-off window is not an onset).

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,), dtype=float]
    sr : int
        Sample rate (the FFT size is scaled from 44.1 kHz, so frames last about 46 ms).

    Returns
    -------
    flux : np.ndarray [shape=(n_frames,), dtype=float32]
        Frame ``t`` is centred at sample ``t * hop`` with ``hop = n_fft // 4``; frame 0
        scores 0.

    Examples
    --------
    >>> t = np.arange(44100) / 44100
    >>> y = np.where(t > 0.5, np.sin(2 * np.pi * 440 * t), 0.0)
    >>> flux = spectral_flux(y, sr=44100)
    >>> int(np.argmax(flux)) * 512 / 44100 > 0.45
    True
    """
    sr = check_int("sr", sr, lo=1000, hi=768_000)
    y32 = check_audio(y, min_samples=2)
    if y32.ndim != 1:
        raise ParameterError(f"y must be mono (n,), got shape {y32.shape}")
    n_fft, hop = _flux_sizes(sr)
    P = np.square(np.abs(spectral.stft(y32, n_fft=n_fft, hop_length=hop)))
    bands = spectral.log_frequency_rows(
        P, sr=sr, n_fft=n_fft, n_rows=FLUX_BANDS, f_min_hz=min(FLUX_F_MIN_HZ, sr / 4)
    )
    peak = float(bands.max()) if bands.size else 0.0
    if peak <= 0:
        return np.zeros(P.shape[-1], dtype=np.float32)
    L = 10.0 * np.log10(np.maximum(bands, peak * 10.0 ** (-FLUX_FLOOR_DB / 10.0)))
    steps = np.concatenate([[0.0], np.maximum(np.diff(L, axis=-1), 0.0).mean(axis=0)])
    centres = np.arange(steps.size) * hop
    whole = (centres >= n_fft // 2) & (centres + n_fft // 2 <= y32.shape[-1])
    return np.where(whole, steps, 0.0).astype(np.float32)


def _flux_sizes(sr: int) -> tuple[int, int]:
    scale = sr / 44_100
    n_fft = 1 << max(6, round(math.log2(FLUX_N_FFT * scale)))
    return n_fft, n_fft // 4


def extract_clips(
    y: np.ndarray,
    *,
    sr: int,
    clip_s: float = CLIP_S,
    hop_s: float | None = None,
    max_clips: int = MAX_CLIPS,
    threshold_db: float = TRANSIENT_THRESHOLD_DB,
) -> ClipSet:
    """Cut a sound into clips and flag those with transients.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,) or (channels, n_samples), dtype=float]
        The sound; channels are averaged.
    sr : int
        Sample rate.
    clip_s : float
        Clip length in seconds, 0.1 to 30.
    hop_s : float or None
        Seconds between clip starts (``None``: ``clip_s``, clips side by side). Clips that would
        run past the end are not made; a sound shorter than one clip gives no clips.
    max_clips : int
        At most this many clips, spread evenly over the sound when there would be more.
    threshold_db : float
        A clip whose largest spectral flux (see :func:`spectral_flux`) is above this is flagged.

    Returns
    -------
    ClipSet

    Raises
    ------
    ParameterError
        If ``y`` is not audio or a value is out of range.

    Examples
    --------
    >>> t = np.arange(5 * 44100) / 44100
    >>> cs = extract_clips(np.sin(2 * np.pi * 220 * t), sr=44100)
    >>> cs.clips.shape, cs.flagged.tolist()
    ((2, 88200), [False, False])
    """
    sr = check_int("sr", sr, lo=1000, hi=768_000)
    y32 = check_audio(y, min_samples=1)
    if y32.ndim > 2:
        raise ParameterError(f"y must have shape (n,) or (channels, n), got {y32.shape}")
    clip_s = check_float("clip_s", clip_s, lo=0.1, hi=30.0)
    hop_s = clip_s if hop_s is None else check_float("hop_s", hop_s, lo=0.05, hi=3600.0)
    max_clips = check_int("max_clips", max_clips, lo=1, hi=MAX_CLIPS)
    threshold_db = check_float("threshold_db", threshold_db, lo=0.0, hi=100.0)
    mono = y32 if y32.ndim == 1 else y32.mean(axis=0)
    n = mono.shape[-1]
    length = round(clip_s * sr)
    hop = max(1, round(hop_s * sr))
    if n < length:
        empty = np.zeros(0, dtype=np.float32)
        return ClipSet(
            clips=np.zeros((0, length), dtype=np.float32),
            starts=np.zeros(0, dtype=np.int64),
            transient_db=empty,
            flagged=np.zeros(0, dtype=bool),
            silent=np.zeros(0, dtype=bool),
        )
    starts = np.arange(0, n - length + 1, hop, dtype=np.int64)
    if starts.size > max_clips:
        pick = np.round(np.linspace(0, starts.size - 1, max_clips)).astype(np.int64)
        starts = starts[pick]
    clips = np.stack([mono[s : s + length] for s in starts]).astype(np.float32)
    flux = spectral_flux(mono, sr=sr)
    _, flux_hop = _flux_sizes(sr)
    centres = np.arange(flux.size) * flux_hop
    transient = np.empty(starts.size, dtype=np.float32)
    for i, s in enumerate(starts):
        inside = flux[(centres >= s) & (centres < s + length)]
        transient[i] = float(inside.max()) if inside.size else 0.0
    rms = np.sqrt(np.mean(np.square(clips, dtype=np.float64), axis=-1))
    silent = 20.0 * np.log10(np.maximum(rms, _TINY)) < SILENCE_DBFS
    return ClipSet(
        clips=clips,
        starts=starts,
        transient_db=transient,
        flagged=transient > threshold_db,
        silent=silent,
    )


__all__ = [
    "CLIP_S",
    "F_MIN_HZ",
    "N_BINS",
    "PHASES",
    "SR",
    "TOP_DB",
    "ClipSet",
    "Phase",
    "check_vectors",
    "clip_vector",
    "drone",
    "extract_clips",
    "rows_to_vector",
    "spectral_flux",
    "spectrum_to_vector",
    "timbre_frequencies",
    "timbre_vectors",
    "vector_magnitudes",
    "vector_to_rows",
]
