"""The job executor: long work off the event loop, with progress and cancellation.

One interface, :class:`Executor`; :class:`InProcessExecutor` is the default (a thread pool:
torch and numpy release the GIL in their kernels, so two cores are used without pickling
arrays). Work is a plain function ``fn(progress, cancel) -> T``; the same function runs on any
backend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from residue.dsp.progress import CancelToken, ProgressFn

T = TypeVar("T")

#: Progress is forwarded at most this often (the page redraws a bar, not a log).
PROGRESS_INTERVAL_S = 0.05

Work = Callable[[ProgressFn, CancelToken], T]


class Executor(Protocol):
    """Runs work off the event loop."""

    async def run(
        self,
        work: Work[T],
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> T:
        """Run ``work`` and return its result; progress is delivered on the event loop."""
        ...

    def shutdown(self) -> None:
        """Stop accepting work and release workers."""
        ...


@dataclass
class _Throttle:
    """Forward progress from a worker thread to the loop, at most every PROGRESS_INTERVAL_S."""

    loop: asyncio.AbstractEventLoop
    target: ProgressFn
    last: float = field(default=-1.0)

    def __call__(self, fraction: float, stage: str, /) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        self.loop.call_soon_threadsafe(self.target, min(max(fraction, 0.0), 1.0), stage)


class InProcessExecutor:
    """A thread pool in the server process: the default, needs nothing running beforehand."""

    def __init__(self, *, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, workers), thread_name_prefix="residue-job"
        )

    async def run(
        self,
        work: Work[T],
        *,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> T:
        """Run ``work`` in the pool; ``cancel`` is checked by the work itself (cooperative)."""
        loop = asyncio.get_running_loop()
        token = cancel if cancel is not None else CancelToken()
        forward: ProgressFn = _Throttle(loop, progress) if progress is not None else _ignore
        return await loop.run_in_executor(self._pool, work, forward, token)

    def shutdown(self) -> None:
        """Wait for running work and stop the threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _ignore(fraction: float, stage: str, /) -> None:
    pass
