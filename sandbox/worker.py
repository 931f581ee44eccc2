"""The zygote: a pre-warmed interpreter inside the sandbox that forks one confined child per block.

Started by the supervisor (inside bubblewrap at the full level). It imports the heavy libraries once,
drops to the unprivileged uid, then serves requests on its control pipe: fork, let the child confine
itself and run the block, read its output under caps, SIGKILL it at the deadline, reap it, answer.
It never runs untrusted code itself and holds no secrets, since a child can read its memory.

Every block is a fork of this process, and after each fork every page this process writes is a copy-on-write
fault (the prepared child still shares it). So the per-block loop here does as little as it can: it passes the
block's request to the child as the bytes it received, answers with the raw bytes it captured (the supervisor
decodes and judges them, `sandbox.protocol`), and imports no module it does not need (no ``dataclasses``, no
``typing`` at run time, and not the pool: ``sandbox/__init__.py`` imports lazily).
"""

from __future__ import annotations

import base64
import gc
import importlib
import os
import select
import signal
import sys
import time

from sandbox import landlock, prewarm
from sandbox.child import (
    ANSWER_AT_END,
    ANSWER_AT_EXIT,
    FAULTS,
    MAX_REQUEST,
    PRESEED,
    Confinement,
    confine_in_python,
    install_stdio,
    namespace_template,
    seed_rngs,
    serve_block,
    settle,
)
from sandbox.protocol import (
    MAX_REPORT,
    REPORT_END,
    ProtocolError,
    encode_answer,
    read_frame,
    read_request,
    write_all,
    write_frame,
)
from sandbox.seccomp_policy import LoadablePolicy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    NativeSpawn = Callable[[int], "tuple[int, int, int, int, int] | None"]

