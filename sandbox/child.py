"""What happens in the forked process of one block: confine it, run the cells, report.

Order matters: descriptors and limits first, then Landlock and seccomp, and only then any untrusted
code. By default those steps run in C between the fork and the first line of Python (`sandbox/_spawn.c`);
`confine_in_python` is the same steps after `os.fork` (``sandbox.native_spawn: false``). The result goes back
as a small JSON object on fd 3; everything the code prints goes to the stdout/stderr pipes the worker reads.

What is the same for every block of a worker is done once, in the worker, and inherited: the working
directory, ``TMPDIR`` and ``HOME`` (`settle`), no-new-privileges and the worker's seccomp layer, the
namespace's pre-set modules (`namespace_template`). A block's process then does only what is its own, because
each page it writes costs a copy-on-write fault (README, *Per-block cost*). This module and the worker avoid
``dataclasses`` and ``typing`` at run time for the same reason: every module the worker holds is memory each
fork maps and each exit unmaps.
"""

from __future__ import annotations

import builtins
import fcntl
import io
import json
import linecache
import math
import os
import resource
import signal
import struct
import sys
import tempfile
import traceback

from sandbox import landlock, prewarm
from sandbox.protocol import MAX_REPORT, OK_REPORT, REPORT_END, read_block_request
from sandbox.seccomp_policy import LoadablePolicy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

RESULT_FD = 3
SETUP_FAILED = 71  # a block's process's exit status when its set-up failed (sandbox/_spawn.c uses the same)
# A child's page faults before its block, sent first on the report pipe where the worker learns its heap.
FAULTS = struct.Struct("<Q")
# Sent before the request when the worker will answer at the report's end (blocks one at a time, where the
# answer's latency counts): the child then lowers its priority (`EXIT_NICE`) before its report, so that its
# exit's teardown gives the CPU it shares with its worker to the worker at once.
ANSWER_AT_END, ANSWER_AT_EXIT = b"\1", b"\0"
EXIT_NICE = 10
_OUT_OF_MEMORY_REPORT = b'{"kind": "memory", "error_type": "MemoryError", "error_message": ""}'
_OK = {"kind": "ok"}
PRESEED = 0  # the worker seeds numpy with this before forking
REQUEST_FD = 4
MAX_REQUEST = 64 << 20
MAX_PATH_REPORT = 4096
MAX_MESSAGE = 8192
_PRESET_MODULES = (
    ("os", "os"), ("random", "random"), ("string", "string"), ("math", "math"), ("json", "json"),
    ("re", "re"), ("numpy", "numpy"), ("np", "numpy"), ("cv2", "cv2"),
)  # fmt: skip
# File names of the cells in tracebacks, warnings and SyntaxError messages: plain names, never a protocol
# tag (a traceback naming "<code>" read as an open code block).
BLOCK_FILE, EARLIER_FILE = "block.py", "earlier_block.py"


class Confinement:
    """How to confine a block's process; prepared once by the worker, fixed for its life.

    Args:
        landlock_ruleset (`int`): fd of the worker's Landlock ruleset (read-only runtime and inputs,
            writable out/ and work/); -1 disables Landlock.
        seccomp (`LoadablePolicy | None`): the block's seccomp filter (the whole policy, or the block's layer
            on top of the worker's, see `sandbox.seccomp_policy.compile_layers`); None disables seccomp.
        rlimits (`tuple[tuple[int, int], ...]`): (resource, limit) pairs; AS and CPU are added per block.
        scratch (`str`): the execution folder as the worker sees it (with in/, out/ and work/).
        orphan_guard (`bool`, *optional*, defaults to `True`): SIGKILL the child when the worker dies;
            redundant inside bubblewrap, whose pid namespace ends with the worker.
        namespace (`dict`, *optional*): the block's namespace without its paths (`namespace_template`).
        prefault (`int`, *optional*, defaults to `0`): the most heap a child faults in before its block
            arrives (``sandbox.prefault_mb``; how much is `sandbox.prewarm.HeapEstimate`'s call); 0 for none.
        warm_png (`bytes`, *optional*): the PNG of `sandbox.prewarm.image_round_trip`, run before the block
            arrives (where prefaulting is on, only by the children that prefault: the worker's blocks want
            pixels); empty for none.
    """

    __slots__ = (
        "landlock_ruleset", "namespace", "orphan_guard", "prefault", "rlimits", "scratch", "seccomp",
        "warm_png",
    )  # fmt: skip

    def __init__(
        self,
        landlock_ruleset: int,
        seccomp: LoadablePolicy | None,
        rlimits: tuple[tuple[int, int], ...],
        scratch: str,
        orphan_guard: bool = True,
        namespace: dict[str, Any] | None = None,
        prefault: int = 0,
        warm_png: bytes = b"",
    ) -> None:
        self.landlock_ruleset, self.seccomp, self.rlimits = landlock_ruleset, seccomp, rlimits
        self.scratch, self.orphan_guard, self.prefault = scratch, orphan_guard, prefault
        self.warm_png = warm_png
        self.namespace = namespace if namespace is not None else namespace_template()

    def limits(self, address_space: int) -> tuple[tuple[int, int], ...]:
        """Every (resource, limit) pair a block's process sets, RLIMIT_AS (``address_space``) last."""
        return (*self.rlimits, (resource.RLIMIT_AS, address_space))


