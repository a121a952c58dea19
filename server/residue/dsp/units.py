"""Units: the parts of a sound that its NMF components explain, and their rendering with edits.

Unit ``k`` of a complex STFT ``D`` factorised as ``|D| ~= W @ H`` is ``D`` times the soft mask
``w_k h_k / sum_j w_j h_j`` (Wiener-style, original phase kept), so the units of a sound sum
back to the sound exactly. An edited unit (another component, a stretched or shifted
activation) is rebuilt from its model spectrum with the original's phase and fine detail::

    Y_k = (w'_k outer h'_k) * clip(|D| / (W H), 0, R_MAX) * exp(i angle D)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from residue.dsp._validate import check_float, check_int, check_nonnegative
from residue.dsp.spectral import HOP_LENGTH, DeviceLike, as_device, check_stft, istft_torch
from residue.errors import ParameterError

R_MAX = 4.0
"""Largest detail ratio ``|D| / (W H)`` carried over to a rebuilt unit (+12 dB).

Where the model fits, ``|D| / (W H)`` is the texture the components do not describe (noise
grain, transient edges) and stays within a few dB of 1; carrying it over keeps an edited unit
sounding like a recording rather than a smooth model. Where the model has almost no energy the
ratio is arbitrary (``|D|`` over nearly zero), and a swapped-in component with energy there
would be boosted by that arbitrary amount, heard as loud bursts or whistles. 4 keeps the
texture and bounds the boost to +12 dB.
"""
STRETCH_MIN = 0.125
"""Smallest activation stretch (8 times faster)."""
STRETCH_MAX = 8.0
"""Largest activation stretch (8 times slower)."""
GAIN_DB_MIN = -120.0
"""Quietest unit gain; -120 dB is silence for any practical purpose."""
GAIN_DB_MAX = 24.0
"""Loudest unit gain."""

_TINY = float(np.finfo(np.float32).tiny)  # the model counts as zero below this
_REL_EPS = 1e-7  # floor of W H relative to its maximum, for the detail ratio


@dataclass(frozen=True)
class UnitEdit:
    """How to change one unit when rendering.

    Attributes
    ----------
    component : np.ndarray or None [shape=(n_bins,), dtype=float]
        A replacement spectrum on this sound's frequency grid (see
        :func:`residue.dsp.components.resample_component`); ``None`` keeps the unit's own. Its
        level is matched to the unit's own component (sums are made equal).
    gain_db : float
        Gain in dB, in ``[-120, 24]``.
    reverse : bool
        Play the unit's signal backwards (over the whole sound).
    stretch : float
        Time-stretch factor of the activation in ``[0.125, 8]``; 2 plays it twice as slowly.
        The result is cropped or tiled to the original number of frames, so a loop stays in
        time.
    shift_frames : int
        Circular shift of the activation, in frames (positive is later).
    """

    component: np.ndarray | None = None
    gain_db: float = 0.0
    reverse: bool = False
    stretch: float = 1.0
    shift_frames: int = 0


_IDENTITY = UnitEdit()


class _Model:
    """Validated torch views of ``D``, ``W``, ``H`` with the batch flattened to one axis."""

    def __init__(self, D: np.ndarray, W: np.ndarray, H: np.ndarray, device: DeviceLike) -> None:
        D = check_stft(D)
        W32 = check_nonnegative(W, name="W", ndim_min=2)
        H32 = check_nonnegative(H, name="H", ndim_min=2)
        n_bins, n_frames = D.shape[-2:]
        lead = D.shape[:-2]
        if W32.shape[-2] != n_bins:
            raise ParameterError(f"W has {W32.shape[-2]} bins; D has {n_bins}")
        if H32.shape[-1] != n_frames:
            raise ParameterError(f"H has {H32.shape[-1]} frames; D has {n_frames}")
        k = W32.shape[-1]
        if H32.shape[-2] != k:
            raise ParameterError(f"W has {k} components but H has {H32.shape[-2]}")
        for name, A in (("W", W32), ("H", H32)):
            if A.shape[:-2] not in ((), lead):
                raise ParameterError(
                    f"{name} has leading shape {A.shape[:-2]}; D's is {lead} (or give none)"
                )
        dev = as_device(device)
        n_batch = math.prod(lead)
        self.lead, self.k, self.n_bins, self.n_frames = lead, k, n_bins, n_frames
        self.dev = dev
        # D is only read; W and H are small and copied, so nothing of the caller's is shared
        # with a tensor that could be written to.
        D3 = D.reshape(n_batch, n_bins, n_frames)
        if not (D3.flags.writeable and D3.flags.c_contiguous):
            D3 = np.array(D3, order="C")
        self.D = torch.from_numpy(D3).to(dev)
        self.W = torch.tensor(
            np.broadcast_to(W32, (*lead, n_bins, k)).reshape(n_batch, n_bins, k), device=dev
        )
        self.H = torch.tensor(
            np.broadcast_to(H32, (*lead, k, n_frames)).reshape(n_batch, k, n_frames), device=dev
        )
        self.WH = torch.bmm(self.W, self.H)

    @functools.cached_property
    def _inverse(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``1 / (W H)`` and where the model is zero (``None`` if nowhere)."""
        zero = self.WH <= _TINY
        return self.WH.clamp_min(_TINY).reciprocal_(), zero if bool(zero.any()) else None

    def ratio(self, num: torch.Tensor, gain_sum: float) -> torch.Tensor:
        """``num / (W H)`` in place, and ``gain_sum / K`` where the model is zero (equal split)."""
        inverse, zero = self._inverse
        out = num.mul_(inverse)
        if zero is not None:
            out.masked_fill_(zero, gain_sum / self.k)
        return out

    @functools.cached_property
    def detail(self) -> torch.Tensor:
        """Real factor ``g`` with ``D * g = clip(|D| / (W H), 0, R_MAX) * exp(i angle D)``."""
        eps = _REL_EPS * float(self.WH.max()) + _TINY
        inv_model = (self.WH + eps).reciprocal_()
        re_im = torch.view_as_real(self.D)
        power = re_im[..., 0].square() + re_im[..., 1].square()
        # min(1 / WH, R_MAX / |D|); where D = 0 the factor is irrelevant (it multiplies 0).
        cap = power.rsqrt_().mul_(R_MAX)
        return torch.minimum(inv_model, cap, out=inv_model)


