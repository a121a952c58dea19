"""Shared validators: each raises one ParameterError whose message names the value and its range."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from residue.errors import ParameterError


def check_int(name: str, value: int, *, lo: int, hi: int | None = None) -> int:
    """Check that ``value`` is an integer in ``[lo, hi]`` and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name}={value!r} must be an integer")
    if value < lo or (hi is not None and value > hi):
        upper = "inf" if hi is None else str(hi)
        raise ParameterError(f"{name}={value} must be in [{lo}, {upper}]")
    return int(value)


def check_float(
    name: str, value: float, *, lo: float | None = None, hi: float | None = None
) -> float:
    """Check that ``value`` is a finite real number in ``[lo, hi]`` and return it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ParameterError(f"{name}={value!r} must be a number")
    v = float(value)
    if not np.isfinite(v):
        raise ParameterError(f"{name}={value} must be finite")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ParameterError(
            f"{name}={value:g} must be in [{'-inf' if lo is None else f'{lo:g}'}, "
            f"{'inf' if hi is None else f'{hi:g}'}]"
        )
    return v


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` and return it."""
    if value not in choices:
        raise ParameterError(f"{name}={value!r} must be one of {sorted(map(str, choices))}")
    return value


def check_audio(y: np.ndarray, *, name: str = "y", min_samples: int = 1) -> np.ndarray:
    """Check audio of shape ``(..., n_samples)``: real, finite, long enough.

    Returns a float32 view or copy; never the caller's array modified.
    """
    if not isinstance(y, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array, got {type(y).__name__}")
    if y.ndim < 1:
        raise ParameterError(f"{name} must have at least one dimension, got shape {y.shape}")
    if np.iscomplexobj(y):
        raise ParameterError(f"{name} must be real-valued, got dtype {y.dtype}")
    if y.shape[-1] < min_samples:
        raise ParameterError(f"{name} has {y.shape[-1]} samples; at least {min_samples} needed")
    y32 = np.asarray(y, dtype=np.float32)
    if not np.all(np.isfinite(y32)):
        raise ParameterError(f"{name} contains NaN or infinite samples")
    return y32


def check_nonnegative(S: np.ndarray, *, name: str = "S", ndim_min: int = 2) -> np.ndarray:
    """Check a non-negative, finite real matrix of at least ``ndim_min`` dimensions."""
    if not isinstance(S, np.ndarray):
        raise ParameterError(f"{name} must be a numpy array, got {type(S).__name__}")
    if S.ndim < ndim_min:
        raise ParameterError(
            f"{name} must have at least {ndim_min} dimensions, got shape {S.shape}"
        )
    if np.iscomplexobj(S):
        raise ParameterError(f"{name} must be real-valued (a magnitude), got dtype {S.dtype}")
    S32 = np.asarray(S, dtype=np.float32)
    if not np.all(np.isfinite(S32)):
        raise ParameterError(f"{name} contains NaN or infinite values")
    if S32.size and float(S32.min()) < 0:
        raise ParameterError(f"{name} must be non-negative")
    return S32