class _Discard(io.TextIOBase):
    """A text sink for replayed cells, whose output the model already saw."""

    def write(self, text: str) -> int:
        return len(text)


def _redirect_fds(
    request_fd: int, stdout_fd: int, stderr_fd: int, result_fd: int, keep: tuple[int, ...]
) -> None:
    """Move the pipes to fixed numbers and close every other inherited descriptor (fd 0 is already /dev/null:
    the worker keeps it so, see `sandbox.worker.main`)."""
    # Out of the way first (above every fixed number), then into place; the copies are closed below.
    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in (request_fd, stdout_fd, stderr_fd, result_fd)]
    for fd, target in zip(moved, (REQUEST_FD, 1, 2, RESULT_FD), strict=True):
        os.dup2(fd, target)
    low = REQUEST_FD + 1
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 16)


def install_stdio() -> None:
    """Point sys.stdin/stdout/stderr at fds 0-2 with fixed encodings; done once in the worker, so that
    each child inherits ready wrappers and only swaps what the fds refer to."""
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="replace")
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")


def _die_with_parent() -> None:
    """Make sure a block never outlives its worker, even where no pid namespace would take it down."""
    landlock.set_parent_death_signal(int(signal.SIGKILL))
    if os.getppid() == 1:
        os._exit(72)


def settle(scratch: str) -> None:
    """Make the execution folder's ``work/`` the working directory, ``TMPDIR`` and ``HOME``: done once in the
    worker (it is the same for every block of it), inherited by each block's process."""
    work = os.path.join(scratch, "work")
    os.chdir(work)
    tempfile.tempdir = work
    os.environ.update(TMPDIR=work, HOME=work)  # the block's own temp and home: its scratch


def _confine(conf: Confinement, address_space: int) -> None:
    """Apply rlimits, the worker's Landlock ruleset and the seccomp filter, in that order (no-new-privileges,
    which both need, is inherited from the worker)."""
    for res, limit in conf.limits(address_space):
        resource.setrlimit(res, (limit, limit))
    if conf.landlock_ruleset >= 0:
        landlock.restrict_self(conf.landlock_ruleset)
        os.close(conf.landlock_ruleset)
    if conf.seccomp:
        conf.seccomp.load()


def namespace_template() -> dict[str, Any]:
    """Thyme's pre-set names but the two paths (one dict for globals and locals, so functions see top-level
    names); built once in the worker, copied by each block."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    for alias, module in _PRESET_MODULES:
        if module in sys.modules or module in ("os", "random", "string", "math", "json", "re"):
            namespace[alias] = __import__(module)
    if "PIL.Image" in sys.modules:
        from PIL import Image, UnidentifiedImageError

        namespace.update(Image=Image, UnidentifiedImageError=UnidentifiedImageError)
    return namespace


def seed_rngs(seed: int, numpy_too: bool = True) -> None:
    """Seed ``random`` (and ``numpy.random`` when loaded) so identical blocks write identical file names."""
    import random

    random.seed(seed)
    if numpy_too and "numpy" in sys.modules:
        import numpy.random

        numpy.random.seed(seed % (1 << 32))


def _describe(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None or code == 0:
            return {"kind": "ok"}
        return {"kind": "exception", "error_type": "SystemExit", "error_message": str(code)[:MAX_MESSAGE]}
    try:
        message = str(exc)[:MAX_MESSAGE]
    except BaseException:  # noqa: B036 - a hostile __str__ must not stop the report
        message = "<unprintable exception>"
    # OpenCV reports a failed allocation as cv2.error ("Insufficient memory", "Failed to allocate").
    out_of_memory = isinstance(exc, MemoryError) or (
        type(exc).__module__ == "cv2"
        and ("Insufficient memory" in message or "Failed to allocate" in message)
    )
    kind = "memory" if out_of_memory else "exception"
    return {"kind": kind, "error_type": type(exc).__name__, "error_message": message}


def _print_traceback(exc: BaseException) -> None:
    """Print the traceback as the model's own program would show it, without the sandbox's frames."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    try:
        traceback.print_exception(type(exc), exc, tb, limit=-8, file=sys.stderr)
    except BaseException:  # noqa: B036, S110 - a hostile exception must not stop the report
        pass


