"""The supervisor's handle on one worker process: start it, talk to it, kill it.

A worker that misses a deadline, closes its pipe or sends garbage is killed outright (its whole
bubblewrap sandbox, whose pid namespace takes every process inside down with it) and reported dead;
the pool then starts a replacement.
"""

from __future__ import annotations

import base64
import os
import resource
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.config import SandboxConfig
from sandbox.isolation import LaunchPlan, runtime_paths, worker_command
from sandbox.layout import DEVICE_PATHS, SCRATCH_MOUNT
from sandbox.memcap import CGROUP_PREFIX, CeilingPlan, Cgroup, Watch, scratch_folders
from sandbox.outcome import answer_fields
from sandbox.protocol import ProtocolError, encode_request, read_answer, read_frame, write_all, write_frame
from sandbox.scratch import Scratch

STOP_GRACE_S = 2.0  # how long a stopped worker may take to exit by itself before it is killed
KILL_WAIT_S = 2.0  # how long to wait for killed processes to be reaped


class WorkerDied(Exception):
    """The worker process is gone or unresponsive; its in-flight block is lost."""


class CeilingHit(WorkerDied):
    """The worker was killed by its memory ceiling while running a block (the message names the ceiling)."""


def _init_message(
    config: SandboxConfig, launch: LaunchPlan, scratch: Scratch, preload: list[str], cpu: int | None
) -> dict[str, Any]:
    """Everything the zygote needs to confine its children, sent once at start."""
    full = bool(set(config.preload) & set(preload))  # the zygote image blocks fork from
    rlimits = [
        (resource.RLIMIT_FSIZE, config.file_size_mb << 20),
        (resource.RLIMIT_NOFILE, config.max_open_files),
        (resource.RLIMIT_CORE, 0),
    ]
    if launch.drop_uid is not None:
        rlimits.append((resource.RLIMIT_NPROC, config.max_threads))  # per-uid, so only for the sandbox uid
    zygote_layer, block_layer = launch.seccomp_layers
    if not zygote_layer:  # no layers: each block loads the whole policy itself
        block_layer = launch.seccomp_bpf
    return {
        "preload": preload,
        "uid": launch.drop_uid,
        "landlock_abi": launch.landlock_abi,
        "seccomp_zygote": base64.b64encode(zygote_layer).decode(),
        "seccomp_bpf": base64.b64encode(block_layer).decode(),
        "readonly_paths": runtime_paths(),
        "device_paths": list(DEVICE_PATHS),
        "rlimits": rlimits,
        "memory_bytes": config.memory_mb << 20,
        "prefault_bytes": config.prefault_mb << 20 if full else 0,
        "prewarm": config.prewarm and full,
        "native_spawn": config.native_spawn,
        "scratch": scratch_view(launch, scratch),
        "orphan_guard": not launch.bwrap,
        "cpu": cpu,
    }


def scratch_view(launch: LaunchPlan, scratch: Scratch) -> str:
    """The execution folder's path as the worker sees it (inside its mount namespace, if any)."""
    return f"{SCRATCH_MOUNT}/{scratch.current.name}" if launch.bwrap else str(scratch.current)