def unit_spectra(D: np.ndarray, W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Split a complex STFT into one spectrum per component with soft masks.

    Parameters
    ----------
    D : np.ndarray [shape=(..., n_bins, n_frames), dtype=complex]
        Complex STFT of the sound (for example ``(n_channels, n_bins, n_frames)``).
    W : np.ndarray [shape=(..., n_bins, K), dtype=float]
        Components, with the same leading shape as ``D`` or none (shared).
    H : np.ndarray [shape=(..., K, n_frames), dtype=float]
        Activations, with the same leading shape as ``D`` or none (shared).

    Returns
    -------
    Y : np.ndarray [shape=(..., K, n_bins, n_frames), dtype=complex64]
        ``Y[..., k, :, :] = D * w_k h_k / (W H)``; where ``W H`` is zero every unit gets
        ``D / K``. The sum over ``k`` is ``D``.

    Raises
    ------
    ParameterError
        If the shapes do not agree or a factor is negative or not finite.

    Examples
    --------
    >>> D = np.ones((3, 4), dtype=np.complex64)
    >>> Y = unit_spectra(D, np.ones((3, 2)), np.ones((2, 4)))
    >>> Y.shape, bool(np.allclose(Y.sum(axis=0), D))
    ((2, 3, 4), True)
    """
    m = _Model(D, W, H, None)
    masks = _unit_masks(m)
    out: np.ndarray = (m.D.unsqueeze(1) * masks).cpu().numpy()
    return out.reshape(*m.lead, m.k, m.n_bins, m.n_frames)


def _unit_masks(m: _Model) -> torch.Tensor:
    """Soft masks ``(B, K, F, T)`` that sum to 1 over K."""
    masks = m.W.transpose(1, 2).unsqueeze(-1) * m.H.unsqueeze(2)  # (B, K, F, T)
    masks.div_(m.WH.clamp_min(_TINY).unsqueeze(1))
    zero = m.WH <= _TINY
    if bool(zero.any()):
        masks.masked_fill_(zero.unsqueeze(1), 1.0 / m.k)
    return masks


def render_each(
    D: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    *,
    hop_length: int = HOP_LENGTH,
    length: int,
    device: DeviceLike = None,
) -> np.ndarray:
    """Render every unit separately, unedited (for exporting all units).

    Parameters
    ----------
    D, W, H : np.ndarray
        As in :func:`unit_spectra`.
    hop_length : int
        Hop of the STFT ``D``.
    length : int
        Samples of the sound.
    device : str or torch.device or None
        Where to compute; ``None`` is the CPU.

    Returns
    -------
    y : np.ndarray [shape=(K, ..., length), dtype=float32]
        Unit ``k`` of every channel; the sum over ``k`` is the sound.

    Raises
    ------
    ParameterError
        If the shapes do not agree or a size is out of range.

    Examples
    --------
    >>> from residue.dsp.spectral import stft
    >>> D = stft(np.ones(2048, dtype=np.float32))
    >>> render_each(D, np.ones((1025, 3)), np.ones((3, 5)), length=2048).shape
    (3, 2048)
    """
    m = _Model(D, W, H, device)
    hop_length, length = _check_sizes(m, hop_length, length)
    spectra = m.D.unsqueeze(1) * _unit_masks(m)  # (B, K, F, T)
    n_fft = 2 * (m.n_bins - 1)
    y = istft_torch(
        spectra.reshape(-1, m.n_bins, m.n_frames), n_fft=n_fft, hop_length=hop_length, length=length
    )
    y = y.reshape(-1, m.k, length).transpose(0, 1)  # (K, B, length)
    out: np.ndarray = y.cpu().numpy().astype(np.float32, copy=False)
    return out.reshape(m.k, *m.lead, length)


def render_units(
    D: np.ndarray,
    W: np.ndarray,
    H: np.ndarray,
    *,
    units: Sequence[int] | None = None,
    edits: Mapping[int, UnitEdit] | None = None,
    hop_length: int = HOP_LENGTH,
    length: int,
    device: DeviceLike = None,
) -> np.ndarray:
    """Render the sum of selected units, each with its edits, to audio.

    Unedited units use their exact soft masks, so rendering every unit without edits gives
    back ``istft(D)``. A unit with another component, a stretch or a shift is rebuilt from its
    model spectrum with the original phase and detail (see :data:`R_MAX`); gain scales; reverse
    plays the unit's signal backwards. All units with the same direction share one inverse STFT.

    Parameters
    ----------
    D, W, H : np.ndarray
        As in :func:`unit_spectra`.
    units : sequence of int or None
        Indices of the units to render (each in ``[0, K - 1]``, repeats count once); ``None``
        renders all.
    edits : mapping of int to UnitEdit or None
        Edits by unit index; edits of units not rendered are ignored.
    hop_length : int
        Hop of the STFT ``D``.
    length : int
        Samples of the sound.
    device : str or torch.device or None
        Where to compute; ``None`` is the CPU.

    Returns
    -------
    y : np.ndarray [shape=(..., length), dtype=float32]

    Raises
    ------
    ParameterError
        If the shapes do not agree, a unit index or an edit is out of range.

    Examples
    --------
    >>> from residue.dsp.spectral import stft
    >>> y = np.sin(np.arange(4096, dtype=np.float32) / 7)
    >>> D = stft(y)
    >>> W, H = np.ones((1025, 2)), np.ones((2, 9))
    >>> bool(np.allclose(render_units(D, W, H, length=4096), y, atol=1e-5))
    True
    """
    m = _Model(D, W, H, device)
    hop_length, length = _check_sizes(m, hop_length, length)
    selected = _check_units(units, m.k)
    plan = _check_edits(edits or {}, m)
    forward = [k for k in selected if not plan.get(k, _IDENTITY).reverse]
    backward = [k for k in selected if plan.get(k, _IDENTITY).reverse]
    groups = [g for g in (forward, backward) if g]
    if not groups:
        return np.zeros((*m.lead, length), dtype=np.float32)
    if len(selected) == m.k and not plan:
        spectra = m.D.unsqueeze(0)  # every unit, unedited: the masks sum to 1
    else:
        factors = [_group_factor(m, g, plan) for g in groups]
        factor = factors[0].unsqueeze(0) if len(factors) == 1 else torch.stack(factors)
        # A complex times a real tensor, as real arithmetic: (G, B, F, T, 2) * (G, B, F, T, 1).
        spectra = torch.view_as_complex(torch.view_as_real(m.D).unsqueeze(0) * factor.unsqueeze(-1))
    n_fft = 2 * (m.n_bins - 1)
    y = istft_torch(
        spectra.reshape(-1, m.n_bins, m.n_frames), n_fft=n_fft, hop_length=hop_length, length=length
    ).reshape(len(groups), -1, length)
    total = y[0] if forward else y[0].flip(-1)
    if forward and backward:
        total = total + y[1].flip(-1)
    out: np.ndarray = total.cpu().numpy().astype(np.float32, copy=False)
    return out.reshape(*m.lead, length)


def _rebuilt(edit: UnitEdit, n_frames: int) -> bool:
    """Whether an edit needs the rebuild formula rather than the exact mask."""
    return edit.component is not None or edit.stretch != 1.0 or edit.shift_frames % n_frames != 0


def _group_factor(m: _Model, group: list[int], plan: Mapping[int, UnitEdit]) -> torch.Tensor:
    """Real factor ``(B, F, T)`` whose product with ``D`` is the sum of the group's units."""
    exact = [k for k in group if not _rebuilt(plan.get(k, _IDENTITY), m.n_frames)]
    rebuilt = [k for k in group if k not in exact]
    factor: torch.Tensor | None = None
    if exact:
        gain_list = [_gain(plan.get(k, _IDENTITY)) for k in exact]
        if len(exact) == m.k and len(set(gain_list)) == 1:
            # Every unit at one gain: the masks sum to 1 everywhere (also where W H = 0).
            factor = torch.full_like(m.WH, gain_list[0])
        else:
            gains = torch.tensor(gain_list, dtype=torch.float32, device=m.dev)
            idx = torch.tensor(exact, device=m.dev)
            num = torch.bmm(m.W[:, :, idx] * gains, m.H[:, idx])
            factor = m.ratio(num, float(gains.sum()))
    if rebuilt:
        cols, rows = [], []
        for k in rebuilt:
            edit = plan[k]
            w = m.W[:, :, k]  # (B, F)
            if edit.component is not None:
                comp = torch.from_numpy(edit.component).to(m.dev)
                w = comp * (w.sum(dim=1, keepdim=True) / comp.sum())
            cols.append(w * _gain(edit))
            rows.append(_warp(m.H[:, k], stretch=edit.stretch, shift=edit.shift_frames))
        model = torch.bmm(torch.stack(cols, dim=2), torch.stack(rows, dim=1)).mul_(m.detail)
        factor = model if factor is None else factor.add_(model)
    if factor is None:  # an empty group is never asked for; keep the type honest
        factor = torch.zeros_like(m.WH)
    return factor


def _gain(edit: UnitEdit) -> float:
    return float(10.0 ** (edit.gain_db / 20.0))


def _warp(h: torch.Tensor, *, stretch: float, shift: int) -> torch.Tensor:
    """Stretch activations ``(B, T)`` in time (circularly), then roll them by ``shift``.

    ``h'(t) = h(((t - shift) mod T) / stretch mod T)`` with linear interpolation that wraps
    around, which crops (stretch > 1) or tiles (stretch < 1) to the original length.
    """
    n = h.shape[-1]
    t = torch.arange(n, dtype=torch.float64, device=h.device)
    pos = torch.remainder(torch.remainder(t - shift, n) / stretch, n)
    lo = pos.floor().long()
    frac = (pos - lo).to(h.dtype)
    hi = torch.remainder(lo + 1, n)
    return h[:, lo] * (1 - frac) + h[:, hi] * frac


def _check_sizes(m: _Model, hop_length: int, length: int) -> tuple[int, int]:
    n_fft = 2 * (m.n_bins - 1)
    return (
        check_int("hop_length", hop_length, lo=1, hi=n_fft),
        check_int("length", length, lo=1),
    )


def _check_units(units: Sequence[int] | None, k: int) -> list[int]:
    if units is None:
        return list(range(k))
    if isinstance(units, (str, bytes)) or not isinstance(units, Sequence):
        raise ParameterError(f"units must be a sequence of integers, got {type(units).__name__}")
    checked = [check_int(f"units[{i}]", u, lo=0, hi=k - 1) for i, u in enumerate(units)]
    return sorted(set(checked))


def _check_edits(edits: Mapping[int, UnitEdit], m: _Model) -> dict[int, UnitEdit]:
    plan: dict[int, UnitEdit] = {}
    for key, edit in edits.items():
        k = check_int("edits key", key, lo=0, hi=m.k - 1)
        if not isinstance(edit, UnitEdit):
            raise ParameterError(f"edits[{k}] must be a UnitEdit, got {type(edit).__name__}")
        check_float(f"edits[{k}].gain_db", edit.gain_db, lo=GAIN_DB_MIN, hi=GAIN_DB_MAX)
        check_float(f"edits[{k}].stretch", edit.stretch, lo=STRETCH_MIN, hi=STRETCH_MAX)
        check_int(f"edits[{k}].shift_frames", edit.shift_frames, lo=-(2**31))
        if not isinstance(edit.reverse, (bool, np.bool_)):
            raise ParameterError(f"edits[{k}].reverse must be a bool")
        component = edit.component
        if component is not None:
            c = check_nonnegative(component, name=f"edits[{k}].component", ndim_min=1)
            if c.shape != (m.n_bins,):
                raise ParameterError(
                    f"edits[{k}].component has shape {c.shape}; this sound has {m.n_bins} bins"
                )
            if not float(c.sum()) > 0:
                raise ParameterError(f"edits[{k}].component must not be all zeros")
            component = np.ascontiguousarray(c)
        plan[k] = UnitEdit(
            component=component,
            gain_db=float(edit.gain_db),
            reverse=bool(edit.reverse),
            stretch=float(edit.stretch),
            shift_frames=int(edit.shift_frames),
        )
    return plan