def _compile(source: str, filename: str) -> Any:
    """Compile a cell under ``filename``, with its lines registered so tracebacks show them (and never a
    same-named file from the working directory)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, "exec")


def _run_cells(request: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    if request["prelude"]:
        real_stdout, real_stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = _Discard()
        for cell in request["prelude"]:
            try:
                exec(_compile(cell, EARLIER_FILE), namespace)
            except BaseException:  # noqa: B036, S110 - replayed cells already ran once; state is best-effort
                pass
        sys.stdout, sys.stderr = real_stdout, real_stderr
        os.write(
            RESULT_FD, b" "
        )  # tells the worker the replay is over: the block's own time limit starts now
    before = namespace.get("processed_path")
    try:
        exec(_compile(request["code"], BLOCK_FILE), namespace)
        report: dict[str, Any] = {"kind": "ok"}
    except BaseException as exc:  # noqa: B036 - every outcome becomes a report
        report = _describe(exc)
        if report["kind"] != "ok":
            _print_traceback(exc)
    path = namespace.get("processed_path")
    if path is not before and isinstance(path, str | os.PathLike):
        report["processed_path"] = os.fspath(path)[:MAX_PATH_REPORT]
    return report


def _read_request() -> tuple[dict[str, Any], bool]:
    """The block's request, and whether the worker answers at the report's end (`ANSWER_AT_END`)."""
    at_end = os.read(REQUEST_FD, 1) == ANSWER_AT_END
    request = read_block_request(REQUEST_FD, MAX_REQUEST)
    os.close(REQUEST_FD)
    cpu_s = math.ceil(float(request["timeout_s"]) + float(request["replay_timeout_s"])) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    return request, at_end


def setup_failed(exc: BaseException) -> NoReturn:
    """End a block's process whose set-up failed, before any untrusted code, with one line on its stderr."""
    os.write(2, f"sandbox setup failed: {exc!r}\n".encode())
    os._exit(SETUP_FAILED)


def confine_in_python(
    conf: Confinement, pipes: tuple[int, int, int, int], address_space: int, prefault: int = 0
) -> None:
    """Set up a freshly forked block's process in Python: what `sandbox._spawn.prefork` does in C (the
    ``native_spawn: false`` path, kept step for step the same).

    Args:
        conf (`Confinement`): the worker's confinement settings.
        pipes (`tuple[int, int, int, int]`): read end of the request pipe, then write ends of the
            stdout, stderr and report pipes.
        address_space (`int`): RLIMIT_AS in bytes (worker size plus the memory budget).
        prefault (`int`, *optional*, defaults to `0`): bytes of heap to fault in while no block waits.
    """
    try:
        if conf.orphan_guard:
            _die_with_parent()
        _redirect_fds(*pipes, keep=(conf.landlock_ruleset,))
        prewarm.prefault(prefault)  # while no block waits: the block's pixels then cost no page faults
        _confine(conf, address_space)
    except BaseException as exc:  # noqa: B036 - a setup failure must be reported, never run code unconfined
        setup_failed(exc)


def serve_block(conf: Confinement, prefault: int = 0) -> NoReturn:
    """Entry point in the forked child once it is confined: wait for one block, run it; never returns.

    The worker forks this child ahead of time (with `sandbox._spawn.prefork`, or `os.fork` and
    `confine_in_python`), so fork and confinement are off the latency path; the child then blocks on its
    request pipe. Nothing untrusted runs before confinement is complete.

    Args:
        conf (`Confinement`): the worker's confinement settings.
        prefault (`int`, *optional*, defaults to `0`): the bytes of heap this child faulted in.
    """
    try:
        if conf.warm_png and (prefault or not conf.prefault):  # learnt: only where blocks want pixels
            prewarm.image_round_trip(conf.warm_png)  # confined already: it is trusted, but needs no exception
        if conf.prefault:  # the faults so far, first on the report pipe: what the block faults is the rest
            os.write(RESULT_FD, FAULTS.pack(resource.getrusage(resource.RUSAGE_SELF).ru_minflt))
        request, answer_at_end = _read_request()
        seed = int(request["seed"])
        seed_rngs(seed, numpy_too=seed != PRESEED)  # fork re-seeds ``random`` from urandom, not numpy
        namespace = dict(conf.namespace)
        namespace.update(image_path=request["image_path"], temp_output_dir=request["output_dir"])
    except BaseException as exc:  # noqa: B036 - a setup failure must be reported, never run code unconfined
        setup_failed(exc)
    report = _run_cells(request, namespace)
    namespace.clear()  # free the block's memory first: a block that hit its limit leaves no room to report
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: B036, S110 - a closed or broken stdout must not lose the report
        pass
    try:
        # Cut to leave room for the replay's mark and the end.
        payload = OK_REPORT if report == _OK else json.dumps(report).encode()[: MAX_REPORT - 2]
    except BaseException:  # noqa: B036 - still out of memory (e.g. a leaked reference): say so
        payload = _OUT_OF_MEMORY_REPORT
    if answer_at_end:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, EXIT_NICE)
        except OSError:
            pass
    os.write(RESULT_FD, payload + REPORT_END)
    os._exit(0)
