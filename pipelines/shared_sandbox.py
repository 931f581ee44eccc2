"""One sandbox pool per process and sandbox config, shared by every DoFn that runs code in that process.

A fused stage holds a teacher and a verifier. When each started its own pool, an SDK worker ran two pools, so
twice the zygotes; and with two workers on two CPUs the second pool of each found both CPUs claimed and ran
unpinned, which costs this kind of VM about half its fork rate (``sandbox/affinity.py``). DoFns acquire the
pool on first use and release it in ``teardown``; the last release closes it.
"""

from __future__ import annotations

import threading

from sandbox import Sandbox, SandboxConfig

__all__ = ["SandboxUser", "acquire", "release", "users"]

_lock = threading.Lock()
_pools: dict[str, tuple[Sandbox, int]] = {}  # repr of the config -> (pool, users)


def acquire(cfg: SandboxConfig) -> Sandbox:
    """This process's pool for ``cfg`` (started now if none is running); pair every call with
    :func:`release`."""
    key = repr(cfg)
    with _lock:
        pool, count = _pools.get(key) or (Sandbox(cfg), 0)
        _pools[key] = (pool, count + 1)
        return pool


def release(pool: Sandbox | None) -> None:
    """Give back a pool from :func:`acquire`; the last user's release closes it. ``None`` is ignored."""
    if pool is None:
        return
    with _lock:
        key = next((k for k, (p, _) in _pools.items() if p is pool), None)
        if key is None:
            pool.close()
            return
        count = _pools[key][1] - 1
        if count:
            _pools[key] = (pool, count)
            return
        del _pools[key]
    pool.close()


def users(cfg: SandboxConfig) -> int:
    """How many DoFns of this process hold the pool for ``cfg`` (0 when none is running)."""
    with _lock:
        return _pools.get(repr(cfg), (None, 0))[1]


class SandboxUser:
    """Mixin of a DoFn that runs code: its process's shared pool for ``sandbox_cfg``, acquired on first use (a
    source may be empty: no pool is started for nothing) and released in ``teardown``."""

    sandbox_cfg: SandboxConfig
    _pool: Sandbox | None = None

    def sandbox(self) -> Sandbox:
        """The shared pool, started on first use (a method, not a property: Beam inspects a DoFn's attributes
        while it builds the pipeline, and a property would start a pool in the launcher)."""
        if self._pool is None:
            self._pool = acquire(self.sandbox_cfg)
        return self._pool

    def teardown(self):
        release(self._pool)
        self._pool = None
