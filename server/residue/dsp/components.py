"""Components as portable spectra: moving them between frequency grids, describing, matching.

A component is a non-negative spectrum ``w`` on the bins of one STFT (``1 + n_fft // 2`` bins
up to ``sr / 2``). To use it in another sound it is resampled over Hz onto that sound's grid;
to find a component like (or unlike) another, it is reduced to a small descriptor vector.
"""

from __future__ import annotations

import functools
from typing import Literal, NamedTuple

import librosa
import numpy as np
import scipy.fft
import scipy.spatial.distance

from residue.dsp._validate import check_choice, check_float, check_int, check_nonnegative
from residue.errors import ParameterError

Strategy = Literal["nearest", "random", "weird"]

N_MFCC = 13
"""Cepstral coefficients in a descriptor."""
DESCRIPTOR_SIZE = 3 + N_MFCC
"""Length of :func:`descriptor_vector`: log2 centroid, log2 bandwidth, flatness, MFCCs."""
N_MELS = 40
"""Mel bands the MFCCs are computed from."""
MEL_FMIN_HZ = 20.0
"""Lowest mel band edge."""
MEL_FMAX_HZ = 11025.0
"""Highest mel band edge: the Nyquist frequency of 22.05 kHz audio, so MFCCs of sounds at any
common sample rate cover the same bands and can be compared (higher content still shows in the
centroid and bandwidth)."""
MFCC_SCALE_DB = 20.0
"""A 20 dB change of a cepstral coefficient weighs as much as an octave of centroid."""
FLATNESS_SCALE = 4.0
"""Going from a pure tone (flatness 0) to white noise (1) weighs as much as two octaves."""
REFERENCE_HZ = 1000.0
"""Centroid and bandwidth are measured in octaves from this frequency."""


class ComponentDescriptors(NamedTuple):
    """What a component spectrum sounds like, in a few numbers.

    Attributes
    ----------
    centroid_hz : float
        Spectral centroid (mean frequency, weighted by the spectrum).
    bandwidth_hz : float
        Spread around the centroid (weighted standard deviation).
    flatness : float
        Spectral flatness of the power spectrum in ``[0, 1]``: 0 tonal, 1 noise-like.
    mfcc : np.ndarray [shape=(13,), dtype=float32]
        Mel-frequency cepstral coefficients of the spectrum (dB scale).
    """

    centroid_hz: float
    bandwidth_hz: float
    flatness: float
    mfcc: np.ndarray


class MatchResult(NamedTuple):
    """The candidate chosen for each query.

    Attributes
    ----------
    indices : np.ndarray [shape=(K,), dtype=int64]
        Row of ``candidates`` chosen for each query.
    distances : np.ndarray [shape=(K,), dtype=float32]
        Euclidean distance between each query and its choice.
    """

    indices: np.ndarray
    distances: np.ndarray


def _check_component(w: np.ndarray, *, n_fft: int, name: str = "w") -> np.ndarray:
    w32 = check_nonnegative(w, name=name, ndim_min=1)
    n_bins = 1 + n_fft // 2
    if w32.shape != (n_bins,):
        raise ParameterError(f"{name} has shape {w32.shape}; n_fft={n_fft} needs ({n_bins},)")
    if not float(w32.sum()) > 0:
        raise ParameterError(f"{name} must not be all zeros")
    return w32


