"""Live progress of a local run: finished records in the work folder, rate and ETA, on one refreshing line.

The stages write every finished record to the run's record store, so counting those files from a driver-side
thread works the same on the in-process and multi-process runners, with no runner support needed. On an
object store (``run.output_dir=s3://...``) the counts are key listings, taken every ``REMOTE_INTERVAL_S``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from runconfig import storage

__all__ = ["REMOTE_INTERVAL_S", "Progress", "mark_dead"]

REMOTE_INTERVAL_S = 10.0
"""Refresh period on an object store, where every count is a paged listing of the store's keys."""


def mark_dead(letter, work: str) -> None:
    """Record that ``letter``'s record was dead-lettered (an empty file named by a hash of its id)."""
    import hashlib

    name = hashlib.sha256(f"{letter.stage}/{letter.id}".encode()).hexdigest()[:24]
    if storage.is_remote(work):
        storage.write_bytes(storage.join(work, "progress_dead", name), b"")
        return
    folder = Path(work) / "progress_dead"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).touch()


class Progress:
    """Report ``trajectories`` / ``accepted`` counts under ``work`` every ``interval_s`` seconds.

    Args:
        work (`str | Path`): the run's work folder or prefix (holding ``trajectories/`` and ``accepted/``).
        total (`int`): records planned.
        interval_s (`float`, *optional*, defaults to `2.0`): refresh period (at least ``REMOTE_INTERVAL_S``
            on an object store).
    """

    def __init__(self, work: str | Path, total: int, interval_s: float = 2.0):
        self.work, self.total = str(work), total
        self.interval_s = max(interval_s, REMOTE_INTERVAL_S) if storage.is_remote(self.work) else interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.time()
        self._base = (0, 0, 0)

    def counts(self) -> tuple[int, int, int]:
        """(trajectories written, records accepted, records rejected) so far; stores include earlier runs."""
        drafted, accepted = (
            len(storage.list_tree(storage.join(self.work, sub), ".parquet"))
            for sub in ("trajectories", "accepted")
        )
        return drafted, accepted, len(storage.list_tree(self.dead_dir))

    @property
    def dead_dir(self) -> str:
        """Where the pipeline marks each dead-lettered id (see :func:`mark_dead`); cleared at every start."""
        return storage.join(self.work, "progress_dead")

    def line(self) -> str:
        """One progress line: records done, accepted, rejected, this run's rate and an ETA."""
        drafted, accepted, rejected = self.counts()
        done = min(accepted + rejected, self.total) if self.total else accepted + rejected
        elapsed = max(time.time() - self._start, 1e-6)
        rate = (drafted + rejected - self._base[0]) / elapsed
        left = max(self.total - drafted - rejected, 0)
        eta = f"{left / rate:.0f} s" if rate > 0 else "?"
        return (
            f"[build] {done}/{self.total} done: {accepted} verified, {rejected} rejected, "
            f"{drafted} trajectories, {rate:.1f} records/s, ETA {eta}"
        )

    def summary(self) -> dict:
        """Counts at the end, and how many trajectories were reused from an earlier run."""
        drafted, accepted, rejected = self.counts()
        return {
            "trajectories": drafted,
            "accepted_in_store": accepted,
            "rejected": rejected,
            "reused_trajectories": self._base[0],
        }

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            sys.stderr.write("\r" + self.line())
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        storage.delete_tree(self.dead_dir)
        self._base = self.counts()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.stderr.write("\r" + self.line() + "\n")
