from __future__ import annotations

import asyncio
import threading
import time

import pytest

from residue.dsp.progress import CancelToken, ProgressFn
from residue.errors import JobCancelled
from residue.jobs.executor import InProcessExecutor


def test_runs_off_the_event_loop_with_progress() -> None:
    seen: list[tuple[float, str]] = []
    loop_thread: list[int] = []

    def work(progress: ProgressFn, cancel: CancelToken) -> int:
        assert threading.get_ident() != loop_thread[0]
        for i in range(5):
            progress(i / 4, "counting")
            time.sleep(0.06)
        return 42

    async def main() -> int:
        loop_thread.append(threading.get_ident())
        ex = InProcessExecutor(workers=1)
        try:
            return await ex.run(work, progress=lambda f, s: seen.append((f, s)))
        finally:
            ex.shutdown()

    assert asyncio.run(main()) == 42
    assert seen[-1] == (1.0, "counting")
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and len(seen) >= 3


def test_cancellation_is_cooperative() -> None:
    def work(progress: ProgressFn, cancel: CancelToken) -> None:
        for _ in range(1000):
            cancel.raise_if_cancelled()
            time.sleep(0.005)

    async def main() -> None:
        ex = InProcessExecutor(workers=1)
        token = CancelToken()
        task = asyncio.ensure_future(ex.run(work, cancel=token))
        await asyncio.sleep(0.05)
        token.cancel()
        try:
            await task
        finally:
            ex.shutdown()

    start = time.monotonic()
    with pytest.raises(JobCancelled):
        asyncio.run(main())
    assert time.monotonic() - start < 2.0


def test_loop_stays_responsive_during_work() -> None:
    def work(progress: ProgressFn, cancel: CancelToken) -> None:
        time.sleep(0.3)

    async def main() -> int:
        ex = InProcessExecutor(workers=1)
        ticks = 0
        job = asyncio.ensure_future(ex.run(work))
        while not job.done():
            await asyncio.sleep(0.01)
            ticks += 1
        ex.shutdown()
        return ticks

    assert asyncio.run(main()) >= 10
