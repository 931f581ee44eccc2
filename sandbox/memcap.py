"""A per-worker memory ceiling for what RLIMIT_AS does not see.

RLIMIT_AS bounds each block's address space, but not memory that is held without being mapped: files a block
writes into a scratch folder on tmpfs, pipe buffers, kernel objects, page cache. The ceiling bounds a worker's
whole process tree (the bubblewrap'd zygote and its blocks) by ``sandbox.worker_memory_mb``:

* ``cgroup2``: each worker runs in its own cgroup ``thyme-sandbox-<pid>-<pool>-<slot>-<kind>-<n>`` (created
  under the supervisor's own cgroup, or the hierarchy's root) with ``memory.max`` at the ceiling and
  ``memory.swap.max`` 0. The kernel charges every page the tree allocates (anonymous, shared, tmpfs, page
  cache) and OOM-kills inside the cgroup when it cannot reclaim; ``memory.events`` counts the kills.
* ``cgroup1``: the same with the v1 memory controller (``memory.limit_in_bytes``,
  ``memory.memsw.limit_in_bytes``, ``memory.oom_control``), where the memory controller is only mounted as v1.
* ``watchdog``: where no cgroup can be created (no memory controller, not root, delegation refused), a
  supervisor thread polls the tree of every busy worker every `WATCH_PERIOD_S`: the proportional set size of
  its processes (``/proc/<pid>/smaps_rollup``) plus, when the scratch root is on tmpfs, the files in the
  block's folders. Over the ceiling, it SIGKILLs the worker. Its reaction time is one period plus one scan.

Either way a block that ends over the ceiling gets status ``memory`` with a message naming the ceiling, and
its worker is replaced before the next block (a cgroup OOM kill may also have hit the worker's prepared
child).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_PREFIX = "thyme-sandbox-"
BASELINE_MB = 256
"""Room for a worker's own memory on top of its blocks' (a preloaded zygote is ~80 MB resident, a light one
~21)."""
WATCH_PERIOD_S = 0.1
REMOVE_WAIT_S = 2.0
_SH = "/bin/sh"


def ceiling_mb(worker_memory_mb: int, memory_mb: int) -> int:
    """The ceiling in MB: ``worker_memory_mb``, or (0) twice the block budget plus `BASELINE_MB`."""
    return worker_memory_mb or 2 * memory_mb + BASELINE_MB


def _read(path: str) -> str:
    with open(path) as handle:
        return handle.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _mounts() -> list[tuple[str, str, str, str]]:
    """(mount point, root inside the filesystem, type, super options) of every mount."""
    found = []
    for line in _read("/proc/self/mountinfo").splitlines():
        pre, _, post = line.partition(" - ")
        parts, tail = pre.split(), post.split()
        if len(parts) >= 5 and len(tail) >= 3:
            found.append((parts[4], parts[3], tail[0], tail[2]))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup per hierarchy: "" for v2, the controller list for v1."""
    own = {}
    for line in _read("/proc/self/cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        own[controllers] = path
    return own


def _candidates(mount: str, root: str, own: str | None) -> list[str]:
    """The supervisor's own cgroup in this hierarchy first, then the hierarchy's root."""
    found = []
    if own is not None:
        rel = own[len(root) :] if root != "/" and own.startswith(root) else own
        found.append(os.path.normpath(mount + "/" + rel.lstrip("/")))
    found.append(mount)
    return list(dict.fromkeys(p for p in found if os.path.isdir(p)))


@dataclass(frozen=True)
class CgroupBase:
    """Where worker cgroups are created: the hierarchy's version and the parent folder."""

    version: int
    path: str


def _probe(base: CgroupBase) -> str:
    """Create and remove one test cgroup; "" when it works, else why not."""
    probe = os.path.join(base.path, f"{CGROUP_PREFIX}{os.getpid()}-probe-{os.urandom(3).hex()}")
    try:
        os.mkdir(probe)
    except OSError as exc:
        return f"cannot create a cgroup under {base.path} ({exc.strerror})"
    try:
        knob = "memory.max" if base.version == 2 else "memory.limit_in_bytes"
        if not os.path.exists(os.path.join(probe, knob)):
            return f"{base.path} has no {knob}"
        return ""
    finally:
        os.rmdir(probe)


def find_cgroup_base() -> tuple[CgroupBase | None, str]:
    """The first place this process can create memory-limited cgroups (v2 preferred), or None and why not."""
    try:
        mounts, own = _mounts(), _own_cgroups()
    except OSError as exc:
        return None, f"cannot read cgroup membership ({exc})"
    problems: list[str] = []
    for mount, root, kind, _ in mounts:
        if kind != "cgroup2":
            continue
        for path in _candidates(mount, root, own.get("")):
            try:
                if "memory" not in _read(os.path.join(path, "cgroup.controllers")).split():
                    problems.append(f"cgroup v2 at {path} offers no memory controller")
                    continue
                if "memory" not in _read(os.path.join(path, "cgroup.subtree_control")).split():
                    _write(os.path.join(path, "cgroup.subtree_control"), "+memory")
            except OSError as exc:
                problems.append(f"cannot enable the memory controller below {path} ({exc.strerror or exc})")
                continue
            problem = _probe(CgroupBase(2, path))
            if not problem:
                return CgroupBase(2, path), ""
            problems.append(problem)
    for mount, root, kind, options in mounts:
        if kind != "cgroup" or "memory" not in options.split(","):
            continue
        own_v1 = next((p for c, p in own.items() if "memory" in c.split(",")), None)
        for path in _candidates(mount, root, own_v1):
            problem = _probe(CgroupBase(1, path))
            if not problem:
                return CgroupBase(1, path), ""
            problems.append(problem)
    return None, "; ".join(problems) or "no cgroup memory controller is mounted"


class Cgroup:
    """One worker's memory cgroup: created with its limit, joined by the worker at exec, removed at close.

    Args:
        base (`CgroupBase`): where to create it.
        name (`str`): its folder name (``thyme-sandbox-<pid>-...``).
        limit (`int`): the ceiling in bytes.
    """

    def __init__(self, base: CgroupBase, name: str, limit: int) -> None:
        self.version, self.limit = base.version, limit
        self._events = -1  # memory.events (v2) or memory.oom_control (v1), opened on first use
        self.path = os.path.join(base.path, name)
        os.mkdir(self.path)
        try:
            if self.version == 2:
                _write(self._file("memory.max"), str(limit))
                if os.path.exists(self._file("memory.swap.max")):
                    _write(self._file("memory.swap.max"), "0")
            else:
                _write(self._file("memory.limit_in_bytes"), str(limit))
                if os.path.exists(self._file("memory.memsw.limit_in_bytes")):
                    _write(self._file("memory.memsw.limit_in_bytes"), str(limit))
        except OSError:
            os.rmdir(self.path)
            raise

    def _file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def mode(self) -> str:
        return f"cgroup{self.version}"

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside this cgroup: a shell joins it, then execs ``argv`` (same pid), so the whole
        tree the worker starts is charged from its first instruction."""
        return [_SH, "-c", 'echo $$ > "$0" || exit 97; exec "$@"', self._file("cgroup.procs"), *argv]

    def oom_kills(self) -> int:
        """How many processes the kernel has OOM-killed in this cgroup so far (-1 when unreadable); one
        ``pread`` of a descriptor kept open (the supervisor asks once per block)."""
        try:
            if self._events < 0:
                name = "memory.events" if self.version == 2 else "memory.oom_control"
                self._events = os.open(self._file(name), os.O_RDONLY | os.O_CLOEXEC)
            for line in os.pread(self._events, 4096, 0).decode().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return -1

    def remove(self) -> None:
        """Kill whatever is left in it and delete it (bounded wait)."""
        if self._events >= 0:
            os.close(self._events)
            self._events = -1
        deadline = time.monotonic() + REMOVE_WAIT_S
        while True:
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    return
            _kill_members(self._file("cgroup.procs"))
            time.sleep(0.01)


def _kill_members(procs: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        for pid in _read(procs).split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)


def sweep_stale_cgroups(base: CgroupBase) -> list[str]:
    """Remove worker cgroups left by pools that died without cleaning up (their pid is gone and they are
    empty)."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(base.path):
            if not entry.name.startswith(CGROUP_PREFIX) or not entry.is_dir(follow_symlinks=False):
                continue
            owner = entry.name[len(CGROUP_PREFIX) :].split("-", 1)[0]
            if owner.isdigit() and int(owner) != os.getpid() and not os.path.exists(f"/proc/{owner}"):
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)
                    removed.append(entry.path)
    return removed


