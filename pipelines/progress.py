"""Live progress of a local run: finished records in the work folder, rate and ETA, on one refreshing line.

The stages write every finished record to the run's record store, so counting those files from a driver-side
thread works the same on the in-process and multi-process runners, with no runner support needed.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

__all__ = ["Progress"]


class Progress:
    """Report ``trajectories`` / ``accepted`` counts under ``work`` every ``interval_s`` seconds.

    Args:
        work (`Path`): the run's work folder (holding ``trajectories/`` and ``accepted/`` stores).
        total (`int`): records planned.
        interval_s (`float`, *optional*, defaults to `2.0`): refresh period.
    """

    def __init__(self, work: Path, total: int, interval_s: float = 2.0):
        self.work, self.total, self.interval_s = work, total, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.time()
        self._base = (0, 0)

    def counts(self) -> tuple[int, int]:
        """(trajectories written, records accepted) so far, earlier runs included."""
        return tuple(sum(1 for _ in (self.work / sub).glob("*/*.parquet")) if (self.work / sub).exists() else 0
                     for sub in ("trajectories", "accepted"))

    def line(self) -> str:
        """One progress line: counts, rate of this run and an ETA."""
        drafted, accepted = self.counts()
        elapsed = max(time.time() - self._start, 1e-6)
        rate = (drafted - self._base[0]) / elapsed
        left = max(self.total - drafted, 0)
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        return (f"[build] {drafted}/{self.total} trajectories, {accepted} accepted, "
                f"{rate:.1f} records/s, ETA {eta}")

    def summary(self) -> dict:
        """Counts at the end, and how many were reused from an earlier run."""
        drafted, accepted = self.counts()
        return {"trajectories": drafted, "accepted_in_store": accepted, "reused_trajectories": self._base[0]}

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            sys.stderr.write("\r" + self.line())
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        self._base = self.counts()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.stderr.write("\r" + self.line() + "\n")
