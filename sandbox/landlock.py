"""Landlock through raw syscalls: confine a process to read-only runtime dirs and its own scratch.

Landlock needs no privileges and no namespaces, and a process can only ever tighten it, so it is the
per-block wall that also holds where bubblewrap is unavailable. The rights a ruleset handles depend on
the kernel's ABI version, which is probed once and then passed in.
"""

from __future__ import annotations

import ctypes
import os
import stat

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # same on x86_64 and aarch64
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1, 2, 4, 8
TRUNCATE, IOCTL_DEV = 1 << 14, 1 << 15
READ_ONLY = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_NET_TCP = 1 | 2  # bind, connect
_SCOPE_ALL = 1 | 2  # abstract unix sockets, signals

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, or 0 when Landlock is unavailable or disabled."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def fs_rights(abi: int) -> int:
    """Every filesystem right the given ABI knows (so that all of them are handled, i.e. denied by
    default)."""
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if abi >= 2:
        rights |= 1 << 13  # refer
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock {what}: {os.strerror(err)}")
    return result


def build_ruleset(abi: int, rules: list[tuple[int, int]]) -> int:
    """Create a ruleset fd allowing only the given (fd, rights) rules; built once, applied per block.

    All filesystem rights of the ABI are handled (denied unless a rule allows them), plus TCP bind and
    connect (ABI >= 4) and the signal and abstract-socket scopes (ABI >= 6). The rule fds may be O_PATH
    and may be closed once the ruleset exists.

    Args:
        abi (`int`): the kernel's ABI version from `abi_version`.
        rules (`list[tuple[int, int]]`): (directory or file fd, allowed rights) pairs.
    """
    handled = fs_rights(abi)
    attr = _RulesetAttr(handled, _NET_TCP if abi >= 4 else 0, _SCOPE_ALL if abi >= 6 else 0)
    size = ctypes.sizeof(attr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _check(
        _libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0), "create"
    )
    for fd, rights in rules:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS  # directory rights on a file are invalid
        beneath = _PathBeneath(rights & handled, fd)
        _check(
            _libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(beneath), 0), "add_rule"
        )
    return ruleset


def no_new_privs() -> None:
    """Set no-new-privileges on the caller (inherited by every process it forks; it can never be unset), which
    Landlock and unprivileged seccomp require. The worker sets it once, for itself and all its blocks."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def restrict_self(ruleset: int) -> None:
    """Confine the calling thread and its future threads with a ruleset from `build_ruleset`;
    no-new-privileges must already be set (`no_new_privs`), or the kernel refuses (and the caller fails
    closed).

    Args:
        ruleset (`int`): the ruleset fd; the caller closes it afterwards.
    """
    _check(_libc.syscall(_SYS_RESTRICT_SELF, ruleset, 0), "restrict_self")


def set_parent_death_signal(sig: int) -> None:
    """Have the kernel send ``sig`` to the caller when its parent exits (``PR_SET_PDEATHSIG``)."""
    _check(_libc.prctl(1, sig, 0, 0, 0), "pdeathsig")