BACK_TO_BACK_S = 0.005  # a request this soon after the last answer means the pool is busy
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _warm(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    if "numpy" in sys.modules:
        importlib.import_module("numpy.random")  # numpy loads it lazily; each block seeds it
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(1)
    if "PIL.Image" in sys.modules:
        sys.modules["PIL.Image"].init()  # register every plugin now, not in each child


def _open_paths(paths: list[str]) -> tuple[int, ...]:
    return tuple(os.open(path, os.O_PATH | os.O_CLOEXEC) for path in paths if os.path.exists(path))


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise RuntimeError("failed to drop privileges")


def _ruleset(init: dict[str, Any]) -> int:
    """The Landlock ruleset every block gets: read-only runtime and inputs, writable out/ and work/."""
    abi = int(init["landlock_abi"])
    if not abi:
        return -1
    scratch = str(init["scratch"])
    full = landlock.fs_rights(abi)
    file_rw = landlock.READ_FILE | landlock.WRITE_FILE | landlock.TRUNCATE
    groups = [
        (init["readonly_paths"], landlock.READ_ONLY),
        (init["device_paths"], file_rw),
        ([os.path.join(scratch, "in")], landlock.READ_FILE | landlock.READ_DIR),
        ([os.path.join(scratch, "out"), os.path.join(scratch, "work")], full),
    ]
    fds = [(fd, rights) for paths, rights in groups for fd in _open_paths(paths)]
    try:
        return landlock.build_ruleset(abi, fds)
    finally:
        for fd, _ in fds:
            os.close(fd)


def _setup(init: dict[str, Any]) -> tuple[Confinement, int]:
    """Import, prepare the confinement, drop privileges, then confine this process itself (no-new-privileges,
    its seccomp layer); returns the confinement and the budget in bytes."""
    _warm(list(init["preload"]))
    if init.get("native_spawn"):  # before the uid drop, like every import: the sandbox uid may not read them
        importlib.import_module("sandbox._spawn")
    zygote_bpf = base64.b64decode(init.get("seccomp_zygote", ""))
    block_bpf = base64.b64decode(init["seccomp_bpf"])
    conf = Confinement(
        landlock_ruleset=_ruleset(init),
        seccomp=LoadablePolicy(block_bpf) if block_bpf else None,
        rlimits=tuple((int(r), int(v)) for r, v in init["rlimits"]),
        scratch=str(init["scratch"]),
        orphan_guard=bool(init.get("orphan_guard", True)),
        namespace=namespace_template(),
        prefault=int(init.get("prefault_bytes", 0)),
    )
    if conf.prefault and not prewarm.keep_freed_memory():
        conf.prefault = 0  # not glibc: freed pages would go straight back to the kernel
    if init.get("prewarm") and "PIL.Image" in sys.modules:
        conf.warm_png = prewarm.sample_png()
    if init.get("cpu") is not None:
        os.sched_setaffinity(0, {int(init["cpu"])})  # inherited by every block forked from here
    if init.get("uid") is not None:
        _drop_privileges(int(init["uid"]))
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")  # the kernel's OOM killer picks blocks (and this zygote) before anyone else
    except OSError:
        pass
    settle(conf.scratch)
    seed_rngs(PRESEED)  # children with the default seed skip numpy's slow reseed
    if conf.seccomp is not None or conf.landlock_ruleset >= 0:
        landlock.no_new_privs()  # for this process and every block: Landlock and seccomp need it
    if zygote_bpf:
        LoadablePolicy(zygote_bpf).load()  # the long layer, once; each block adds its short one
    gc.collect()
    gc.freeze()  # a child's collections then never write to (and copy) the zygote's heap pages
    return conf, int(init["memory_bytes"])


def _vsz() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * _PAGE


class _Reader:
    """Collects one child's stdout, stderr and report under caps (one buffer per pipe, in that order)."""

    __slots__ = ("caps", "data", "open", "over")

    def __init__(self, fds: tuple[int, int, int], caps: tuple[int, int, int]) -> None:
        self.caps = caps
        self.data = (bytearray(), bytearray(), bytearray())
        self.open = {fd: index for index, fd in enumerate(fds)}
        self.over = False

    def pump(self, fd: int) -> None:
        index = self.open[fd]
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            del self.open[fd]
            os.close(fd)
            return
        buf = self.data[index]
        room = self.caps[index] - len(buf)
        buf += chunk[: max(room, 0)]
        if len(chunk) > room:
            self.over = True

    def drain(self) -> None:
        """Read what the pipes hold now, without waiting for their writers to close them."""
        for fd in list(self.open):
            os.set_blocking(fd, False)
            try:
                while fd in self.open and not self.over:
                    self.pump(fd)
            except BlockingIOError:
                pass

    def close(self) -> None:
        for fd in self.open:
            os.close(fd)
        self.open = {}


_REPORT = 2  # index of the report pipe in a _Reader
PF_EXITING = 0x4  # task flag (include/linux/sched.h): in the kernel's exit, it never runs user code again
EXIT_WAIT_S = 0.005  # how long a finished block's process may take to reach its exit before it is waited for
EXIT_POLL_S = 0.00005


def _exiting_cpu(pid: int) -> float | None:
    """The CPU seconds of ``pid``'s threads if every one is in the kernel's exit (``/proc``'s task flags),
    else None. A thread that finished exiting meanwhile has left the list."""
    cpu_ns = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as handle:
                stat = handle.read()
            if not int(stat[stat.rindex(b")") + 2 :].split()[6]) & PF_EXITING:
                return None
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as handle:
                cpu_ns += int(handle.read().split()[0])
        except FileNotFoundError:
            continue
    return cpu_ns / 1e9


def _past_its_block(pid: int) -> float | None:
    """After a block's report has ended: wait (briefly) until the child can run nothing more, and return its
    CPU seconds; None when it does not get there in `EXIT_WAIT_S` (a block that wrote the end itself and runs
    on), which the caller then waits for as for any other.

    What is left of its exit is freeing its memory (2-4 ms for an image block here), which the worker need not
    wait for to answer: the supervisor reads the scratch only once no thread of the block can write to it, and
    the worker reaps the child before the next block starts (`execute`'s reap).
    """
    deadline = time.monotonic() + EXIT_WAIT_S
    try:
        while (cpu := _exiting_cpu(pid)) is None:
            if time.monotonic() > deadline:
                return None
            time.sleep(EXIT_POLL_S)  # the child (at `EXIT_NICE`, on this CPU) runs on into its exit meanwhile
    except OSError:  # no /proc to look in: wait for the exit
        return None
    return cpu


def _supervise(
    pid: int, reader: _Reader, timeout: float, replay: float, answer_at_end: bool = False
) -> tuple[str, int, float, int | None]:
    """Pump pipes until the child exits (or, ``answer_at_end``, until its report has ended and it is past its
    block); SIGKILL it on timeout or output flood. Returns (cause, wait status, CPU seconds, page faults: None
    if not reaped).

    The replay of a session's earlier cells gets its own budget; the block's limit starts when the child
    marks the end of the replay with its first byte on the report pipe. A child that is not reaped here
    (answered early) exited with status 0 after its report, and is reaped by the caller.
    """
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in reader.open:
        poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    deadline, cause, exited, rearmed = time.monotonic() + timeout + replay, "", False, not replay
    look = answer_at_end  # once per block, at its report's end
    while reader.open or not exited:
        left = deadline - time.monotonic()
        if left <= 0 or reader.over:
            cause = cause or ("output-limit" if reader.over else "timeout")
            os.kill(pid, signal.SIGKILL)
            break
        for fd, _ in poller.poll(left * 1000):
            if fd == pidfd:
                exited = True
                poller.unregister(pidfd)
            else:
                reader.pump(fd)
                report = reader.data[_REPORT]
                if not rearmed and report:
                    deadline, rearmed = min(deadline, time.monotonic() + timeout), True
                if look and not exited and report.endswith(REPORT_END) and not reader.over:
                    look = False
                    cpu = _past_its_block(pid)
                    if cpu is not None:
                        reader.drain()
                        os.close(pidfd)
                        reader.close()
                        return ("output-limit" if reader.over else cause), 0, cpu, None
                if fd not in reader.open:
                    poller.unregister(fd)
        if exited and reader.open and not poller.poll(0):
            break  # exited and nothing left to read
    _, status, usage = os.wait4(pid, 0)
    os.close(pidfd)
    reader.close()
    return cause, status, usage.ru_utime + usage.ru_stime, int(usage.ru_minflt)


class _Prepared:
    """A child forked ahead of time, confined and blocked on its request pipe."""

    __slots__ = ("fds", "pid", "prefault", "request_fd")

    def __init__(self, pid: int, request_fd: int, fds: tuple[int, int, int], prefault: int) -> None:
        self.pid, self.request_fd, self.fds = pid, request_fd, fds  # fds: stdout, stderr, report
        self.prefault = prefault  # bytes of heap it faults in before its block


def faults_before_block(child: _Prepared) -> int | None:
    """The page faults ``child`` made before it took its block (its first `FAULTS` bytes on the report pipe,
    written before any untrusted code ran); None if it died first.

    Waits for them without a deadline: they come before the child reads its block, so a read that gave up
    would leave them to be taken for the block's report. A child that never sends them hangs the worker,
    which the supervisor kills after ``timeout + hang_grace_s``.
    """
    fd, data = child.fds[2], b""
    while len(data) < FAULTS.size:
        chunk = os.read(fd, FAULTS.size - len(data))
        if not chunk:
            return None
        data += chunk
    return int(FAULTS.unpack(data)[0])


def prefork(
    conf: Confinement, address_space: int, prefault: int = 0, native: NativeSpawn | None = None
) -> _Prepared:
    """Fork the next block's child now, so fork and confinement cost no latency later (``prefault``: bytes of
    heap it faults in while it waits). With ``native`` (`native_spawn`), the child is forked and confined in C
    before it runs any Python code; otherwise by `os.fork` and `confine_in_python`."""
    if native is not None:
        forked = native(prefault)
        if forked is None:  # the child, confined
            try:
                serve_block(conf, prefault)
            finally:
                os._exit(70)
        pid, request_w, out_r, err_r, report_r = forked
        return _Prepared(pid, request_w, (out_r, err_r, report_r), prefault)
    request_r, request_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            confine_in_python(conf, (request_r, out_w, err_w, report_w), address_space, prefault)
            serve_block(conf, prefault)
        finally:
            os._exit(70)
    for fd in (request_r, out_w, err_w, report_w):
        os.close(fd)
    return _Prepared(pid, request_w, (out_r, err_r, report_r), prefault)


def native_spawn(conf: Confinement, address_space: int) -> NativeSpawn:
    """The worker's `sandbox._spawn.prefork`, with everything but the prefault fixed once (no per-block
    allocation before the fork that the child would then share)."""
    from sandbox import _spawn

    bpf = conf.seccomp.bpf if conf.seccomp else b""
    limits, ruleset, guard = conf.limits(address_space), conf.landlock_ruleset, conf.orphan_guard
    return lambda prefault: _spawn.prefork(ruleset, bpf, limits, guard, prefault)


def execute(
    limits: tuple[float, float, int],
    frame: bytes,
    child: _Prepared,
    make_next: Callable[[], _Prepared] | None = None,
    count_faults: bool = False,
    answer_at_end: bool = False,
) -> tuple[bytes, _Prepared | None, Callable[[], int]]:
    """Hand one block to a prepared child and describe the outcome; with ``make_next``, also prepare
    the next child while the block runs (returned second).

    The next child is forked from this (clean) worker, never from the running block, and gets no
    request before the supervisor has emptied the scratch folder.

    Args:
        limits (`tuple[float, float, int]`): the block's time limit, its replay's time limit, the output cap.
        frame (`bytes`): the block's request as the supervisor framed it, passed on unread.
        child (`_Prepared`): the child that runs it.
        make_next (`Callable`, *optional*): forks the next child.
        count_faults (`bool`, *optional*): count the page faults of the block (0 when False).
        answer_at_end (`bool`, *optional*): answer once the block's report has ended and its process can run
            nothing more, before its exit has freed its memory (`_past_its_block`); for blocks one at a time.
            Back to back, the CPU-bound pool gains nothing from it and pays for the looking.

    Returns:
        The answer for the supervisor (`sandbox.protocol.encode_answer`), the next child (if made), and the
        reap: to be called once the answer is out and before the next block, it waits for the child to be
        gone (if it was not yet) and returns the page faults the block's process made from its request on
        (the kernel's counts; 0 uncounted).
    """
    started = time.monotonic()
    before = faults_before_block(child) if count_faults else None
    try:
        write_all(child.request_fd, ANSWER_AT_END if answer_at_end else ANSWER_AT_EXIT)
        write_all(child.request_fd, frame)
    except OSError:
        pass  # the child died before its request: reaped and reported below
    os.close(child.request_fd)
    following = make_next() if make_next is not None else None
    timeout, replay, cap = limits
    reader = _Reader(child.fds, (cap, cap, MAX_REPORT))
    cause, status, cpu, faults = _supervise(child.pid, reader, timeout, replay, answer_at_end)
    out, err, report = reader.data
    if report.endswith(REPORT_END) and not cause:
        status = 0  # a finished report is the outcome, answered at its end or not (however the process ended)
    answer = encode_answer(
        cause, status, cpu, time.monotonic() - started, out, err, report.removesuffix(REPORT_END)
    )

    def reap() -> int:
        total = faults if faults is not None else int(os.wait4(child.pid, 0)[2].ru_minflt)
        return 0 if before is None else total - before

    return answer, following, reap


def main() -> None:
    """Serve blocks on the control pipe until it closes."""
    ctl_in, ctl_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # stays /dev/null: every block's process inherits it as its stdin
    os.dup2(null, 1)  # stray prints must never corrupt the protocol
    os.close(null)
    install_stdio()
    init = read_frame(ctl_in, MAX_REQUEST)
    conf, memory = _setup(init)
    if conf.orphan_guard:
        landlock.set_parent_death_signal(int(signal.SIGKILL))  # no pid namespace will end us with the pool
    address_space = _vsz() + memory  # the zygote's size is fixed once warm; measured once
    heap = prewarm.HeapEstimate(conf.prefault) if conf.prefault else None

    native = native_spawn(conf, address_space) if init.get("native_spawn") else None

    def make_child() -> _Prepared:
        return prefork(conf, address_space, heap.next if heap is not None else 0, native)

    pinned = len(os.sched_getaffinity(0)) == 1  # set in `_setup`, once
    child = make_child()
    write_frame(ctl_out, {"ready": True, "pid": os.getpid(), "uid": os.getuid(), "vsz": _vsz()})
    answered = 0.0
    while True:
        try:
            timeout, replay, cap, frame = read_request(ctl_in, MAX_REQUEST)
        except ProtocolError:  # the supervisor closed the pipe: stop, leaving no process behind
            os.kill(child.pid, signal.SIGKILL)
            os.waitpid(child.pid, 0)
            os._exit(0)
        # Back-to-back blocks on an unpinned zygote: fork the next child while this one runs, on another
        # CPU. Otherwise answer first and fork afterwards: one at a time, the fork then competes with
        # nothing on the latency path; pinned, with the block on its only CPU, it fills the gap while the
        # supervisor reads the answer and sends the next block (2 pinned workers: +3 to +10 % blocks/s).
        back_to_back = time.monotonic() - answered < BACK_TO_BACK_S
        answer, following, reap = execute(
            (timeout, replay, cap),
            frame,
            child,
            make_child if back_to_back and not pinned else None,
            heap is not None,
            answer_at_end=not back_to_back,
        )
        write_all(ctl_out, answer)
        answered = time.monotonic()
        faults = reap()  # the block's process is gone before the next one is forked or given a block
        if heap is not None:
            heap.after(child.prefault, faults)
        child = following or make_child()


if __name__ == "__main__":
    main()
