"""Typed progress reporting and cooperative cancellation for long computations."""

from __future__ import annotations

import threading
from typing import Protocol

from residue.errors import JobCancelled


class ProgressFn(Protocol):
    """Called with the fraction done in [0, 1] and a short plain-words stage name."""

    def __call__(self, fraction: float, stage: str, /) -> None:
        """Report ``fraction`` of the work done, now in ``stage``."""


def no_progress(fraction: float, stage: str, /) -> None:
    """Ignore progress (the default)."""


class CancelToken:
    """A flag that long work checks between steps.

    Examples
    --------
    >>> token = CancelToken()
    >>> token.raise_if_cancelled()
    >>> token.cancel()
    >>> token.cancelled
    True
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~residue.errors.JobCancelled` if cancellation was asked for."""
        if self._event.is_set():
            raise JobCancelled("cancelled")
