"""Measure the syscalls a block's process makes once its seccomp policy is loaded (source of the allowlist).

Run as root on a machine with strace (``apt-get install -y strace``)::

    .venv/bin/python tests/sandbox/measure_syscalls.py

It runs the blocks of ``image_stack.py`` (plus a failing block, light-zygote blocks and a two-block
session) at the full and reduced levels under ``strace -ff``, keeps, for every block process, only the
syscalls after its ``prctl(PR_SET_SECCOMP)`` (and every syscall of the threads it started afterwards),
and prints each syscall name with its call count and whether the policy lists it (exit status 1 when one
is not listed, or nothing was measured).
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

_CALL = re.compile(r"^(?:\d+ )?([a-z_][a-z0-9_]*)\(")
_RESULT = re.compile(r"\)\s+= (-?\d+)(?: /\* (\d+) in strace's PID NS \*/)?")


def workload() -> None:
    """The traced program: the image stack at both levels, then a few light-zygote blocks and a session."""
    from conftest import make_png
    from image_stack import BLOCKS, RAISE_BLOCK
    from sandbox_pools import pool_config

    from sandbox import Sandbox

    png = make_png()
    for level in ({}, {"isolation": "reduced", "bwrap_path": "/nonexistent/bwrap"}):
        with Sandbox(pool_config(workers=1, timeout_s=60.0, **level)) as sb:
            for name, code in BLOCKS.items():
                result = sb.run(code, images=[png], image_name="in.png")
                missing = (
                    sb.isolation == "reduced" and result.error_type == "ModuleNotFoundError"
                )  # see IMPORT_BLOCK
                assert missing or result.stdout.rstrip().endswith("DONE"), (sb.isolation, name, result)
            failed = sb.run(RAISE_BLOCK, images=[png], image_name="in.png")
            assert failed.error_type == "ValueError", failed
            for code in ("print(sum(range(10)))", "x = [i * i for i in range(1000)]\nprint(len(x))", "1 / 0"):
                sb.run(code)
            with sb.session(images=[png], image_name="in.png") as session:
                assert session.run("from PIL import Image\nim = Image.open(image_path)").ok
                assert session.run("print(im.size)").ok


def _forks(lines: list[str]) -> bool:
    """Whether these calls started a process (a successful ``clone`` without ``CLONE_THREAD``): a worker's."""
    return any(
        line.startswith("clone(")
        and "CLONE_THREAD" not in line
        and (r := _RESULT.search(line))
        and int(r[1]) > 0
        for line in lines
    )


def _syscalls(trace_dir: Path) -> collections.Counter[str]:
    """Syscalls of confined processes: after the seccomp load in each block process, all of its later threads.

    A worker loads its own seccomp layer too (``sandbox.seccomp_policy.compile_layers``) and then forks the
    blocks' processes, which no block can: a process that forks after its load is a worker and is left out."""
    files = {int(p.suffix[1:]): p.read_text(errors="replace").splitlines() for p in trace_dir.glob("trace.*")}
    counts: collections.Counter[str] = collections.Counter()
    confined_threads: set[int] = set()
    for lines in files.values():
        start = next(
            (i for i, line in enumerate(lines) if "PR_SET_SECCOMP" in line and line.rstrip().endswith("= 0")),
            None,
        )
        if start is None or _forks(lines[start + 1 :]):
            continue
        for line in lines[start + 1 :]:
            match = _CALL.match(line)
            if not match:
                continue
            counts[match.group(1)] += 1
            if match.group(1) == "clone" and "CLONE_THREAD" in line and (result := _RESULT.search(line)):
                confined_threads.add(int(result.group(2) or result.group(1)))  # the tid as strace sees it
    for tid in confined_threads:
        for line in files.get(tid, []):
            if match := _CALL.match(line):
                counts[match.group(1)] += 1
    return counts


def main() -> None:
    if "--workload" in sys.argv:
        workload()
        return
    from sandbox.seccomp_policy import ALLOWED_SYSCALLS, CONDITIONAL_SYSCALLS

    strace = shutil.which("strace") or sys.exit("strace is missing: apt-get install -y strace")
    with tempfile.TemporaryDirectory() as tmp:
        argv = [
            strace,
            "-ff",
            "-qq",
            "--decode-pids=pidns",
            "-o",
            f"{tmp}/trace",
            sys.executable,
            __file__,
            "--workload",
        ]
        subprocess.run(argv, check=True)
        counts = _syscalls(Path(tmp))
    listed = (
        set(ALLOWED_SYSCALLS) | {name for name, *_ in CONDITIONAL_SYSCALLS} | {"clone3"}
    )  # clone3: ENOSYS
    for name, count in sorted(counts.items()):
        print(f"{name:24} {count:8d}  {'listed' if name in listed else 'NOT LISTED'}")
    print(f"{len(counts)} distinct syscalls measured; {len(listed)} listed in the policy")
    if not counts or set(counts) - listed:
        sys.exit(1)


if __name__ == "__main__":
    main()