def tree_pids(root: int) -> list[int]:
    """``root`` and every descendant of it (threads' children included)."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except (OSError, ValueError):
            continue
        for tid in tids:
            try:
                stack += [int(p) for p in _read(f"/proc/{pid}/task/{tid}/children").split()]
            except (OSError, ValueError):
                pass
    return found


def _pss(pid: int) -> int:
    try:
        for line in _read(f"/proc/{pid}/smaps_rollup").splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def folder_bytes(paths: list[str], max_entries: int = 20000) -> int:
    """Allocated bytes of the files under ``paths`` (no links followed; the walk stops after
    ``max_entries``)."""
    used = count = 0
    stack = list(paths)
    while stack and count < max_entries:
        try:
            with os.scandir(stack.pop()) as listing:
                for entry in listing:
                    count += 1
                    info = entry.stat(follow_symlinks=False)
                    used += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used


def on_tmpfs(path: str) -> bool:
    """Whether ``path`` lives on a memory-backed filesystem (its pages are memory, not disk)."""
    real, best, kind = os.path.realpath(path), "", ""
    with contextlib.suppress(OSError):
        for mount, _, fstype, _ in _mounts():
            if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                best, kind = mount, fstype
    return kind in ("tmpfs", "ramfs", "shmem")


@dataclass
class Watch:
    """One busy worker under the watchdog: its tree's root pid, ceiling and tmpfs folders; what it saw."""

    root: int
    limit: int
    folders: list[str]
    fired: bool = False
    usage: int = 0
    peak: int = 0
    scans: int = 0
    scan_s: float = 0.0
    fired_at: float = 0.0
    pids: list[int] = field(default_factory=list)


