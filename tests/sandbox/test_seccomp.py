"""The seccomp allowlist: the whole image stack runs under it at both isolation levels, and what it does not
list is refused (EPERM; ``clone3`` ENOSYS)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from image_stack import BLOCKS, RAISE_BLOCK
from sandbox_pools import LEVELS as POOL_LEVELS
from sandbox_pools import levels, pool_config

from sandbox import ExecStatus, Sandbox
from sandbox.seccomp_policy import (
    ALLOWED_SYSCALLS,
    CONDITIONAL_SYSCALLS,
    DENIED_SYSCALLS,
    MEASURED_SYSCALLS,
    ZYGOTE_SYSCALLS,
    compile_layers,
    compile_policy,
)

LEVELS = levels(POOL_LEVELS)
IMAGES = {"pil": 1, "cv2": 1}  # blocks that print an output path


@pytest.fixture(scope="module", params=list(LEVELS), ids=list(LEVELS))
def level_sb(request):
    with Sandbox(pool_config(workers=1, timeout_s=30.0, **LEVELS[request.param])) as pool:
        assert pool.isolation == request.param
        yield pool


def test_policy_lists_are_consistent() -> None:
    allowed = set(ALLOWED_SYSCALLS) | {name for name, _ in CONDITIONAL_SYSCALLS}
    assert len(ALLOWED_SYSCALLS) == len(set(ALLOWED_SYSCALLS))
    assert not allowed & set(DENIED_SYSCALLS), allowed & set(DENIED_SYSCALLS)
    assert "clone3" not in allowed and "clone" not in ALLOWED_SYSCALLS and "ioctl" not in ALLOWED_SYSCALLS
    assert set(MEASURED_SYSCALLS) <= set(ALLOWED_SYSCALLS)
    assert not allowed & set(ZYGOTE_SYSCALLS) and set(WORKER_ONLY) <= {*ZYGOTE_SYSCALLS, "prctl", "clone"}
    worker_layer, block_layer = compile_layers()
    assert compile_policy() and worker_layer and len(block_layer) < len(compile_policy()) // 4


@pytest.mark.parametrize("name", list(BLOCKS))
def test_image_stack_runs_under_the_policy(level_sb: Sandbox, png: bytes, name: str) -> None:
    result = level_sb.run(BLOCKS[name], images=[png], image_name="in.png")
    if name == "imports" and level_sb.isolation == "reduced" and result.error_type == "ModuleNotFoundError":
        pytest.skip("stdlib not readable by the sandbox uid at the reduced level here (see image_stack.py)")
    assert result.status is ExecStatus.OK, result
    assert result.stdout.rstrip().endswith("DONE") and "Error" not in result.stdout, result
    assert len(result.images) == IMAGES.get(name, 0), result
    if name == "stdlib":
        assert "KeyError" in result.stderr and "warning text" in result.stderr, result.stderr


def test_exception_traceback_under_the_policy(level_sb: Sandbox, png: bytes) -> None:
    result = level_sb.run(RAISE_BLOCK, images=[png], image_name="in.png")
    assert result.status is ExecStatus.ERROR and result.error_type == "ValueError", result
    assert 'File "block.py", line 5, in helper' in result.stderr and "reshape" in result.stderr, result.stderr


def test_session_replay_under_the_policy(level_sb: Sandbox, png: bytes) -> None:
    with level_sb.session(images=[png], image_name="in.png") as session:
        assert session.run("import cv2\nim = cv2.imread(image_path)\nsmall = cv2.resize(im, (32, 24))").ok
        assert session.run("print(small.shape, im.shape)").stdout == "(24, 32, 3) (240, 320, 3)\n"


def _syscall_numbers(names: list[str]) -> dict[str, int]:
    import pyseccomp

    return {name: pyseccomp.resolve_syscall(pyseccomp.system_arch(), name) for name in names}


# Syscalls no list names (neither allowed nor in the old denylist), with harmless arguments; each must fail
# EPERM.
UNLISTED = {
    "memfd_create": "b'x', 0",
    "mknodat": "-100, b'fifo', 0o10600, 0",
    "link": "b'a.txt', b'b.txt'",
    "setxattr": "b'a.txt', b'user.x', b'v', 1, 0",
    "chown": "b'a.txt', os.getuid(), os.getgid()",
    "epoll_create1": "0",
    "eventfd2": "0, 0",
    "timerfd_create": "1, 0",
    "signalfd4": "-1, None, 8, 0",
    "openat2": "-100, b'a.txt', None, 0",
    "set_tid_address": "None",
    "mlock": "None, 0",
    "sync": "",
    "sysfs": "3",
    "ustat": "0, None",
    "vmsplice": "-1, None, 0, 0",
    "wait4": "-1, None, 0, None",
}
# From the old denylist, with query-only or invalid arguments.
OLD_DENIED = {
    "personality": "0xffffffff",
    "syslog": "10, None, 0",
    "add_key": "None, None, None, 0, 0",
    "keyctl": "0, -1, 0",
    "userfaultfd": "0",
    "perf_event_open": "None, 0, -1, -1, 0",
    "setsid": "",
    "seccomp": "0, 0, None",
}


# What only the worker's seccomp layer allows (sandbox.seccomp_policy.compile_layers): the block's layer
# refuses it.
WORKER_ONLY = {
    "pidfd_open": "os.getpid(), 0",
    "landlock_restrict_self": "-1, 0",
    "wait4": "-1, None, 1, None",
    "prctl": "1, 9, 0, 0, 0",  # PR_SET_PDEATHSIG
    "clone": "0x11, 0, 0, 0, 0",  # SIGCHLD: a process
}


def _errno_block(calls: dict[str, str]) -> str:
    numbers = _syscall_numbers(list(calls))
    lines = [
        "import ctypes, os",
        "libc = ctypes.CDLL(None, use_errno=True)",
        "libc.syscall.restype = ctypes.c_long",
        "open('a.txt', 'w').close()",
        "out = {}",
    ]
    for name, args in calls.items():
        argv = f"{numbers[name]}, {args}" if args else str(numbers[name])
        lines.append(f"ctypes.set_errno(0)\nout[{name!r}] = (libc.syscall({argv}), ctypes.get_errno())")
    lines.append("print(sorted(out.items()))")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "calls", [UNLISTED, OLD_DENIED, WORKER_ONLY], ids=["unlisted", "old-denylist", "worker-only"]
)
def test_syscalls_off_the_list_are_refused(level_sb: Sandbox, calls: dict[str, str]) -> None:
    result = level_sb.run(_errno_block(calls))
    assert result.status is ExecStatus.OK, result
    assert result.stdout.strip() == str(sorted((name, (-1, 1)) for name in calls)), result.stdout


CONDITIONAL_PROBE = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(*args):
    ctypes.set_errno(0)
    return libc.syscall(*args), ctypes.get_errno()
name = ctypes.create_string_buffer(16)
print("clone_process", call(NR["clone"], 0x11, 0, 0, 0, 0))
print("clone_thread_in_new_userns", call(NR["clone"], 0x10010f00 | 0x00010000, 0, 0, 0, 0))
print("clone3", call(NR["clone3"], None, 0))
print("ioctl_tiocsti", call(NR["ioctl"], 0, 0x5412, ctypes.byref(ctypes.c_char(b"x"))))
print("ioctl_tcgets", call(NR["ioctl"], 0, 0x5401, ctypes.create_string_buffer(64))[1] != 1)
print("prctl_get_name", call(NR["prctl"], 16, name, 0, 0, 0))
print("prctl_set_dumpable", call(NR["prctl"], 4, 1, 0, 0, 0))
print("prctl_set_seccomp", call(NR["prctl"], 22, 2, None, 0, 0))
print("prctl_name_high_bits", call(NR["prctl"], ctypes.c_long((1 << 32) | 15), name, 0, 0, 0))
print("prlimit_parent", call(NR["prlimit64"], os.getppid(), 7, None, None))
print("prlimit_self", call(NR["prlimit64"], 0, 7, None, ctypes.create_string_buffer(16)))
"""
CONDITIONAL_EXPECTED = """clone_process (-1, 1)
clone_thread_in_new_userns (-1, 1)
clone3 (-1, 38)
ioctl_tiocsti (-1, 1)
ioctl_tcgets True
prctl_get_name (0, 0)
prctl_set_dumpable (-1, 1)
prctl_set_seccomp (-1, 1)
prctl_name_high_bits (-1, 1)
prlimit_parent (-1, 1)
prlimit_self (0, 0)
"""


def test_conditional_syscalls_only_with_their_arguments(level_sb: Sandbox) -> None:
    numbers = _syscall_numbers(["clone", "clone3", "ioctl", "prctl", "prlimit64"])
    result = level_sb.run(f"NR = {numbers!r}\n" + CONDITIONAL_PROBE)
    assert result.status is ExecStatus.OK, result
    assert result.stdout == CONDITIONAL_EXPECTED, result.stdout


@pytest.mark.skipif(
    not shutil.which("strace") or os.geteuid() != 0, reason="needs strace (apt-get install strace), root"
)
def test_measured_syscalls_are_all_listed() -> None:
    """Re-measure the image stack's syscalls under strace; each must be on the list (measure_syscalls.py)."""
    script = Path(__file__).with_name("measure_syscalls.py")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "NOT LISTED" not in done.stdout and "distinct syscalls measured" in done.stdout, done.stdout