class WorkerProcess:
    """One running zygote and its scratch root.

    Args:
        config (`SandboxConfig`): the pool's configuration.
        launch (`LaunchPlan`): how to start and confine it.
        scratch (`Scratch`): its private scratch root on the host.
        spawn (`Callable`): runs ``subprocess.Popen`` on a long-lived thread (bubblewrap's
            ``--die-with-parent`` fires when the *thread* that started it exits).
        preload (`list[str]`): modules the zygote imports once (empty for a light zygote).
        cpu (`int | None`): the CPU the zygote and its blocks are pinned to; None leaves them unpinned.
        ceiling (`CeilingPlan | None`): the pool's memory ceiling (a cgroup for this worker, or the watchdog).
        name (`str`): names its cgroup, ``thyme-sandbox-<pid>-<name>``.
    """

    def __init__(
        self,
        config: SandboxConfig,
        launch: LaunchPlan,
        scratch: Scratch,
        spawn: Callable[[Callable[[], subprocess.Popen]], subprocess.Popen],
        preload: list[str],
        cpu: int | None,
        ceiling: CeilingPlan | None = None,
        name: str = "",
    ) -> None:
        self.config, self.launch, self.scratch = config, launch, scratch
        self.blocks = 0
        self.spent = False  # its memory ceiling fired: replace it before the next block
        self.ceiling = ceiling
        self._family: list[int] | None = None  # its processes, noted when it is stopped
        argv, env = worker_command(launch, str(scratch.root))
        self.cgroup: Cgroup | None = None
        if ceiling is not None and ceiling.base is not None:
            cgroup_name = f"{CGROUP_PREFIX}{os.getpid()}-{name or os.urandom(4).hex()}"
            try:
                self.cgroup = Cgroup(ceiling.base, cgroup_name, ceiling.limit_mb << 20)
            except OSError as exc:
                raise WorkerDied(f"worker cgroup could not be created: {exc}") from exc
            argv = self.cgroup.wrap(argv)
        try:
            self.proc = spawn(
                lambda: subprocess.Popen(
                    argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    env=env, bufsize=0, close_fds=True, start_new_session=True, cwd=str(scratch.root),
                )
            )  # fmt: skip
        except OSError as exc:
            self._remove_cgroup()
            raise WorkerDied(f"worker could not be started: {exc}") from exc
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()  # type: ignore[union-attr]
        try:
            write_frame(self._in, _init_message(config, launch, scratch, preload, cpu))
            hello = read_frame(self._out, 1 << 16, time.monotonic() + config.start_timeout_s)
        except (OSError, ProtocolError) as exc:
            self.kill()
            raise WorkerDied(f"worker failed to start: {exc}") from exc
        self.pid_inside = hello.get("pid")
        self._kills = self.cgroup.oom_kills() if self.cgroup is not None else 0  # OOM kills counted so far

    @property
    def scratch_view(self) -> str:
        """The execution folder's path as the worker sees it."""
        return scratch_view(self.launch, self.scratch)

    def alive(self) -> bool:
        """Whether the worker process is still running."""
        return self.proc.poll() is None

    def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one block and wait for its result (the fields `sandbox.outcome.build_result` reads); raises
        `WorkerDied` if the worker fails, `CeilingHit` if its memory ceiling killed it."""
        limit = float(request["timeout_s"]) + float(request["replay_timeout_s"])
        deadline = time.monotonic() + limit + self.config.hang_grace_s
        watch = self._watch()
        try:
            write_all(self._in, encode_request(request))
            answer = read_answer(self._out, int(request["output_limit"]), deadline)
        except (OSError, ProtocolError) as exc:
            hit = self._ceiling_fired(watch)
            self.kill()
            if hit and self.ceiling is not None:
                self.spent = True
                raise CeilingHit(self.ceiling.message()) from exc
            raise WorkerDied(str(exc)) from exc
        finally:
            if watch is not None and self.ceiling is not None and self.ceiling.watchdog is not None:
                self.ceiling.watchdog.unwatch(watch)
        self.blocks += 1
        response = answer_fields(answer)
        if self._ceiling_fired(watch) and self.ceiling is not None:
            self.spent = True  # an OOM kill may have taken its prepared child too: the pool replaces it
            response.update(status="memory", error_type="MemoryError", error_message=self.ceiling.message())
        return response

    def _watch(self) -> Watch | None:
        """Put the worker's tree under the watchdog for one block (watchdog mode only)."""
        ceiling = self.ceiling
        if ceiling is None or ceiling.watchdog is None:
            return None
        folders = scratch_folders(self.scratch.current) if ceiling.tmpfs_scratch else []
        return ceiling.watchdog.watch(self.proc.pid, ceiling.limit_mb << 20, folders)

    def _ceiling_fired(self, watch: Watch | None) -> bool:
        """Whether the ceiling killed a process of this worker since the last look (one read of the cgroup's
        OOM kill count per block)."""
        if watch is not None and watch.fired:
            return True
        if self.cgroup is None:
            return False
        kills, self._kills = self._kills, self.cgroup.oom_kills()
        return self._kills > kills >= 0

    def _remove_cgroup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def stop(self) -> None:
        """Ask the worker to exit (end of its control pipe): it kills and reaps its prepared child and exits,
        and bubblewrap, whose pid-namespace init reaps everything inside, follows. `close` waits for it."""
        if self._family is None:
            self._family = _descendants(self.proc.pid) if self.proc.poll() is None else []
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def kill(self, grace_s: float = 0.0) -> None:
        """End the worker (and with it the whole sandbox), reap it, and wait (bounded) until every process
        it started is gone, zombies included.

        Args:
            grace_s (`float`, *optional*, defaults to `0.0`): time to exit by itself after `stop` first.
        """
        if self._family is None:
            self._family = _descendants(self.proc.pid) if self.proc.poll() is None else []
        if grace_s > 0:
            self.stop()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            # At the full level SIGKILL bubblewrap's pid-namespace init: the kernel ends everything inside
            # and the init reaps it, then the outer bubblewrap reaps the init and exits by itself.
            inner = (
                [pid for pid in self._family if _parent(pid) == self.proc.pid] if self.launch.bwrap else []
            )
            for pid in inner or [self.proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(KILL_WAIT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        _wait_gone(self._family, time.monotonic() + KILL_WAIT_S)
        self._remove_cgroup()

    def close(self) -> None:
        """Stop the worker (gracefully, bounded), wait for every process it started, delete its scratch
        root."""
        self.kill(STOP_GRACE_S)
        self.scratch.remove()


def _parent(pid: int) -> int:
    """The parent pid of ``pid`` (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            children.setdefault(_parent(int(entry.name)), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for pid in children.get(stack.pop(), []):
            found.append(pid)
            stack.append(pid)
    return found


def _wait_gone(pids: list[int], deadline: float) -> None:
    """Wait until none of ``pids`` exists any more, not even as a zombie, or until ``deadline``."""
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [pid for pid in left if os.path.exists(f"/proc/{pid}")]
        if left:
            time.sleep(0.005)


def new_scratch(root: Path, index: int, uid: int | None, keep_inputs: bool = False) -> Scratch:
    """Create a fresh private scratch root for worker ``index`` under ``root`` (``keep_inputs``: see
    `Scratch`)."""
    path = root / f"w{index}-{os.urandom(4).hex()}"
    path.mkdir(mode=0o711)
    return Scratch(path, uid, keep_inputs)