class Watchdog:
    """Polls every watched worker tree each `WATCH_PERIOD_S` and SIGKILLs a tree over its ceiling."""

    def __init__(self, period_s: float = WATCH_PERIOD_S) -> None:
        self.period_s = period_s
        self._watches: set[int] = set()
        self._by_id: dict[int, Watch] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, root: int, limit: int, folders: list[str]) -> Watch:
        """Start watching the tree under ``root`` (a worker between request and answer)."""
        item = Watch(root, limit, folders)
        with self._lock:
            self._by_id[id(item)] = item
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="sandbox-memory-watchdog", daemon=True
                )
                self._thread.start()
        self._wake.set()
        return item

    def unwatch(self, item: Watch) -> None:
        with self._lock:
            self._by_id.pop(id(item), None)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                items = list(self._by_id.values())
            if not items:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            for item in items:
                if not item.fired:
                    self.check(item)
            self._stop.wait(self.period_s)

    @staticmethod
    def check(item: Watch) -> int:
        """Measure one tree now; SIGKILL it when over its ceiling. Returns the usage in bytes."""
        started = time.monotonic()
        pids = tree_pids(item.root)
        usage = sum(_pss(pid) for pid in pids) + (folder_bytes(item.folders) if item.folders else 0)
        item.usage, item.peak, item.scans = usage, max(item.peak, usage), item.scans + 1
        item.scan_s = max(item.scan_s, time.monotonic() - started)
        if usage > item.limit:
            item.fired, item.fired_at, item.pids = True, time.monotonic(), pids
            for pid in reversed(
                pids
            ):  # the zygote (a pid namespace's init at the full level) takes the rest down
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        return usage


def ceiling_message(mb: int, mode: str) -> str:
    """The error message of a block stopped by the ceiling."""
    how = {
        "cgroup2": "cgroup v2 memory.max",
        "cgroup1": "cgroup v1 memory limit",
        "watchdog": "memory watchdog",
    }
    return (
        f"the block's worker exceeded its memory ceiling of {mb} MB (sandbox.worker_memory_mb, "
        f"enforced by the {how.get(mode, mode)}) and the block was killed"
    )


def scratch_folders(current: Path) -> list[str]:
    """The block's folders whose files count against the ceiling when scratch is on tmpfs."""
    return [str(current / sub) for sub in ("in", "out", "work")]


@dataclass
class CeilingPlan:
    """How this pool bounds its workers' memory: the mode in force, the ceiling, and what enforces it."""

    mode: str
    limit_mb: int
    base: CgroupBase | None = None
    watchdog: Watchdog | None = None
    tmpfs_scratch: bool = False
    reason: str = ""

    @property
    def feature(self) -> str:
        """How the sandbox reports it among its features, e.g. ``memory-cgroup2-2304mb``."""
        return f"memory-{self.mode}-{self.limit_mb}mb" if self.mode != "off" else "memory-ceiling-off"

    def message(self) -> str:
        return ceiling_message(self.limit_mb, self.mode)

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.close()


class CeilingUnavailableError(RuntimeError):
    """``memory_ceiling: cgroup`` was asked for and no memory cgroup can be created here."""


def choose(mode: str, limit_mb: int, scratch_root: str) -> CeilingPlan:
    """Pick the ceiling's enforcement for ``mode`` ("auto", "cgroup", "watchdog", "off")."""
    tmpfs = on_tmpfs(scratch_root)
    if mode == "off":
        return CeilingPlan("off", limit_mb, reason="sandbox.memory_ceiling is off")
    reason = "sandbox.memory_ceiling is watchdog"
    if mode in ("auto", "cgroup"):
        base, reason = find_cgroup_base()
        if base is not None:
            sweep_stale_cgroups(base)
            return CeilingPlan(f"cgroup{base.version}", limit_mb, base=base, tmpfs_scratch=tmpfs)
        if mode == "cgroup":
            raise CeilingUnavailableError(
                f"sandbox.memory_ceiling 'cgroup' is not available here: {reason}. Run as root with the "
                "cgroup memory controller delegated (cgroup v2: 'memory' in the parent's "
                "cgroup.subtree_control), or set sandbox.memory_ceiling to 'auto' or 'watchdog'."
            )
    return CeilingPlan("watchdog", limit_mb, watchdog=Watchdog(), tmpfs_scratch=tmpfs, reason=reason)