def resample_component(
    w: np.ndarray, *, sr_from: float, n_fft_from: int, sr_to: float, n_fft_to: int
) -> np.ndarray:
    """Move a component spectrum onto another frequency grid.

    The spectrum is linearly interpolated over Hz. Onto a coarser grid each target bin takes
    the mean of the interpolated spectrum over its width, so narrow peaks are not lost between
    bins. Nothing exists above the source's Nyquist frequency (those bins are 0). The result
    sums to 1.

    Parameters
    ----------
    w : np.ndarray [shape=(1 + n_fft_from // 2,), dtype=float]
        Non-negative spectrum, not all zeros.
    sr_from, n_fft_from : float, int
        Sample rate (Hz) and FFT size of ``w``'s grid.
    sr_to, n_fft_to : float, int
        Sample rate (Hz) and FFT size of the target grid.

    Returns
    -------
    w_to : np.ndarray [shape=(1 + n_fft_to // 2,), dtype=float32]
        Unit sum.

    Raises
    ------
    ParameterError
        If ``w`` has the wrong length, is negative or all zeros, a grid value is out of range,
        or nothing of ``w`` lies below the target's Nyquist frequency.

    Examples
    --------
    >>> w = np.zeros(1025); w[100] = 1.0
    >>> out = resample_component(w, sr_from=44100, n_fft_from=2048, sr_to=44100, n_fft_to=4096)
    >>> out.shape, int(np.argmax(out))
    ((2049,), 200)
    """
    sr_from = check_float("sr_from", sr_from, lo=1.0)
    sr_to = check_float("sr_to", sr_to, lo=1.0)
    n_fft_from = check_int("n_fft_from", n_fft_from, lo=2)
    n_fft_to = check_int("n_fft_to", n_fft_to, lo=2)
    w64 = _check_component(w, n_fft=n_fft_from).astype(np.float64)
    step_from, step_to = sr_from / n_fft_from, sr_to / n_fft_to
    f_from = np.arange(w64.size) * step_from
    f_to = np.arange(1 + n_fft_to // 2) * step_to
    nyquist = sr_from / 2
    if step_to <= step_from * (1 + 1e-9):
        out = np.interp(f_to, f_from, w64, right=0.0)
        out[f_to > nyquist * (1 + 1e-9)] = 0.0
    else:
        # Mean over each target bin [f - step/2, f + step/2] of the interpolant (0 beyond the
        # source's Nyquist), from its running integral.
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (w64[1:] + w64[:-1]) * step_from)])

        def integral(f: np.ndarray) -> np.ndarray:
            x = np.clip(f, 0.0, f_from[-1]) / step_from
            lo = np.minimum(np.floor(x).astype(np.int64), w64.size - 2)
            a = x - lo
            part = step_from * (a * w64[lo] + 0.5 * a * a * (w64[lo + 1] - w64[lo]))
            result: np.ndarray = cum[lo] + part
            return result

        out = (integral(f_to + step_to / 2) - integral(f_to - step_to / 2)) / step_to
    total = float(out.sum())
    if not total > 0:
        raise ParameterError(
            f"the component has no energy below {sr_to / 2:g} Hz, the target's Nyquist frequency"
        )
    result: np.ndarray = (out / total).astype(np.float32)
    return result


@functools.lru_cache(maxsize=8)
def _mel_basis(sr: float, n_fft: int) -> np.ndarray:
    fmax = min(MEL_FMAX_HZ, sr / 2)
    basis: np.ndarray = librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=N_MELS, fmin=min(MEL_FMIN_HZ, fmax / 2), fmax=fmax
    )
    return basis.astype(np.float64)


def describe_component(w: np.ndarray, *, sr: float, n_fft: int) -> ComponentDescriptors:
    """Describe a component spectrum by its centroid, bandwidth, flatness and MFCCs.

    The descriptors do not depend on the level of ``w`` nor, for the same sound, on the grid
    it is sampled on: the spectrum is treated as a density over Hz.

    Parameters
    ----------
    w : np.ndarray [shape=(1 + n_fft // 2,), dtype=float]
        Non-negative magnitude spectrum, not all zeros.
    sr : float
        Sample rate in Hz.
    n_fft : int
        FFT size of ``w``'s grid.

    Returns
    -------
    ComponentDescriptors

    Raises
    ------
    ParameterError
        If ``w`` has the wrong length, is negative or all zeros, or ``sr``/``n_fft`` are out of
        range.

    Examples
    --------
    >>> w = np.zeros(1025); w[46:48] = 1.0  # about 1 kHz at 44.1 kHz
    >>> d = describe_component(w, sr=44100, n_fft=2048)
    >>> round(d.centroid_hz), d.mfcc.shape
    (1001, (13,))
    """
    sr = check_float("sr", sr, lo=1.0)
    n_fft = check_int("n_fft", n_fft, lo=2)
    w64 = _check_component(w, n_fft=n_fft).astype(np.float64)
    step = sr / n_fft
    freqs = np.arange(w64.size) * step
    p = w64 / w64.sum()
    centroid = float(p @ freqs)
    bandwidth = float(np.sqrt(p @ (freqs - centroid) ** 2))
    power = p * p
    floor = 1e-10 * float(power.max())
    power_f = np.maximum(power, floor)
    flatness = float(np.exp(np.mean(np.log(power_f))) / np.mean(power_f))
    density = p / step  # integrates to 1 over Hz, on any grid
    mel = _mel_basis(sr, n_fft) @ (density * density) * step
    mel_db = 10.0 * np.log10(np.maximum(mel, 1e-10 * max(float(mel.max()), 1e-30)))
    mfcc = scipy.fft.dct(mel_db, type=2, norm="ortho")[:N_MFCC].astype(np.float32)
    return ComponentDescriptors(
        centroid_hz=centroid,
        bandwidth_hz=bandwidth,
        flatness=min(max(flatness, 0.0), 1.0),
        mfcc=mfcc,
    )


