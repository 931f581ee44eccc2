"""A rollout pool fed continuously: ``concurrency`` jobs running, a few waiting, and back-pressure beyond.

:func:`~synthesis.endpoint.batch.run_many` runs a fixed list and returns when the slowest job ends, so a
caller that feeds it batch by batch leaves the endpoint idle while each batch drains. A :class:`RolloutPool`
runs jobs as they are submitted: ``concurrency`` at a time, and up to ``waiting`` more queued so that a slot
that frees up is refilled at once, even while the caller is busy with the results (a Beam bundle thread
verifying finished trajectories). :meth:`RolloutPool.submit` blocks while ``concurrency + waiting`` jobs are
outstanding (back-pressure: a fast producer holds at most that many jobs and their images) and returns a
:class:`~concurrent.futures.Future`.

A job should turn its own trouble into a result. What it raises that is not an ``Exception`` (a
:class:`~synthesis.endpoint.errors.FatalTeacherError`: the endpoint refuses every request; or
``KeyboardInterrupt``) makes the pool fatal: from then on :meth:`~RolloutPool.submit` and
:meth:`~RolloutPool.wait` raise it at once, in every thread that uses the pool, and no waiting job starts
(each ends with the same error, unrun).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

__all__ = ["RolloutPool"]


class RolloutPool:
    """A bounded thread pool fed one job at a time, with back-pressure; thread-safe, shared by many callers.

    Args:
        concurrency (`int`): jobs running at once (threads of the pool).
        waiting (`int`, *optional*, defaults to `concurrency`): jobs queued beyond those, ready to start.
        name (`str`, *optional*, defaults to `"rollout"`): prefix of the threads' names.

    Example:
        >>> with RolloutPool(2, waiting=1) as pool:
        ...     futures = [pool.submit(pow, 2, n) for n in range(5)]
        ...     sorted(f.result() for f in futures)
        [1, 2, 4, 8, 16]
    """

    def __init__(self, concurrency: int, waiting: int | None = None, name: str = "rollout"):
        waiting = concurrency if waiting is None else waiting
        if concurrency < 1 or waiting < 0:
            raise ValueError(f"need concurrency >= 1 and waiting >= 0, got {concurrency}, {waiting}")
        self.concurrency, self.limit = concurrency, concurrency + waiting
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name)
        self._changed = threading.Condition()
        self._outstanding = 0
        self._fatal: BaseException | None = None

    @property
    def outstanding(self) -> int:
        """Jobs submitted and not yet finished (running or waiting)."""
        with self._changed:
            return self._outstanding

    @property
    def fatal(self) -> BaseException | None:
        """The first error a job raised that is not an ``Exception`` (None while there is none)."""
        return self._fatal

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue ``fn(*args)``; it runs in a pool thread as soon as one is free.

        Blocks while ``concurrency + waiting`` jobs are outstanding (back-pressure). Raises the pool's fatal
        error, if a job raised one, instead of queueing anything.
        """
        with self._changed:
            while self._fatal is None and self._outstanding >= self.limit:
                self._changed.wait()
            self.raise_if_fatal()
            self._outstanding += 1
        try:
            future = self._executor.submit(self._run, fn, args)
        except BaseException:
            self._finished(None)
            raise
        future.add_done_callback(self._finished)
        return future

    def _run(self, fn: Callable[..., Any], args: tuple) -> Any:
        self.raise_if_fatal()  # a job that waited while another raised a fatal error never starts
        return fn(*args)

    def wait(self, futures: Collection[Future], timeout: float | None = None) -> set[Future]:
        """Block until at least one of ``futures`` (jobs of this pool) is done or ``timeout`` seconds pass;
        returns the done ones.

        Raises the pool's fatal error as soon as any job of the pool (this caller's or another's) raised one.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:  # every job's end notifies under this lock: no wake-up is missed
            while True:
                self.raise_if_fatal()
                done = {f for f in futures if f.done()}
                left = None if deadline is None else deadline - time.monotonic()
                if done or not futures or (left is not None and left <= 0):
                    return done
                self._changed.wait(left)

    def raise_if_fatal(self) -> None:
        """Raise the first fatal error a job of this pool raised (a fresh instance: threads must not share one
        traceback), or return."""
        fatal = self._fatal
        if fatal is not None:
            raise type(fatal)(*fatal.args)

    def _finished(self, future: Future | None) -> None:
        error = None if future is None or future.cancelled() else future.exception()
        with self._changed:
            self._outstanding -= 1
            if error is not None and not isinstance(error, Exception) and self._fatal is None:
                self._fatal = error
            self._changed.notify_all()

    def close(self) -> None:
        """Drop the waiting jobs, let the running ones end and stop the threads (best effort: results are the
        callers' business, and a caller that still waits on a dropped job sees it cancelled)."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> RolloutPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
