"""Weightless source separation: soft masks on a shared STFT, rendered in bounded memory.

Five backends, one function shape. Each computes a few *native* masks that sum to one
(HPSS: harmonic / percussive / residual; melody: HPSS with the harmonic part split into the
predominant melody and its accompaniment; REPET-SIM on the harmonic part: percussive /
repeating background / foreground; NMF clustering: drums / bass / other / residual; band split:
low / mid / high) and maps **any** stem of :data:`STEMS` onto them, deterministically. Asking a
backend for a stem it was not built for is allowed on purpose (the "wrong target" separations
musicians like): a band split asked for ``"drums"`` gives the low and high bands (kick and
cymbals), and so on; see ``_STEM_RULES``.

"Vocals" means the lead melody wherever a backend has a harmonic part: the predominant pitch is
tracked on it (harmonic-summation salience, Salamon and Gomez 2012; a Viterbi path with an
unvoiced state, as pYIN) and a harmonic comb on that pitch (:func:`melody_mask`) splits the
harmonic part into the melody ("vocals") and the rest ("other"). The comb is only computed
when a requested stem needs it.

Every estimate is ``mask * D`` with ``0 <= mask <= 1``, so estimate and residual
``(1 - mask) * D`` add up to the mix. Long inputs are processed in segments of
:data:`SEGMENT_S` seconds of STFT frames with :data:`CONTEXT_S` of context on each side and a
:data:`CROSSFADE_S` linear crossfade; each segment's masked frames are overlap-added straight
into the output, so no full-length mask is ever held and a 10-minute track stays small.
For frame-local backends (HPSS, bands) the segmented result equals the whole-signal one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

import numba
import numpy as np
import torch

from residue.dsp import nmf, spectral
from residue.dsp._validate import check_audio, check_choice, check_float, check_int
from residue.dsp.progress import CancelToken, ProgressFn, no_progress
from residue.dsp.spectral import HOP_LENGTH, N_FFT, DeviceLike, as_device, check_stft
from residue.errors import ParameterError

Backend = Literal["hpss", "melody", "repet", "nmf", "bands"]
BACKENDS: tuple[str, ...] = ("hpss", "melody", "repet", "nmf", "bands")
"""The weightless backends."""

STEMS: tuple[str, ...] = (
    "drums",
    "bass",
    "vocals",
    "other",
    "piano",
    "guitar",
    "harmonic",
    "percussive",
    "residual",
    "foreground",
    "background",
    "low",
    "mid",
    "high",
)
"""Every stem name a separation can be asked for (demucs's six stems plus descriptive ones)."""

SEGMENT_S = 30.0
"""Length of the STFT segments long inputs are cut into, in seconds."""
CONTEXT_S = 3.0
"""Extra frames computed on each side of a segment so its edges see their neighbourhood."""
CROSSFADE_S = 1.0
"""Linear crossfade between neighbouring segments' masks, in seconds."""
VOCAL_BAND_HZ = (200.0, 5000.0)
"""The soft band that stands for "vocals" wherever a backend has no better idea."""
BAND_ORDER = 4.0
"""Steepness of the soft band edges used by stem rules (``1 / (1 + (f / fc) ** (2 * order))``)."""
REPET_HPSS_KERNEL = 31
"""Median filter length of the HPSS that sets percussion aside before REPET-SIM."""
MELODY_FMIN_HZ = 80.0
"""Lowest melody f0 considered: about E2, the lowest note most singers reach."""
MELODY_FMAX_HZ = 1760.0
"""Highest melody f0 considered: A6, the top of Melodia's range (sopranos, flutes, whistles)."""
SALIENCE_CENTS = 10.0
"""Resolution of the f0 grid of the salience function, in cents (Salamon and Gomez 2012)."""
SALIENCE_HARMONICS = 20
"""Harmonics summed per f0 candidate (Salamon and Gomez 2012)."""
SALIENCE_ALPHA = 0.8
"""Weight decay per harmonic, ``alpha ** (h - 1)`` (Salamon and Gomez 2012)."""
SALIENCE_RANGE_DB = 40.0
"""Spectral peaks more than this below the frame's strongest are ignored (the same paper)."""
SALIENCE_MAX_HZ = 5000.0
"""Partials above this do not vote for a pitch (the top of :data:`VOCAL_BAND_HZ`)."""
JUMP_COST = 0.5
"""Melody path penalty per semitone of f0 change between frames, in log-salience units.

Each frame's evidence is the log of its salience, so a jump of ``n`` semitones costs as much as
following a pitch with ``exp(-0.5 n)`` of the salience for one frame: a fifth costs as much as
one frame at 3 % of the salience, so a note change (after which the old pitch's salience
collapses) is followed at once, while a brief octave or chord-tone flip is not. Vibrato
(+-50 cents at 5.5 Hz) costs about 0.1 per frame, less than losing the peak (0.7 at 50 cents).
A Laplacian transition like this is what Viterbi pitch trackers use (pYIN, Mauch and Dixon
2014; Durrieu et al. 2010)."""
VOICING_SWITCH_COST = math.log(100.0)
"""Cost of switching between voiced and unvoiced: a switch probability of 0.01, as pYIN's."""
VOICING_THRESHOLD_DB = -10.0
"""Salience, relative to the segment's typical melody salience, below which a frame is unvoiced.

The reference is the 90th percentile of each frame's highest salience (the melody where it is
clearly present). Lead parts of produced music are compressed to within about 10 dB of their
typical level, so a pitch 10 dB below it is the accompaniment showing through a rest."""
COMB_WIDTH_CENTS = 30.0
"""Half-width of each tooth of the harmonic comb beyond the analysis window's own main lobe.

It covers the residual f0 error (a 10-cent grid, interpolated) and the pitch glide inside one
analysis window during vibrato (about +-30 cents for a 46 ms window, for a typical +-50 cents
at 5.5 Hz; Sundberg 1987)."""
COMB_MAX_HZ = 8000.0
"""Harmonics of the melody above this are not claimed (they drown in cymbals and noise)."""
_REF_PERCENTILE = 90.0
_EPS = 1e-10
_TINY = float(np.finfo(np.float32).tiny)

ParamValue = int | float | str | None


@dataclass(frozen=True)
class ParamSpec:
    """One tunable parameter of a backend: its type, range and default.

    ``kind`` is ``"int"``, ``"float"`` or ``"choice"``; ``lo``/``hi`` bound numbers, ``choices``
    lists the allowed strings; ``optional`` allows ``None`` (meaning "the backend's own");
    ``odd`` asks for an odd integer; ``below`` names a parameter this one must stay below. The
    last two are checked by :func:`resolve_params`, which sees all of a backend's values.
    """

    name: str
    kind: Literal["int", "float", "choice"]
    default: ParamValue
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False
    doc: str = ""
    odd: bool = False
    below: str | None = None

    def check(self, value: object, *, where: str) -> ParamValue:
        """Validate ``value`` and return it in canonical form.

        Raises
        ------
        ParameterError
            If the value has the wrong type or is out of range, naming ``where``.
        """
        label = f"{where}: {self.name}"
        if value is None:
            if self.optional:
                return None
            raise ParameterError(f"{label} must not be null")
        if self.kind == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            lo = int(self.lo) if self.lo is not None else 0
            hi = int(self.hi) if self.hi is not None else None
            return check_int(label, value, lo=lo, hi=hi)  # type: ignore[arg-type]
        if self.kind == "float":
            return check_float(label, value, lo=self.lo, hi=self.hi)  # type: ignore[arg-type]
        return str(check_choice(label, value, self.choices))


def num(params: Mapping[str, ParamValue], name: str) -> float:
    """Return the number ``params[name]`` as a float (ParameterError if it is not one)."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{name}={value!r} must be a number")
    return float(value)


def integer(params: Mapping[str, ParamValue], name: str) -> int:
    """Return the integer ``params[name]`` (ParameterError if it is not one)."""
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name}={value!r} must be an integer")
    return value


PARAMS: dict[str, dict[str, ParamSpec]] = {
    "hpss": {
        p.name: p
        for p in (
            ParamSpec("kernel", "int", 31, 3, 255, doc="odd median filter length, frames and bins",
                      odd=True),
            ParamSpec("margin", "float", 1.0, 1.0, 16.0, doc="margin; above 1 adds a residual"),
            ParamSpec("power", "float", 2.0, 0.5, 8.0, doc="soft-mask exponent"),
            ParamSpec("bass_cutoff_hz", "float", 150.0, 20.0, 1000.0, doc="top of the bass band"),
        )
    },
    "repet": {
        p.name: p
        for p in (
            ParamSpec("margin", "float", 0.5, 0.1, 20.0, doc="bias against the foreground"),
            ParamSpec("width_s", "float", 4.0, 0.1, 20.0, doc="closer frames never match"),
            ParamSpec("n_neighbors", "int", 31, 3, 255, doc="similar frames aggregated per frame"),
            ParamSpec("power", "float", 2.0, 0.5, 8.0, doc="soft-mask exponent"),
            ParamSpec("bass_cutoff_hz", "float", 150.0, 20.0, 1000.0, doc="top of the bass band"),
        )
    },
    "nmf": {
        p.name: p
        for p in (
            ParamSpec("n_components", "int", 24, 2, 64, doc="NMF units per segment"),
            ParamSpec("n_iter", "int", 60, 5, 1000, doc="NMF iterations"),
            ParamSpec("beta", "float", 1.0, 0.0, 2.0, doc="0 Itakura-Saito, 1 KL, 2 Euclidean"),
            ParamSpec("bass_cutoff_hz", "float", 300.0, 20.0, 1000.0, doc="top of the bass band"),
            ParamSpec(
                "percussive_threshold",
                "float",
                0.5,
                0.0,
                1.0,
                doc="percussive energy fraction above which a unit counts as drums",
            ),
            ParamSpec("seed", "int", 0, 0, 2**31 - 1, doc="random seed of the factorisation"),
        )
    },
    "melody": {
        p.name: p
        for p in (
            ParamSpec("kernel", "int", 31, 3, 255, doc="odd HPSS median filter length", odd=True),
            ParamSpec("margin", "float", 1.0, 1.0, 16.0, doc="HPSS margin; >1 adds a residual"),
            ParamSpec("fmin_hz", "float", MELODY_FMIN_HZ, 20.0, 1000.0, doc="lowest melody f0",
                      below="fmax_hz"),
            ParamSpec("fmax_hz", "float", MELODY_FMAX_HZ, 100.0, 5000.0, doc="highest melody f0"),
            ParamSpec(
                "jump_cost", "float", JUMP_COST, 0.0, 10.0, doc="path penalty per semitone moved"
            ),
            ParamSpec(
                "voicing_threshold_db",
                "float",
                VOICING_THRESHOLD_DB,
                -60.0,
                0.0,
                doc="salience below the melody's typical level at which it rests",
            ),
            ParamSpec(
                "width_cents", "float", COMB_WIDTH_CENTS, 0.0, 200.0, doc="comb tooth tolerance"
            ),
            ParamSpec("bass_cutoff_hz", "float", 150.0, 20.0, 1000.0, doc="top of the bass band"),
        )
    },
    "bands": {
        p.name: p
        for p in (
            ParamSpec("low_hz", "float", 200.0, 20.0, 4000.0, doc="low/mid crossover",
                      below="high_hz"),
            ParamSpec("high_hz", "float", 4000.0, 200.0, 20000.0, doc="mid/high crossover"),
            ParamSpec("order", "float", 4.0, 0.5, 24.0, doc="crossover steepness"),
        )
    },
}
"""The parameters each weightless backend takes, with ranges and defaults."""


class Separation(NamedTuple):
    """One separated stem as audio.

    ``estimate + residual`` equals the mix (up to STFT round-off).
    """

    estimate: np.ndarray
    """float32 (..., n_samples): the stem."""
    residual: np.ndarray
    """float32 (..., n_samples): everything else, rendered from ``1 - mask``."""


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is a weightless backend, else raise ParameterError."""
    return str(check_choice("backend", backend, BACKENDS))


def check_stem(stem: str) -> str:
    """Return ``stem`` if it is in :data:`STEMS`, else raise ParameterError."""
    return str(check_choice("stem", stem, STEMS))


def resolve_params(
    backend: str,
    params: Mapping[str, object] | None = None,
    *,
    specs: Mapping[str, ParamSpec] | None = None,
) -> dict[str, ParamValue]:
    """Validate ``params`` against a backend's specs and fill in defaults.

    Parameters
    ----------
    backend : str
        Backend name (used in messages and to look up :data:`PARAMS` when ``specs`` is None).
    params : mapping or None
        Given values; missing ones take their defaults.
    specs : mapping or None
        Parameter specs to check against (defaults to ``PARAMS[backend]``).

    Returns
    -------
    dict
        Every parameter of the backend, in spec order.

    Raises
    ------
    ParameterError
        On an unknown parameter name or a value out of range.

    Examples
    --------
    >>> resolve_params("bands", {"low_hz": 100})["low_hz"]
    100.0
    """
    if specs is None:
        specs = PARAMS[check_backend(backend)]
    given = dict(params or {})
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise ParameterError(
            f"{backend} has no parameter {unknown[0]!r}; it takes {', '.join(specs)}"
        )
    out = {
        name: spec.check(given.get(name, spec.default), where=backend)
        for name, spec in specs.items()
    }
    for name, spec in specs.items():
        if spec.odd and integer(out, name) % 2 == 0:
            raise ParameterError(f"{backend}: {name}={out[name]} must be odd")
        if spec.below is not None and num(out, name) >= num(out, spec.below):
            raise ParameterError(
                f"{backend}: {name}={out[name]:g} must be below {spec.below}={out[spec.below]:g}"
            )
    if backend == "melody" and num(out, "fmin_hz") * 2 ** (SALIENCE_CENTS / 1200) >= num(
        out, "fmax_hz"
    ):  # the f0 grid needs at least one step between them
        raise ParameterError(
            f"melody: fmin_hz={out['fmin_hz']:g} must be below fmax_hz={out['fmax_hz']:g}"
        )
    return out


# ---------------------------------------------------------------------------------------------
# Masks on one block of frames
# ---------------------------------------------------------------------------------------------


def _freqs(n_bins: int, sr: float) -> np.ndarray:
    return np.linspace(0.0, sr / 2, n_bins, dtype=np.float64)


def lowpass_weights(
    freqs: np.ndarray, cutoff_hz: float, *, order: float = BAND_ORDER
) -> np.ndarray:
    """Soft low-pass gains ``1 / (1 + (f / fc) ** (2 * order))`` per bin, float32 (F, 1)."""
    ratio = np.maximum(freqs, 0.0) / max(cutoff_hz, 1e-6)
    with np.errstate(over="ignore"):
        g = 1.0 / (1.0 + ratio ** (2.0 * order))
    out: np.ndarray = g.astype(np.float32)[:, None]
    return out


def band_masks(
    n_bins: int, *, sr: float, low_hz: float, high_hz: float, order: float = BAND_ORDER
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Complementary soft low / mid / high gains per bin that sum to one.

    Returns
    -------
    low, mid, high : np.ndarray [shape=(n_bins, 1), dtype=float32]
    """
    f = _freqs(n_bins, sr)
    lp_low = lowpass_weights(f, low_hz, order=order)
    lp_high = lowpass_weights(f, high_hz, order=order)
    low = lp_low
    mid = np.maximum(lp_high - lp_low, 0.0)
    high = 1.0 - lp_high
    return low, mid, high


def _softmask(
    X: np.ndarray, X_ref: np.ndarray, power: float, *, split_zeros: bool = False
) -> np.ndarray:
    """``X**p / (X**p + X_ref**p)``; where both are 0: 0.5 with ``split_zeros``, else 0.

    The same as ``librosa.util.softmask``, in float32.
    """
    scale = np.maximum(np.maximum(X, X_ref), np.float32(_TINY))
    a = (X / scale) ** np.float32(power)
    b = (X_ref / scale) ** np.float32(power)
    total = a + b
    zero = total < np.float32(_TINY)
    out = a / np.where(zero, np.float32(1.0), total)
    if split_zeros:
        out = np.where(zero, np.float32(0.5), out)
    return np.asarray(out, dtype=np.float32)


@numba.njit(cache=True)
def _running_median(X: np.ndarray, size: int) -> np.ndarray:  # pragma: no cover - compiled
    """Median over a sliding window of odd ``size`` along the last axis of 2-D ``X``.

    Edges are extended like ``scipy.ndimage.median_filter(mode="reflect")`` (``d c b a | a b c
    d | d c b a``), so the result equals scipy's whenever the half window fits in the line
    (shorter lines are extended periodically, where scipy differs); a sorted window updated in
    place makes it about 15 times faster than scipy's generic rank filter.
    """
    rows, n = X.shape
    h = size // 2
    period = 2 * n
    out = np.empty_like(X)
    pad = np.empty(n + 2 * h, dtype=X.dtype)
    for r in range(rows):
        x = X[r]
        for i in range(n + 2 * h):
            j = ((i - h) % period + period) % period
            if j >= n:
                j = period - 1 - j
            pad[i] = x[j]
        win = np.sort(pad[:size].copy())
        out[r, 0] = win[h]
        for i in range(1, n):
            old = pad[i - 1]
            new = pad[i - 1 + size]
            k = np.searchsorted(win, old)
            if new >= old:
                while k + 1 < size and win[k + 1] < new:
                    win[k] = win[k + 1]
                    k += 1
            else:
                while k > 0 and win[k - 1] > new:
                    win[k] = win[k - 1]
                    k -= 1
            win[k] = new
            out[r, i] = win[h]
    return out


def median_filter(X: np.ndarray, *, size: int, axis: int) -> np.ndarray:
    """Sliding median of odd ``size`` along ``axis`` (scipy's ``mode="reflect"`` edges).

    Parameters
    ----------
    X : np.ndarray [shape=(...), dtype=float32]
        Finite values.
    size : int
        Odd window length, at least 1.
    axis : int
        Axis to filter along.

    Returns
    -------
    np.ndarray [shape=X.shape, dtype=float32]

    Raises
    ------
    ParameterError
        If ``size`` is not a positive odd integer.

    Examples
    --------
    >>> median_filter(np.array([1.0, 9.0, 2.0, 3.0], dtype=np.float32), size=3, axis=0).tolist()
    [1.0, 2.0, 3.0, 3.0]
    """
    size = check_int("size", size, lo=1)
    if size % 2 == 0:
        raise ParameterError(f"size={size} must be odd")
    moved = np.moveaxis(np.asarray(X, dtype=np.float32), axis, -1)
    flat = np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]))
    out = _running_median(flat, size).reshape(moved.shape)
    return np.ascontiguousarray(np.moveaxis(out, -1, axis))


def hpss_masks(
    S: np.ndarray, *, kernel: int, margin: float = 1.0, power: float = 2.0
) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic and percussive soft masks, as ``librosa.decompose.hpss(mask=True)``.

    The same median-filtering method (Fitzgerald 2010; Driedger, Mueller and Disch 2014 for
    the margin) with a faster median filter. With ``margin > 1`` the masks sum to less than
    one; the rest is the residual.

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_bins, n_frames), dtype=float32]
        Magnitudes.
    kernel : int
        Odd median filter length, in frames (harmonic) and bins (percussive).
    margin : float
        At least 1.
    power : float
        Soft-mask exponent, positive.

    Returns
    -------
    mask_harmonic, mask_percussive : np.ndarray [shape=S.shape, dtype=float32]
    """
    harm = median_filter(S, size=kernel, axis=-1)
    perc = median_filter(S, size=kernel, axis=-2)
    split = margin == 1.0
    return (
        _softmask(harm, perc * margin, power, split_zeros=split),
        _softmask(perc, harm * margin, power, split_zeros=split),
    )


class _Natives(Mapping[str, np.ndarray]):
    """A backend's native masks; the costlier ones are computed when a stem rule first reads them.

    The melody comb is only tracked for the stems that use it, so a cell asking HPSS for drums
    pays nothing for it.
    """

    def __init__(
        self,
        ready: Mapping[str, np.ndarray],
        lazy: Mapping[str, Callable[[], np.ndarray]] | None = None,
    ) -> None:
        self._ready = dict(ready)
        self._lazy = dict(lazy or {})

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._ready:
            make = self._lazy.pop(key, None)
            if make is None:
                raise KeyError(key)
            self._ready[key] = make()
        return self._ready[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._ready, *self._lazy])

    def __len__(self) -> int:
        return len(self._ready) + len(self._lazy)


def _melody_of(
    S: np.ndarray, mH: np.ndarray, *, sr: float, p: Mapping[str, ParamValue] | None = None
) -> Callable[[], np.ndarray]:
    """A thunk for the melody comb of the harmonic part ``S * mH`` (parameters from ``p``)."""
    q = p or {}

    def make() -> np.ndarray:
        return melody_mask(
            S * mH,
            sr=sr,
            fmin_hz=num(q, "fmin_hz") if "fmin_hz" in q else MELODY_FMIN_HZ,
            fmax_hz=num(q, "fmax_hz") if "fmax_hz" in q else MELODY_FMAX_HZ,
            jump_cost=num(q, "jump_cost") if "jump_cost" in q else JUMP_COST,
            voicing_threshold_db=(
                num(q, "voicing_threshold_db")
                if "voicing_threshold_db" in q
                else VOICING_THRESHOLD_DB
            ),
            width_cents=num(q, "width_cents") if "width_cents" in q else COMB_WIDTH_CENTS,
        )

    return make


def _hpss_native(S: np.ndarray, p: Mapping[str, ParamValue], *, sr: float) -> _Natives:
    kernel, margin, power = integer(p, "kernel"), num(p, "margin"), num(p, "power")
    mH, mP = hpss_masks(S, kernel=kernel, margin=margin, power=power)
    mR = np.clip(1.0 - mH - mP, 0.0, 1.0)
    return _Natives(
        {"harmonic": mH, "percussive": mP, "residual": mR},
        {"melody": _melody_of(S, mH, sr=sr)},
    )


def _melody_native(S: np.ndarray, p: Mapping[str, ParamValue], *, sr: float) -> _Natives:
    """HPSS, then the harmonic part split by the melody's comb into melody and accompaniment."""
    kernel, margin = integer(p, "kernel"), num(p, "margin")
    mH, mP = hpss_masks(S, kernel=kernel, margin=margin)
    mR = np.clip(1.0 - mH - mP, 0.0, 1.0)
    comb = _melody_of(S, mH, sr=sr, p=p)()
    return _Natives(
        {
            "melody": mH * comb,
            "accompaniment": mH * (1.0 - comb),
            "percussive": mP,
            "residual": mR,
            "comb": np.broadcast_to(comb, S.shape),
        }
    )


def repet_filter(
    S: np.ndarray, *, width: int, n_neighbors: int, device: DeviceLike = None
) -> np.ndarray:
    """REPET-SIM's repeating-pattern estimate: each frame replaced by the median of similar frames.

    Similarity is the cosine between frames of the channel-mean magnitude (bins pooled by 8 to
    keep it cheap); frames closer than ``width`` frames never count as neighbours.

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_bins, n_frames), dtype=float32]
        Magnitudes.
    width : int
        Exclusion half-width in frames, at least 1.
    n_neighbors : int
        Neighbours per frame, at least 1 (fewer if fewer frames are eligible).
    device : str or torch.device or None
        Where the work runs.

    Returns
    -------
    S_filter : np.ndarray [shape=S.shape, dtype=float32]
        Element-wise median over each frame's neighbours (the mean of the two middle values
        for an even count, as ``np.median``; a frame with no eligible neighbour keeps itself).
    """
    dev = as_device(device)
    lead = S.shape[:-2]
    n_bins, n_frames = S.shape[-2:]
    X = torch.from_numpy(np.ascontiguousarray(S.reshape(-1, n_bins, n_frames))).to(dev)
    mono = X.mean(dim=0)
    pool = 8
    usable = (n_bins // pool) * pool
    feat = mono[:usable].reshape(usable // pool, pool, n_frames).mean(dim=1).T  # (T, F')
    feat = feat / feat.norm(dim=1, keepdim=True).clamp_min(_EPS)
    sim = feat @ feat.T
    idx = torch.arange(n_frames, device=dev)
    near = (idx[:, None] - idx[None, :]).abs() < width
    sim = sim.masked_fill(near, -math.inf)
    k = min(n_neighbors, max(n_frames - 1, 1))
    vals, nbrs = torch.topk(sim, k=k, dim=1)
    counts = torch.isfinite(vals).sum(dim=1)  # fewer than k where few frames are eligible
    Xt = np.ascontiguousarray(S.reshape(-1, n_bins, n_frames).transpose(2, 0, 1)).reshape(
        n_frames, -1
    )
    out = _neighbour_median(
        Xt,
        np.ascontiguousarray(nbrs.cpu().numpy(), dtype=np.int64),
        np.ascontiguousarray(counts.cpu().numpy(), dtype=np.int64),
    )
    B = int(np.prod(lead)) if lead else 1
    med = out.reshape(n_frames, B, n_bins).transpose(1, 2, 0)
    return np.ascontiguousarray(med, dtype=np.float32).reshape(*lead, n_bins, n_frames)


def _neighbour_median(Xt: np.ndarray, nbrs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row ``t`` of the result is the element-wise median of rows ``nbrs[t, :counts[t]]``.

    The median of an even count is the mean of the two middle values (as ``np.median``); a row
    with no neighbour keeps itself. ``np.partition`` per row: about three times faster than
    ``np.median`` or torch's median over the gathered neighbours.
    """
    out = np.empty_like(Xt)
    for t in range(Xt.shape[0]):
        k = int(counts[t])
        if k == 0:
            out[t] = Xt[t]
            continue
        G = Xt[nbrs[t, :k]]
        half = k // 2
        if k % 2:
            out[t] = np.partition(G, half, axis=0)[half]
        else:
            part = np.partition(G, (half - 1, half), axis=0)
            out[t] = 0.5 * (part[half - 1] + part[half])
    return out


def _repet_native(
    S: np.ndarray, p: Mapping[str, ParamValue], *, sr: float, hop_length: int, device: DeviceLike
) -> _Natives:
    # Percussion is set aside first: drums repeat too and would swamp the repeating background,
    # leaving the melody (what does not repeat) mixed with every hit.
    mH, mP = hpss_masks(S, kernel=REPET_HPSS_KERNEL)
    harmonic = S * mH
    width = max(1, round(num(p, "width_s") * sr / hop_length))
    S_f = repet_filter(harmonic, width=width, n_neighbors=integer(p, "n_neighbors"), device=device)
    S_f = np.minimum(harmonic, S_f)
    fg = _softmask(harmonic - S_f, num(p, "margin") * S_f, num(p, "power"))
    return _Natives(
        {"percussive": mP, "foreground": mH * fg, "background": mH * (1.0 - fg)},
        {"melody": _melody_of(S, mH, sr=sr)},
    )


def _bands_native(S: np.ndarray, p: Mapping[str, ParamValue], *, sr: float) -> _Natives:
    low, mid, high = band_masks(
        S.shape[-2],
        sr=sr,
        low_hz=num(p, "low_hz"),
        high_hz=num(p, "high_hz"),
        order=num(p, "order"),
    )
    shape = S.shape
    return _Natives(
        {
            "low": np.broadcast_to(low, shape),
            "mid": np.broadcast_to(mid, shape),
            "high": np.broadcast_to(high, shape),
        }
    )


class UnitFeatures(NamedTuple):
    """What NMF clustering looked at, per unit (each float64 (K,))."""

    percussive: np.ndarray
    """Fraction of the unit's energy that HPSS calls percussive (rhythm: short, sharp hits)."""
    low_fraction: np.ndarray
    """Fraction of the spectrum's energy below the bass cutoff (timbre)."""
    centroid_hz: np.ndarray
    """Spectral centroid of the unit's spectrum (timbre)."""
    onset_rate: np.ndarray
    """Rise of the activation per unit of activation, per second (rhythm: onset-ness)."""


def unit_features(
    W: np.ndarray,
    H: np.ndarray,
    *,
    P: np.ndarray,
    sr: float,
    hop_length: int,
    bass_cutoff_hz: float,
) -> UnitFeatures:
    """Timbre and rhythm descriptors of NMF units.

    Parameters
    ----------
    W : np.ndarray [shape=(n_bins, K), dtype=float32]
        Unit spectra.
    H : np.ndarray [shape=(B, K, n_frames), dtype=float32]
        Activations per channel.
    P : np.ndarray [shape=(B, n_bins, n_frames), dtype=float32]
        Percussive soft mask of the mix (HPSS), in [0, 1].
    sr : float
        Sample rate in Hz.
    hop_length : int
        STFT hop in samples.
    bass_cutoff_hz : float
        Top of the bass band.

    Returns
    -------
    UnitFeatures
    """
    f = _freqs(W.shape[0], sr)
    W64 = W.astype(np.float64)
    energy = (W64**2).sum(axis=0) + _EPS
    low_fraction = (W64[f < bass_cutoff_hz] ** 2).sum(axis=0) / energy
    centroid = (f[:, None] * W64).sum(axis=0) / (W64.sum(axis=0) + _EPS)
    # Percussive share of unit k's reconstruction: sum_ft P W_fk H_kt / sum_ft W_fk H_kt.
    PW = np.einsum("bft,fk->bkt", P, W, optimize=True).astype(np.float64)
    num = (PW * H).sum(axis=(0, 2))
    den = (W64.sum(axis=0)[None, :, None] * H).sum(axis=(0, 2)) + _EPS
    percussive = num / den
    rise = np.maximum(np.diff(H.astype(np.float64), axis=-1), 0.0).sum(axis=(0, 2))
    onset_rate = rise / (H.astype(np.float64).sum(axis=(0, 2)) + _EPS) * sr / hop_length
    return UnitFeatures(percussive, low_fraction, centroid, onset_rate)


def assign_units(features: UnitFeatures, *, percussive_threshold: float) -> np.ndarray:
    """Label each unit 0 = drums, 1 = bass, 2 = other.

    A unit whose energy is mostly percussive is drums (kicks included: rhythm wins over
    timbre); otherwise a unit whose spectrum lies mostly below the bass cutoff is bass.
    """
    labels = np.full(features.percussive.shape, 2, dtype=np.int64)
    labels[features.low_fraction >= 0.5] = 1
    labels[features.percussive >= percussive_threshold] = 0
    return labels


def _nmf_native(
    S: np.ndarray,
    p: Mapping[str, ParamValue],
    *,
    sr: float,
    hop_length: int,
    device: DeviceLike,
    cancel: CancelToken | None,
) -> _Natives:
    shape = S.shape
    n_bins, n_frames = shape[-2:]
    X = S.reshape(-1, n_bins, n_frames)
    B = X.shape[0]
    V = np.concatenate(list(X), axis=-1)  # channels share the units
    result = nmf.decompose(
        V,
        n_components=integer(p, "n_components"),
        beta=num(p, "beta"),
        n_iter=integer(p, "n_iter"),
        rng=np.random.default_rng(integer(p, "seed")),
        device=device,
        cancel=cancel,
    )
    W = np.asarray(result.W, dtype=np.float32)
    H = np.stack(np.split(np.asarray(result.H, dtype=np.float32), B, axis=-1))  # (B, K, T)
    mH, P = hpss_masks(X, kernel=17)
    feats = unit_features(
        W,
        H,
        P=P.astype(np.float32),
        sr=sr,
        hop_length=hop_length,
        bass_cutoff_hz=num(p, "bass_cutoff_hz"),
    )
    labels = assign_units(feats, percussive_threshold=num(p, "percussive_threshold"))
    total = np.einsum("fk,bkt->bft", W, H, optimize=True) + _EPS
    # What the factorisation does not explain is its own "residual" stem.
    explained = np.minimum(total, X) / np.maximum(X, _EPS)
    explained = np.where(X > _EPS, explained, 1.0).astype(np.float32)
    out: dict[str, np.ndarray] = {"residual": (1.0 - explained).reshape(shape)}
    for label, name in enumerate(("drums", "bass", "other")):
        sel = labels == label
        if sel.any():
            part = np.einsum("fk,bkt->bft", W[:, sel], H[:, sel], optimize=True)
            out[name] = (explained * part / total).astype(np.float32).reshape(shape)
        else:
            out[name] = np.zeros(shape, dtype=np.float32)
    return _Natives(out, {"melody": _melody_of(X, mH, sr=sr)})


# ---------------------------------------------------------------------------------------------
# Predominant melody: pitch salience, a continuity-constrained path, a harmonic comb
# ---------------------------------------------------------------------------------------------


def _a_weighting(f_hz: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting as a linear gain (0 dB at 1 kHz), per frequency in Hz.

    Melodia weights the spectrum by an equal-loudness curve before the salience (Salamon and
    Gomez 2012, section II-A); A-weighting is the standard approximation of one. Without it the
    bass and the low chord tones, whose many partials vote for low f0 candidates, win most
    frames.
    """
    f2 = np.asarray(f_hz, dtype=np.float64) ** 2
    ra = (12194.0**2 * f2**2) / (
        (f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2)
    )
    out: np.ndarray = ra * 10.0 ** (2.0 / 20.0)
    return out


class Melody(NamedTuple):
    """A predominant-melody track (see :func:`track_melody`)."""

    f0_hz: np.ndarray
    """float32 (n_frames,): the melody's f0 per frame, 0 where no melody is voiced."""
    salience: np.ndarray
    """float32 (n_f0, n_frames): the harmonic-summation salience the path was found on."""
    f0_grid_hz: np.ndarray
    """float32 (n_f0,): frequency of each salience row (log-spaced, :data:`SALIENCE_CENTS`)."""


def _f0_grid(fmin_hz: float, fmax_hz: float) -> np.ndarray:
    n = 1 + math.floor(1200.0 * math.log2(fmax_hz / fmin_hz) / SALIENCE_CENTS)
    return (fmin_hz * 2.0 ** (np.arange(n) * SALIENCE_CENTS / 1200.0)).astype(np.float64)


def _spectral_peaks(
    X: np.ndarray, *, sr: float, lo_hz: float, hi_hz: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local maxima of ``X`` (F, T) in ``[lo_hz, hi_hz]``: frame index, frequency, magnitude.

    Frequencies and magnitudes are refined by parabolic interpolation of the log magnitude
    (Smith and Serra 1987); peaks more than :data:`SALIENCE_RANGE_DB` below the frame's
    strongest are dropped.
    """
    n_bins = X.shape[0]
    bin_hz = sr / (2 * (n_bins - 1))
    k_lo = max(1, math.floor(lo_hz / bin_hz))
    k_hi = min(n_bins - 2, math.ceil(hi_hz / bin_hz))
    if k_hi < k_lo:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty
    mid = X[k_lo : k_hi + 1]
    below = X[k_lo - 1 : k_hi]
    above = X[k_lo + 1 : k_hi + 2]
    floor = mid.max(axis=0, keepdims=True) * np.float32(10.0 ** (-SALIENCE_RANGE_DB / 20.0))
    is_peak = (mid > below) & (mid >= above) & (mid > floor) & (mid > _TINY)
    kk, tt = np.nonzero(is_peak)
    la = np.log(below[kk, tt].astype(np.float64) + _TINY)
    lb = np.log(mid[kk, tt].astype(np.float64))
    lc = np.log(above[kk, tt].astype(np.float64) + _TINY)
    den = la - 2.0 * lb + lc
    delta = np.where(den < 0.0, 0.5 * (la - lc) / np.where(den < 0.0, den, -1.0), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    freq = (kk + k_lo + delta) * bin_hz
    amp = np.exp(lb - 0.25 * (la - lc) * delta)
    return tt.astype(np.int64), freq, amp


def melody_salience(
    S: np.ndarray,
    *,
    sr: float,
    fmin_hz: float = MELODY_FMIN_HZ,
    fmax_hz: float = MELODY_FMAX_HZ,
) -> tuple[np.ndarray, np.ndarray]:
    """Harmonic-summation pitch salience on a log-frequency grid.

    The salience function of Melodia (Salamon and Gomez 2012, section II): spectral peaks
    ``(f_p, a_p)`` are weighted by an equal-loudness curve (A-weighting here), and each votes
    with ``alpha ** (h - 1) * a_p`` for the f0 candidates ``f_p / h`` (``h = 1 ..``
    :data:`SALIENCE_HARMONICS`), spread over +-1 semitone with a ``cos**2`` weight. It is
    computed as a histogram of peaks on a grid of :data:`SALIENCE_CENTS` cents, blurred once
    and summed over ``h`` by shifting, so the cost is that of a few array passes.

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_bins, n_frames), dtype=float32]
        Magnitudes (channels are averaged), ideally the harmonic part of the mix.
    sr : float
        Sample rate in Hz.
    fmin_hz, fmax_hz : float
        Range of f0 candidates, ``0 < fmin_hz < fmax_hz``.

    Returns
    -------
    salience : np.ndarray [shape=(n_f0, n_frames), dtype=float32]
        Non-negative, in the units of ``S``.
    f0_grid_hz : np.ndarray [shape=(n_f0,), dtype=float32]
        Frequency of each row.

    Raises
    ------
    ParameterError
        If the f0 range is empty or not positive.

    Examples
    --------
    >>> sr, n = 22050, 22050
    >>> t = np.arange(n) / sr
    >>> y = sum(np.sin(2 * np.pi * 220 * h * t) / h for h in range(1, 6)).astype(np.float32)
    >>> sal, grid = melody_salience(np.abs(spectral.stft(y)), sr=sr)
    >>> round(float(grid[np.argmax(sal[:, 20])]))
    220
    """
    fmin_hz = check_float("fmin_hz", fmin_hz, lo=1.0)
    fmax_hz = check_float("fmax_hz", fmax_hz, lo=fmin_hz * 2 ** (SALIENCE_CENTS / 1200.0))
    if S.ndim < 2:
        raise ParameterError(f"S must have shape (..., n_bins, n_frames), got {S.shape}")
    n_bins, n_frames = S.shape[-2:]
    X = np.asarray(S, dtype=np.float32).reshape(-1, n_bins, n_frames).mean(axis=0)
    grid = _f0_grid(fmin_hz, fmax_hz)
    semitone = round(100.0 / SALIENCE_CENTS)
    top_hz = max(min(SALIENCE_MAX_HZ, 0.95 * sr / 2), fmax_hz)
    n_cells = 1 + math.ceil(1200.0 * math.log2(top_hz / fmin_hz) / SALIENCE_CENTS)
    tt, freq, amp = _spectral_peaks(X, sr=sr, lo_hz=fmin_hz * 2.0 ** (-1.0 / 12.0), hi_hz=top_hz)
    amp = amp * _a_weighting(freq)
    # Cell of each peak on the log grid; the first semitone below fmin is kept for the blur.
    cell = np.rint(1200.0 * np.log2(np.maximum(freq, _TINY) / fmin_hz) / SALIENCE_CENTS)
    cell = cell.astype(np.int64) + semitone
    keep = (cell >= 0) & (cell < n_cells + semitone)
    n_rows = n_cells + semitone
    P = (
        np.bincount(
            cell[keep] * n_frames + tt[keep], weights=amp[keep], minlength=n_rows * n_frames
        )
        .reshape(n_rows, n_frames)
        .astype(np.float64)
    )  # bincount of nothing is int64
    # +-1 semitone, cos^2 (the half-width is one semitone, so the end taps are zero).
    j = np.arange(-semitone, semitone + 1)
    kernel = np.cos(0.5 * np.pi * j / semitone) ** 2
    B = np.zeros_like(P)
    for off, w in zip(j.tolist(), kernel.tolist(), strict=True):
        if w <= 0.0:
            continue
        lo, hi = max(0, -off), min(n_rows, n_rows - off)
        B[lo:hi] += w * P[lo + off : hi + off]
    B = B[semitone:]  # row 0 is fmin again
    n_f0 = len(grid)
    sal = np.zeros((n_f0, n_frames), dtype=np.float64)
    for h in range(1, SALIENCE_HARMONICS + 1):
        shift = round(1200.0 * math.log2(h) / SALIENCE_CENTS)
        m = min(n_f0, B.shape[0] - shift)
        if m <= 0:
            break
        sal[:m] += SALIENCE_ALPHA ** (h - 1) * B[shift : shift + m]
    return sal.astype(np.float32), grid.astype(np.float32)


@numba.njit(cache=True)
def _viterbi_l1(
    E: np.ndarray, e_unvoiced: float, step_cost: float, switch_cost: float
) -> np.ndarray:  # pragma: no cover - compiled
    """Best path through ``E`` (T, n) plus an unvoiced state; -1 marks unvoiced frames.

    Score: the sum of the visited emissions, minus ``step_cost`` per row moved between frames
    and ``switch_cost`` per voiced/unvoiced switch. The max over predecessors of an L1 penalty
    is a distance transform done in two linear sweeps (Felzenszwalb and Huttenlocher 2012), so
    a frame costs O(n), not O(n**2).
    """
    T, n = E.shape
    back = np.empty((T, n), dtype=np.int32)
    back_u = np.empty(T, dtype=np.int32)
    prev = E[0].copy()
    prev_u = e_unvoiced
    f = np.empty(n)
    arg = np.empty(n, dtype=np.int32)
    cur = np.empty(n)
    for t in range(1, T):
        f[0] = prev[0]
        arg[0] = 0
        for i in range(1, n):
            if f[i - 1] - step_cost > prev[i]:
                f[i] = f[i - 1] - step_cost
                arg[i] = arg[i - 1]
            else:
                f[i] = prev[i]
                arg[i] = i
        for i in range(n - 2, -1, -1):
            if f[i + 1] - step_cost > f[i]:
                f[i] = f[i + 1] - step_cost
                arg[i] = arg[i + 1]
        best = 0
        for i in range(1, n):
            if prev[i] > prev[best]:
                best = i
        enter = prev_u - switch_cost
        for i in range(n):
            if enter > f[i]:
                cur[i] = enter + E[t, i]
                back[t, i] = -1
            else:
                cur[i] = f[i] + E[t, i]
                back[t, i] = arg[i]
        if prev_u >= prev[best] - switch_cost:
            new_u = prev_u + e_unvoiced
            back_u[t] = -1
        else:
            new_u = prev[best] - switch_cost + e_unvoiced
            back_u[t] = best
        prev, cur = cur, prev
        prev_u = new_u
    path = np.empty(T, dtype=np.int64)
    state = -1
    best = 0
    for i in range(1, n):
        if prev[i] > prev[best]:
            best = i
    if prev[best] > prev_u:
        state = best
    for t in range(T - 1, -1, -1):
        path[t] = state
        if t == 0:
            break
        if state < 0:
            state = back_u[t]
        else:
            state = back[t, state]
    return path


def track_melody(
    S: np.ndarray,
    *,
    sr: float,
    fmin_hz: float = MELODY_FMIN_HZ,
    fmax_hz: float = MELODY_FMAX_HZ,
    jump_cost: float = JUMP_COST,
    voicing_threshold_db: float = VOICING_THRESHOLD_DB,
) -> Melody:
    """Predominant melody: the most salient continuous pitch path, with unvoiced stretches.

    The salience of :func:`melody_salience` is followed by a Viterbi path over its f0 grid plus
    an unvoiced state (as pYIN, Mauch and Dixon 2014): each frame scores the log of its
    salience relative to the segment's typical melody salience (or ``voicing_threshold_db`` when
    unvoiced), moving costs ``jump_cost`` per semitone and switching voicing costs
    :data:`VOICING_SWITCH_COST`. The chosen f0 is refined by parabolic interpolation of the
    salience. This is the "predominant" melody of Salamon and Gomez 2012 (the loudest
    continuous pitched line), without their contour-level heuristics.

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_bins, n_frames), dtype=float32]
        Magnitudes, ideally of the harmonic part; channels share one melody.
    sr : float
        Sample rate in Hz.
    fmin_hz, fmax_hz : float
        Melody f0 range.
    jump_cost : float
        Path penalty per semitone of change between frames, non-negative.
    voicing_threshold_db : float
        Salience (dB relative to the 90th percentile of the frames' peak salience) below which
        the unvoiced state wins.

    Returns
    -------
    Melody

    Raises
    ------
    ParameterError
        If a value is out of range.

    Examples
    --------
    >>> sr, n = 22050, 22050
    >>> t = np.arange(n) / sr
    >>> y = sum(np.sin(2 * np.pi * 330 * h * t) / h for h in range(1, 6)).astype(np.float32)
    >>> mel = track_melody(np.abs(spectral.stft(y)), sr=sr)
    >>> bool(np.all(np.abs(mel.f0_hz[2:-2] - 330) < 5))
    True
    """
    jump_cost = check_float("jump_cost", jump_cost, lo=0.0)
    voicing_threshold_db = check_float("voicing_threshold_db", voicing_threshold_db, hi=0.0)
    sal, grid = melody_salience(S, sr=sr, fmin_hz=fmin_hz, fmax_hz=fmax_hz)
    n_frames = sal.shape[1]
    f0 = np.zeros(n_frames, dtype=np.float32)
    peak = sal.max(axis=0)
    ref = float(np.percentile(peak, _REF_PERCENTILE)) if n_frames else 0.0
    if ref <= _TINY:
        return Melody(f0, sal, grid)
    floor = ref * 10.0 ** ((voicing_threshold_db - 40.0) / 20.0)
    E = np.log(np.maximum(sal.astype(np.float64), floor) / ref).T
    path = _viterbi_l1(
        np.ascontiguousarray(E),
        voicing_threshold_db * math.log(10.0) / 20.0,
        jump_cost * SALIENCE_CENTS / 100.0,
        VOICING_SWITCH_COST,
    )
    voiced = np.nonzero(path >= 0)[0]
    i = path[voiced]
    lo, hi = np.maximum(i - 1, 0), np.minimum(i + 1, len(grid) - 1)
    a, b, c = E[voiced, lo], E[voiced, i], E[voiced, hi]
    den = a - 2.0 * b + c
    delta = np.where(den < 0.0, 0.5 * (a - c) / np.where(den < 0.0, den, -1.0), 0.0)
    delta = np.where((i > 0) & (i < len(grid) - 1), np.clip(delta, -0.5, 0.5), 0.0)
    f0[voiced] = grid[0] * 2.0 ** ((i + delta) * SALIENCE_CENTS / 1200.0)
    return Melody(f0, sal, grid)


def harmonic_comb(
    f0_hz: np.ndarray,
    *,
    n_bins: int,
    sr: float,
    width_cents: float = COMB_WIDTH_CENTS,
    max_hz: float = COMB_MAX_HZ,
) -> np.ndarray:
    """Soft gains in [0, 1] that pass the harmonics ``h * f0`` of a melody, frame by frame.

    Each harmonic gets a flat-topped tooth: gain 1 within ``width_cents`` plus half a bin of
    ``h * f0``, then a ``cos**2`` fall to 0 over 1.5 bins, where the analysis window's main
    lobe (+-2 bins for Hann) ends. This is the harmonic mask of pitch-informed separation
    (Ryynanen et al. 2008, Virtanen et al. 2008), with the tolerance in cents so that it
    widens with the harmonic number, as pitch errors and vibrato do.

    Parameters
    ----------
    f0_hz : np.ndarray [shape=(n_frames,)]
        f0 per frame, 0 (or negative) where there is no melody.
    n_bins : int
        STFT bins, ``1 + n_fft // 2``.
    sr : float
        Sample rate in Hz.
    width_cents : float
        Tolerance beyond the main lobe, non-negative.
    max_hz : float
        Harmonics above this get no tooth.

    Returns
    -------
    np.ndarray [shape=(n_bins, n_frames), dtype=float32]

    Examples
    --------
    >>> g = harmonic_comb(np.array([0.0, 440.0]), n_bins=1025, sr=44100)
    >>> float(g[:, 0].max()), float(g[round(880 / 44100 * 2048), 1])
    (0.0, 1.0)
    """
    n_bins = check_int("n_bins", n_bins, lo=2)
    width_cents = check_float("width_cents", width_cents, lo=0.0)
    # float32 throughout: a long segment's (n_bins, n_frames) temporaries stay small.
    f0 = np.asarray(f0_hz, dtype=np.float32)[None, :]
    f = _freqs(n_bins, sr).astype(np.float32)[:, None]
    bin_hz = np.float32(sr / (2 * (n_bins - 1)))
    voiced = f0 > 0.0
    f0_safe = np.where(voiced, f0, np.float32(1.0))
    h = np.maximum(np.rint(f / f0_safe), np.float32(1.0))
    target = h * f0_safe
    inner = target * np.float32(2.0 ** (width_cents / 1200.0) - 1.0) + np.float32(0.5) * bin_hz
    over = (np.abs(f - target) - inner) / (np.float32(1.5) * bin_hz)
    g = np.cos(np.float32(0.5 * np.pi) * np.clip(over, 0.0, 1.0)) ** 2
    keep = voiced & (target <= max_hz) & (over < 1.0)
    return np.where(keep, g, np.float32(0.0)).astype(np.float32)


def melody_mask(
    S: np.ndarray,
    *,
    sr: float,
    fmin_hz: float = MELODY_FMIN_HZ,
    fmax_hz: float = MELODY_FMAX_HZ,
    jump_cost: float = JUMP_COST,
    voicing_threshold_db: float = VOICING_THRESHOLD_DB,
    width_cents: float = COMB_WIDTH_CENTS,
) -> np.ndarray:
    """Harmonic comb of the predominant melody of ``S`` (:func:`track_melody`).

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_bins, n_frames), dtype=float32]
        Magnitudes, ideally of the harmonic part.
    sr : float
        Sample rate in Hz.
    fmin_hz, fmax_hz, jump_cost, voicing_threshold_db : float
        As :func:`track_melody`.
    width_cents : float
        As :func:`harmonic_comb`.

    Returns
    -------
    np.ndarray [shape=(n_bins, n_frames), dtype=float32]
        Gains in [0, 1], shared by the channels (broadcast against ``S``).
    """
    mel = track_melody(
        S,
        sr=sr,
        fmin_hz=fmin_hz,
        fmax_hz=fmax_hz,
        jump_cost=jump_cost,
        voicing_threshold_db=voicing_threshold_db,
    )
    return harmonic_comb(mel.f0_hz, n_bins=S.shape[-2], sr=sr, width_cents=width_cents)


def _band(n_bins: int, sr: float, lo_hz: float | None, hi_hz: float | None) -> np.ndarray:
    f = _freqs(n_bins, sr)
    g = np.ones((n_bins, 1), dtype=np.float32)
    if hi_hz is not None:
        g = g * lowpass_weights(f, hi_hz)
    if lo_hz is not None:
        g = (g * (1.0 - lowpass_weights(f, lo_hz))).astype(np.float32)
    return g


_Rule = Callable[[Mapping[str, np.ndarray], "_Bands"], np.ndarray]


@dataclass(frozen=True)
class _Bands:
    low: np.ndarray  # below the bass cutoff
    not_low: np.ndarray
    vocal: np.ndarray  # VOCAL_BAND_HZ
    not_vocal: np.ndarray


# How each backend answers each stem. Natives sum to one, and the melody comb (``melody``,
# ``comb``) is a gain in [0, 1] that splits one of them in two, so every rule's mask is in
# [0, 1].
_STEM_RULES: dict[str, dict[str, _Rule]] = {
    "hpss": {
        "harmonic": lambda n, b: n["harmonic"],
        "percussive": lambda n, b: n["percussive"],
        "residual": lambda n, b: n["residual"],
        "drums": lambda n, b: n["percussive"],
        "bass": lambda n, b: n["harmonic"] * b.low,
        # The melody comb splits the harmonic part: the lead line is the vocals, the rest of
        # what is above the bass is "other".
        "other": lambda n, b: n["harmonic"] * b.not_low * (1.0 - n["melody"]),
        "vocals": lambda n, b: (n["harmonic"] + n["residual"]) * n["melody"],
        "piano": lambda n, b: n["harmonic"] * b.not_low * b.not_vocal,
        "guitar": lambda n, b: n["harmonic"] * b.vocal,
        "foreground": lambda n, b: n["percussive"] + n["residual"],
        "background": lambda n, b: n["harmonic"],
        "low": lambda n, b: n["percussive"] * b.low,  # the kick
        "mid": lambda n, b: n["harmonic"] * b.vocal,
        "high": lambda n, b: n["percussive"] * b.not_vocal * b.not_low,  # the cymbals
    },
    "repet": {
        "background": lambda n, b: n["background"] + n["percussive"],  # the accompaniment
        "foreground": lambda n, b: n["foreground"],
        "residual": lambda n, b: n["foreground"],
        "vocals": lambda n, b: (n["foreground"] + n["background"]) * n["melody"],
        "other": lambda n, b: n["background"] * b.not_low * (1.0 - n["melody"]),
        "bass": lambda n, b: n["background"] * b.low,
        "drums": lambda n, b: n["percussive"],
        "harmonic": lambda n, b: n["background"] + n["foreground"],
        "percussive": lambda n, b: n["percussive"],
        "piano": lambda n, b: n["background"] * b.not_low * b.not_vocal,
        "guitar": lambda n, b: n["foreground"] * b.vocal * b.not_low,
        "low": lambda n, b: n["background"] * b.low,
        "mid": lambda n, b: n["foreground"] * b.vocal,
        "high": lambda n, b: n["percussive"] * b.not_vocal * b.not_low,
    },
    "nmf": {
        "drums": lambda n, b: n["drums"],
        "bass": lambda n, b: n["bass"],
        "other": lambda n, b: n["other"] * (1.0 - n["melody"]),
        "residual": lambda n, b: n["residual"],
        "vocals": lambda n, b: (n["other"] + n["residual"]) * n["melody"],
        "piano": lambda n, b: n["other"] * b.not_vocal,
        "guitar": lambda n, b: n["other"] * b.vocal,
        "harmonic": lambda n, b: n["bass"] + n["other"],
        "percussive": lambda n, b: n["drums"],
        "foreground": lambda n, b: n["other"] + n["residual"],
        "background": lambda n, b: n["drums"] + n["bass"],
        "low": lambda n, b: n["bass"] + n["drums"] * b.low,
        "mid": lambda n, b: n["other"] * b.vocal,
        "high": lambda n, b: n["drums"] * b.not_vocal * b.not_low,
    },
    "melody": {
        "vocals": lambda n, b: n["melody"] + n["residual"] * n["comb"],
        "foreground": lambda n, b: n["melody"] + n["residual"] * n["comb"],
        # The karaoke instrumental: everything but the melody.
        "background": lambda n, b: (
            n["accompaniment"] + n["percussive"] + n["residual"] * (1.0 - n["comb"])
        ),
        "other": lambda n, b: n["accompaniment"] * b.not_low,
        "bass": lambda n, b: n["accompaniment"] * b.low,
        "drums": lambda n, b: n["percussive"],
        "harmonic": lambda n, b: n["melody"] + n["accompaniment"],
        "percussive": lambda n, b: n["percussive"],
        "residual": lambda n, b: n["residual"],
        "piano": lambda n, b: n["accompaniment"] * b.not_low * b.not_vocal,
        "guitar": lambda n, b: n["accompaniment"] * b.not_low * b.vocal,
        "low": lambda n, b: (n["accompaniment"] + n["percussive"]) * b.low,
        "mid": lambda n, b: n["melody"] + n["accompaniment"] * b.vocal * b.not_low,
        "high": lambda n, b: n["percussive"] * b.not_vocal * b.not_low,
    },
    "bands": {
        "low": lambda n, b: n["low"],
        "mid": lambda n, b: n["mid"],
        "high": lambda n, b: n["high"],
        "bass": lambda n, b: n["low"],
        "other": lambda n, b: n["mid"],
        "vocals": lambda n, b: n["mid"],
        "piano": lambda n, b: n["mid"],
        "guitar": lambda n, b: n["mid"],
        "harmonic": lambda n, b: n["mid"],
        "drums": lambda n, b: n["low"] + n["high"],  # kick and cymbals
        "percussive": lambda n, b: n["high"],
        "residual": lambda n, b: n["high"],
        "foreground": lambda n, b: n["mid"],
        "background": lambda n, b: n["low"] + n["high"],
    },
}


def _native(
    backend: str,
    S: np.ndarray,
    p: Mapping[str, ParamValue],
    *,
    sr: float,
    hop_length: int,
    device: DeviceLike,
    cancel: CancelToken | None,
) -> _Natives:
    if backend == "hpss":
        return _hpss_native(S, p, sr=sr)
    if backend == "melody":
        return _melody_native(S, p, sr=sr)
    if backend == "repet":
        return _repet_native(S, p, sr=sr, hop_length=hop_length, device=device)
    if backend == "nmf":
        return _nmf_native(S, p, sr=sr, hop_length=hop_length, device=device, cancel=cancel)
    return _bands_native(S, p, sr=sr)


def stem_masks(
    S: np.ndarray,
    *,
    sr: float,
    backend: str,
    stems: Sequence[str],
    params: Mapping[str, object] | None = None,
    hop_length: int = HOP_LENGTH,
    device: DeviceLike = None,
    cancel: CancelToken | None = None,
) -> dict[str, np.ndarray]:
    """Soft masks of the requested stems for one block of magnitude frames (no segmenting).

    Parameters
    ----------
    S : np.ndarray [shape=(..., n_bins, n_frames), dtype=float32]
        Magnitude STFT of the mix (channels share decisions where the backend needs it).
    sr : float
        Sample rate in Hz.
    backend : str
        One of :data:`BACKENDS`.
    stems : sequence of str
        Stems from :data:`STEMS`.
    params : mapping or None
        Backend parameters (see :data:`PARAMS`); missing ones take their defaults.
    hop_length : int
        STFT hop of ``S`` (time-based parameters are converted with it).
    device : str or torch.device or None
        Where torch work runs.
    cancel : CancelToken or None
        Checked by long backends (NMF).

    Returns
    -------
    dict of str to np.ndarray [shape=S.shape, dtype=float32]
        One mask in [0, 1] per requested stem.

    Raises
    ------
    ParameterError
        On an unknown backend, stem or parameter, or a parameter out of range.

    Examples
    --------
    >>> S = np.ones((1025, 20), dtype=np.float32)
    >>> m = stem_masks(S, sr=44100, backend="bands", stems=["low", "high"])
    >>> m["low"].shape
    (1025, 20)
    """
    backend = check_backend(backend)
    wanted = [check_stem(s) for s in stems]
    p = resolve_params(backend, params)
    _check_rate(backend, p, sr)
    if not isinstance(S, np.ndarray) or S.ndim < 2 or np.iscomplexobj(S):
        raise ParameterError("S must be a real magnitude array of shape (..., n_bins, n_frames)")
    S32 = np.asarray(S, dtype=np.float32)
    natives = _native(backend, S32, p, sr=sr, hop_length=hop_length, device=device, cancel=cancel)
    n_bins = S32.shape[-2]
    cutoff = float(p.get("bass_cutoff_hz") or p.get("low_hz") or 150.0)
    low = lowpass_weights(_freqs(n_bins, sr), cutoff)
    vocal = _band(n_bins, sr, *VOCAL_BAND_HZ)
    bands = _Bands(low=low, not_low=1.0 - low, vocal=vocal, not_vocal=1.0 - vocal)
    rules = _STEM_RULES[backend]
    out = {}
    for stem in wanted:
        m = rules[stem](natives, bands)
        out[stem] = np.clip(np.broadcast_to(m, S32.shape), 0.0, 1.0).astype(np.float32)
    return out


def _check_rate(backend: str, p: Mapping[str, ParamValue], sr: float) -> None:
    sr = check_float("sr", sr, lo=1.0)
    nyquist = sr / 2
    for name in ("bass_cutoff_hz", "low_hz", "high_hz", "fmax_hz"):
        if name in p and num(p, name) >= nyquist:
            raise ParameterError(
                f"{backend}: {name}={p[name]:g} must be below the Nyquist frequency {nyquist:g} Hz"
            )


# ---------------------------------------------------------------------------------------------
# Segmenting and rendering
# ---------------------------------------------------------------------------------------------


class Segment(NamedTuple):
    """One stretch of frames: masks are computed on ``[lo, hi)``, weighted by ``weights``."""

    lo: int
    hi: int
    weights: np.ndarray
    """float32 (hi - lo,): crossfade weights; over all segments they sum to one per frame."""


def plan_segments(
    n_frames: int, *, segment_frames: int, context_frames: int, crossfade_frames: int
) -> list[Segment]:
    """Cut ``n_frames`` into overlapping segments whose crossfade weights sum to one.

    Segment ``i`` owns core frames ``[a_i, b_i)``; it is computed on
    ``[a_i - pad, b_i + pad)`` with ``pad = crossfade // 2 + context`` and fades in and out
    linearly over ``crossfade`` frames centred on ``a_i`` and ``b_i`` (the crossfade is capped
    at the shortest segment, so only neighbours overlap).

    Examples
    --------
    >>> segs = plan_segments(100, segment_frames=40, context_frames=5, crossfade_frames=4)
    >>> total = np.zeros(100)
    >>> for s in segs:
    ...     total[s.lo:s.hi] += s.weights
    >>> bool(np.allclose(total, 1.0))
    True
    """
    n_frames = check_int("n_frames", n_frames, lo=1)
    segment_frames = check_int("segment_frames", segment_frames, lo=1)
    crossfade_frames = check_int("crossfade_frames", crossfade_frames, lo=1)
    context_frames = check_int("context_frames", context_frames, lo=0)
    n_seg = max(1, round(n_frames / segment_frames))
    if n_seg == 1:
        return [Segment(0, n_frames, np.ones(n_frames, dtype=np.float32))]
    edges = np.linspace(0, n_frames, n_seg + 1).round().astype(int)
    # A crossfade longer than a segment would overlap three segments: cap it.
    crossfade_frames = min(crossfade_frames, int(np.diff(edges).min()))
    pad = (crossfade_frames + 1) // 2 + context_frames
    X = float(crossfade_frames)
    out = []
    for i in range(n_seg):
        a, b = int(edges[i]), int(edges[i + 1])
        lo, hi = max(0, a - pad), min(n_frames, b + pad)
        t = np.arange(lo, hi, dtype=np.float64) + 0.5
        w = np.ones(hi - lo)
        if i > 0:
            w = np.minimum(w, np.clip((t - (a - X / 2)) / X, 0.0, 1.0))
        if i < n_seg - 1:
            w = np.minimum(w, np.clip(((b + X / 2) - t) / X, 0.0, 1.0))
        out.append(Segment(lo, hi, w.astype(np.float32)))
    return out


class FrameSource(Protocol):
    """STFT frames held elsewhere (e.g. spilled to disk), read a stretch at a time."""

    @property
    def shape(self) -> tuple[int, ...]:
        """``(..., n_bins, n_frames)``, as the STFT array would have."""
        ...

    def frames(self, lo: int, hi: int) -> np.ndarray:
        """Frames ``lo:hi`` as complex64 ``(..., n_bins, hi - lo)``."""
        ...


def iter_stft_blocks(
    y: np.ndarray,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    block_frames: int = 2048,
    device: DeviceLike = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first_frame, D_block)`` covering :func:`residue.dsp.spectral.stft` of ``y``.

    Each block is frames ``first_frame : first_frame + block_frames`` of the whole signal's
    STFT, exactly; only one block's transform is in memory at a time.

    Raises
    ------
    ParameterError
        If ``y`` is not audio or a size is out of range.
    """
    y32 = check_audio(y)
    n_fft = check_int("n_fft", n_fft, lo=2)
    hop_length = check_int("hop_length", hop_length, lo=1, hi=n_fft)
    block_frames = check_int("block_frames", block_frames, lo=1)
    n = y32.shape[-1]
    n_frames = 1 + n // hop_length
    half = n_fft // 2
    margin = -(-half // hop_length)  # frames whose windows reach back over half a window
    for t0 in range(0, n_frames, block_frames):
        t1 = min(n_frames, t0 + block_frames)
        a = max(0, t0 - margin) * hop_length
        b = min(n, (t1 - 1) * hop_length + half)
        part = spectral.stft(y32[..., a:b], n_fft=n_fft, hop_length=hop_length, device=device)
        j0 = t0 - a // hop_length
        yield t0, np.ascontiguousarray(part[..., j0 : j0 + (t1 - t0)])


def stft_blocks(
    y: np.ndarray,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    block_frames: int = 2048,
    device: DeviceLike = None,
) -> np.ndarray:
    """:func:`residue.dsp.spectral.stft`, computed ``block_frames`` frames at a time.

    The result is the same; the transient memory of the transform is that of one block, not
    of the whole signal (for a 10-minute stereo track: about 100 MB instead of about 2 GB on top
    of the output).

    Parameters
    ----------
    y : np.ndarray [shape=(..., n_samples), dtype=float]
        Audio.
    n_fft, hop_length : int
        As :func:`residue.dsp.spectral.stft`.
    block_frames : int
        Frames per block, at least 1.
    device : str or torch.device or None
        Where the transforms run.

    Returns
    -------
    D : np.ndarray [shape=(..., 1 + n_fft // 2, 1 + n_samples // hop_length), dtype=complex64]

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(10000).astype(np.float32)
    >>> bool(np.allclose(stft_blocks(y, block_frames=3), spectral.stft(y), atol=1e-4))
    True
    """
    y32 = check_audio(y)
    n_frames = 1 + y32.shape[-1] // check_int("hop_length", hop_length, lo=1)
    D = np.empty((*y32.shape[:-1], 1 + n_fft // 2, n_frames), dtype=np.complex64)
    for t0, block in iter_stft_blocks(
        y32, n_fft=n_fft, hop_length=hop_length, block_frames=block_frames, device=device
    ):
        D[..., t0 : t0 + block.shape[-1]] = block
    return D


class OverlapAdd:
    """Inverse STFT built up from chunks of frames, in bounded memory.

    Equivalent to :func:`residue.dsp.spectral.istft` (Hann window, centred frames) when every
    frame is added with total weight one, in any order and any chunking.

    Parameters
    ----------
    lead : tuple of int
        Leading (channel) shape of the STFT.
    n_fft : int
        FFT size.
    hop_length : int
        Samples between frames.
    length : int
        Output length in samples.
    n_outputs : int
        How many signals are accumulated side by side (e.g. estimate and residual).
    device : str or torch.device or None
        Where the inverse FFTs run.
    """

    def __init__(
        self,
        lead: tuple[int, ...],
        *,
        n_fft: int,
        hop_length: int,
        length: int,
        n_outputs: int = 1,
        device: DeviceLike = None,
    ) -> None:
        self.lead = lead
        self.n_fft = n_fft
        self.hop = hop_length
        self.length = length
        self.dev = as_device(device)
        n_ch = int(np.prod(lead)) if lead else 1
        total = length + 2 * n_fft + hop_length
        # One tensor per output, so each can be freed on its own.
        self._acc = [torch.zeros((n_ch, total), dtype=torch.float32) for _ in range(n_outputs)]
        self._env = torch.zeros(total, dtype=torch.float32)
        self._win = torch.hann_window(n_fft, periodic=True, dtype=torch.float32, device=self.dev)

    def add(
        self, block: np.ndarray, masks: Sequence[np.ndarray], *, start: int, weights: np.ndarray
    ) -> None:
        """Overlap-add ``mask * block`` for each mask, frames starting at frame ``start``.

        Parameters
        ----------
        block : np.ndarray [shape=(*lead, n_bins, n), dtype=complex64]
            STFT frames.
        masks : sequence of np.ndarray [shape=(*lead, n_bins, n), dtype=float32]
            One real gain per output (use ``np.ones`` for the plain inverse).
        start : int
            Index of the block's first frame in the whole STFT.
        weights : np.ndarray [shape=(n,)]
            Gain per frame (crossfades); over all calls each frame's weights should sum to one.
        """
        n = len(weights)
        if n == 0:
            return
        w = torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32)).to(self.dev)
        off = start * self.hop
        n_bins = block.shape[-2]
        # Frames along the last axis make the inverse FFTs contiguous (several times faster).
        Bt = torch.from_numpy(np.ascontiguousarray(block.reshape(-1, n_bins, n))).to(self.dev)
        Bt = Bt.transpose(1, 2).contiguous()
        scale = self._win[None, None, :] * w[None, :, None]
        for i, m in enumerate(masks):
            Mt = torch.from_numpy(np.ascontiguousarray(m.reshape(-1, n_bins, n))).to(self.dev)
            y = torch.fft.irfft(Bt * Mt.transpose(1, 2), n=self.n_fft, dim=-1)
            y *= scale  # (C, n, n_fft)
            self._overlap_add(self._acc[i], y, off)
        env = (self._win**2)[None, None, :] * w[None, :, None]
        self._overlap_add(self._env[None], env, off)

    def _overlap_add(self, acc: torch.Tensor, y: torch.Tensor, off: int) -> None:
        """Add frames ``y`` (C, n, n_fft) at sample ``off`` of ``acc`` (C, total), hop apart."""
        n = y.shape[1]
        out_len = (n - 1) * self.hop + self.n_fft
        y = y.cpu()
        if self.n_fft % self.hop == 0:
            # The window is a whole number of hops: add R shifted copies, no col2im.
            R = self.n_fft // self.hop
            view = acc[:, off : off + out_len].view(acc.shape[0], n + R - 1, self.hop)
            parts = y.reshape(y.shape[0], n, R, self.hop)
            for r in range(R):
                view[:, r : r + n] += parts[:, :, r]
        else:
            ola = torch.nn.functional.fold(
                y.transpose(1, 2),
                output_size=(1, out_len),
                kernel_size=(1, self.n_fft),
                stride=(1, self.hop),
            )
            acc[:, off : off + out_len] += ola.reshape(y.shape[0], out_len)

    def result(self) -> list[np.ndarray]:
        """Return the accumulated signals, each float32 ``(*lead, length)``."""
        half = self.n_fft // 2
        env = self._env[half : half + self.length]
        env = torch.where(env > 1e-11, env, torch.ones_like(env))
        outs = []
        for i, acc in enumerate(self._acc):
            y = acc[:, half : half + self.length] / env
            self._acc[i] = torch.empty(0)  # free each accumulator as soon as it is read out
            del acc
            outs.append(np.asarray(y.numpy(), dtype=np.float32).reshape(*self.lead, self.length))
        return outs


def separate_stems(
    D: np.ndarray | FrameSource,
    *,
    sr: float,
    backend: str,
    stems: Sequence[str],
    length: int,
    params: Mapping[str, object] | None = None,
    hop_length: int = HOP_LENGTH,
    with_residuals: bool = False,
    segment_s: float = SEGMENT_S,
    context_s: float = CONTEXT_S,
    device: DeviceLike = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Separation]:
    """Separate several stems with one backend, sharing its work, in bounded memory.

    The backend runs once per segment; every requested stem is derived from the same native
    masks and overlap-added into its own output.

    Parameters
    ----------
    D : np.ndarray [shape=(..., n_bins, n_frames), dtype=complex64] or FrameSource
        STFT of the mix (from :func:`residue.dsp.spectral.stft`), shared, never modified; or a
        :class:`FrameSource` holding it elsewhere (read one segment at a time).
    sr : float
        Sample rate in Hz.
    backend : str
        One of :data:`BACKENDS`.
    stems : sequence of str
        Stems from :data:`STEMS`, at least one.
    length : int
        Length of the mix in samples.
    params : mapping or None
        Backend parameters (see :data:`PARAMS`).
    hop_length : int
        STFT hop of ``D``.
    with_residuals : bool
        Also render each stem's residual from ``1 - mask`` (otherwise ``residual`` is an empty
        array and the caller takes ``mix - estimate``).
    segment_s : float
        Segment length in seconds (long inputs); at least 0.1 s.
    context_s : float
        Extra seconds computed on each side of a segment, at least 0.
    device : str or torch.device or None
        Where torch work runs.
    progress : ProgressFn
        Called with the fraction done after each segment.
    cancel : CancelToken or None
        Checked between segments (and inside NMF).

    Returns
    -------
    dict of str to Separation
        Per stem: ``estimate`` float32 (..., length) and, with ``with_residuals``, ``residual``.

    Raises
    ------
    ParameterError
        On an unknown backend, stem or parameter, a value out of range, or a bad ``D``.
    JobCancelled
        If ``cancel`` is set.

    Examples
    --------
    >>> from residue.dsp.spectral import stft
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> out = separate_stems(stft(y), sr=22050, backend="bands", stems=["low"], length=22050)
    >>> out["low"].estimate.shape
    (22050,)
    """
    if isinstance(D, np.ndarray):
        D = check_stft(D)
    elif len(D.shape) < 2 or D.shape[-2] < 2 or D.shape[-1] < 1:
        raise ParameterError(f"D must have shape (..., n_bins, n_frames), got {D.shape}")
    backend = check_backend(backend)
    wanted = list(dict.fromkeys(check_stem(s) for s in stems))
    if not wanted:
        raise ParameterError("stems must name at least one stem")
    p = resolve_params(backend, params)
    _check_rate(backend, p, sr)
    length = check_int("length", length, lo=1)
    hop_length = check_int("hop_length", hop_length, lo=1)
    segment_s = check_float("segment_s", segment_s, lo=0.1)
    context_s = check_float("context_s", context_s, lo=0.0)
    n_bins, n_frames = D.shape[-2:]
    n_fft = 2 * (n_bins - 1)
    frames_per_s = sr / hop_length
    context = round(context_s * frames_per_s)
    if backend in ("hpss", "melody"):
        context += integer(p, "kernel") // 2 + 1
    segments = plan_segments(
        n_frames,
        segment_frames=max(1, round(segment_s * frames_per_s)),
        context_frames=context,
        crossfade_frames=max(1, round(CROSSFADE_S * frames_per_s)),
    )
    n_out = len(wanted) * (2 if with_residuals else 1)
    ola = OverlapAdd(
        D.shape[:-2],
        n_fft=n_fft,
        hop_length=hop_length,
        length=length,
        n_outputs=n_out,
        device=device,
    )
    for i, seg in enumerate(segments):
        if cancel is not None:
            cancel.raise_if_cancelled()
        block = D[..., seg.lo : seg.hi] if isinstance(D, np.ndarray) else D.frames(seg.lo, seg.hi)
        masks = stem_masks(
            np.abs(block),
            sr=sr,
            backend=backend,
            stems=wanted,
            params=p,
            hop_length=hop_length,
            device=device,
            cancel=cancel,
        )
        gains = []
        for stem in wanted:
            m = masks.pop(stem)
            gains.append(m)
            if with_residuals:
                gains.append(1.0 - m)
        ola.add(block, gains, start=seg.lo, weights=seg.weights)
        del gains
        progress((i + 1) / len(segments), f"{backend} segment {i + 1}/{len(segments)}")
    outs = ola.result()
    empty = np.zeros((0,), dtype=np.float32)
    result = {}
    for j, stem in enumerate(wanted):
        if with_residuals:
            result[stem] = Separation(outs[2 * j], outs[2 * j + 1])
        else:
            result[stem] = Separation(outs[j], empty)
    return result


def separate(
    D: np.ndarray | FrameSource,
    *,
    sr: float,
    backend: str,
    stem: str,
    length: int,
    params: Mapping[str, object] | None = None,
    hop_length: int = HOP_LENGTH,
    segment_s: float = SEGMENT_S,
    context_s: float = CONTEXT_S,
    device: DeviceLike = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Separation:
    """Separate one stem with one weightless backend.

    Parameters are those of :func:`separate_stems` with a single ``stem``; the residual is
    rendered from ``1 - mask``, so ``estimate + residual`` reconstructs the mix.

    Returns
    -------
    Separation
        ``estimate`` and ``residual``, float32 (..., length).

    Examples
    --------
    >>> from residue.dsp.spectral import stft
    >>> y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)
    >>> sep = separate(stft(y), sr=22050, backend="hpss", stem="drums", length=22050)
    >>> bool(np.allclose(sep.estimate + sep.residual, y, atol=1e-4))
    True
    """
    return separate_stems(
        D,
        sr=sr,
        backend=backend,
        stems=[stem],
        length=length,
        params=params,
        hop_length=hop_length,
        with_residuals=True,
        segment_s=segment_s,
        context_s=context_s,
        device=device,
        progress=progress,
        cancel=cancel,
    )[stem]