def descriptor_vector(d: ComponentDescriptors) -> np.ndarray:
    """Turn descriptors into a vector whose Euclidean distances compare components.

    ``[log2(centroid / 1 kHz), log2(bandwidth / 1 kHz), 4 * flatness, mfcc / 20 dB]``: one
    octave, a quarter of the flatness range and 20 dB of a cepstral coefficient weigh alike.

    Parameters
    ----------
    d : ComponentDescriptors

    Returns
    -------
    v : np.ndarray [shape=(16,), dtype=float32]

    Examples
    --------
    >>> d = ComponentDescriptors(2000.0, 500.0, 0.25, np.zeros(13, np.float32))
    >>> descriptor_vector(d)[:3].tolist()
    [1.0, -1.0, 1.0]
    """
    head = [
        np.log2(max(d.centroid_hz, 1e-3) / REFERENCE_HZ),
        np.log2(max(d.bandwidth_hz, 1e-3) / REFERENCE_HZ),
        FLATNESS_SCALE * d.flatness,
    ]
    mfcc = np.asarray(d.mfcc, dtype=np.float64).reshape(-1)
    if mfcc.shape != (N_MFCC,):
        raise ParameterError(f"mfcc has shape {mfcc.shape}; expected ({N_MFCC},)")
    return np.concatenate([head, mfcc / MFCC_SCALE_DB]).astype(np.float32)


def match_components(
    queries: np.ndarray,
    candidates: np.ndarray,
    *,
    strategy: Strategy,
    rng: np.random.Generator | None = None,
) -> MatchResult:
    """Choose a candidate for every query by descriptor distance.

    Parameters
    ----------
    queries : np.ndarray [shape=(K, D), dtype=float]
        Descriptor vectors to find partners for.
    candidates : np.ndarray [shape=(N, D), dtype=float]
        Descriptor vectors to choose from, ``N >= 1``.
    strategy : {"nearest", "random", "weird"}
        "nearest" takes the closest candidate, "weird" the furthest, "random" any (seeded).
    rng : np.random.Generator or None
        For "random"; ``None`` uses a fixed seed (0).

    Returns
    -------
    MatchResult
        ``indices`` (K,) int64 and ``distances`` (K,) float32.

    Raises
    ------
    ParameterError
        If there are no candidates, the dimensions differ or a value is not finite.

    Examples
    --------
    >>> q = np.array([[0.0, 0.0], [5.0, 5.0]])
    >>> c = np.array([[1.0, 0.0], [4.0, 4.0]])
    >>> match_components(q, c, strategy="nearest").indices.tolist()
    [0, 1]
    """
    check_choice("strategy", strategy, ("nearest", "random", "weird"))
    q = _check_matrix(queries, "queries")
    c = _check_matrix(candidates, "candidates")
    if c.shape[0] < 1:
        raise ParameterError("candidates is empty; at least one is needed")
    if q.shape[1] != c.shape[1]:
        raise ParameterError(
            f"queries have {q.shape[1]} dimensions but candidates have {c.shape[1]}"
        )
    dist = scipy.spatial.distance.cdist(q, c)
    if strategy == "nearest":
        idx = np.argmin(dist, axis=1)
    elif strategy == "weird":
        idx = np.argmax(dist, axis=1)
    else:
        gen = rng if rng is not None else np.random.default_rng(0)
        idx = gen.integers(0, c.shape[0], size=q.shape[0])
    idx = idx.astype(np.int64)
    chosen = dist[np.arange(q.shape[0]), idx].astype(np.float32)
    return MatchResult(indices=idx, distances=chosen)


def _check_matrix(A: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(A, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array, got {type(A).__name__}")
    if A.ndim != 2:
        raise ParameterError(f"{name} must have shape (n, dims), got {A.shape}")
    if np.iscomplexobj(A):
        raise ParameterError(f"{name} must be real-valued")
    A64 = np.asarray(A, dtype=np.float64)
    if not np.all(np.isfinite(A64)):
        raise ParameterError(f"{name} contains NaN or infinite values")
    return A64
