"""The seccomp-bpf policy for untrusted blocks, compiled once in the trusted supervisor.

The policy is an ALLOWLIST: a block's process may make only the syscalls below, and every other one fails
with EPERM (``clone3`` with ENOSYS, so that glibc falls back to ``clone``, whose flags the filter can see).

* `MEASURED_SYSCALLS` are what CPython, Pillow, numpy and OpenCV actually call once the policy is loaded,
  measured with ``tests/sandbox/measure_syscalls.py`` (``strace -ff`` over the image-stack blocks of
  ``tests/sandbox/image_stack.py`` at both isolation levels, keeping only what each block process and its
  threads call after ``PR_SET_SECCOMP``).
* `GENERAL_SYSCALLS` are the variants glibc and CPython pick for the same operations in other calls
  (``fstat`` for ``newfstatat``, ``pread64`` for ``read``, ``mremap`` for a grown ``realloc``, ...), and
  read-only process information. None creates a process, a socket or kernel state that outlives the block;
  files stay under Landlock, sizes under the rlimits.
* `CONDITIONAL_SYSCALLS` are allowed only with the listed argument values: ``clone`` only for a thread
  (``CLONE_THREAD``, no namespace flag), ``ioctl`` only for a few harmless requests (never ``TIOCSTI``),
  ``prctl`` only to name a thread, and scheduling, priority, I/O priority and rlimit changes only of the
  calling process itself (the zygote runs as the same uid, and every later block would inherit what a block
  set on it).

`DENIED_SYSCALLS` documents what the earlier denylist refused and must stay refused (creating processes or
sockets, executing, tracing, namespaces, mounts, keyrings, BPF, io_uring, SysV IPC, POSIX message queues,
filesystem watches, privilege changes, ...); a test checks that none of it is allowed. The compiled BPF bytes
travel to the worker, which loads them into each block's process with one ``prctl`` and so needs no
libseccomp of its own.
"""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MEASURED_SYSCALLS = (
    "access", "alarm", "brk", "chmod", "clock_nanosleep", "close", "exit", "exit_group", "fcntl", "flock",
    "fsync", "futex", "getcwd", "getdents64", "getpid", "getpriority", "getrandom", "getrusage", "gettid",
    "listxattr", "llistxattr", "lseek", "madvise", "mkdir", "mmap", "mprotect", "msync", "munmap",
    "newfstatat", "openat", "pipe2", "pselect6", "read", "readlink", "rename", "rmdir", "rseq",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_getaffinity", "sendfile", "set_robust_list",
    "setitimer", "statfs", "symlink", "sysinfo", "tgkill", "times", "truncate", "uname", "unlink", "unlinkat",
    "utimensat", "write",
)  # fmt: skip
"""Measured (``tests/sandbox/measure_syscalls.py``); ``clone``, ``ioctl`` and ``prlimit64`` were measured too
and are in `CONDITIONAL_SYSCALLS`, ``clone3`` gets ENOSYS."""
GENERAL_SYSCALLS = (
    # the same file operations through other entry points
    "fstat", "lstat", "stat", "statx", "fstatfs", "faccessat", "faccessat2", "readlinkat", "pread64",
    "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2", "ftruncate", "fdatasync",
    "fallocate", "copy_file_range", "dup", "dup2", "dup3", "pipe", "close_range", "chdir", "fchdir", "fchmod",
    "fchmodat", "mkdirat", "renameat", "renameat2", "symlinkat", "getxattr", "lgetxattr", "fgetxattr",
    "flistxattr", "poll", "ppoll", "select",
    # memory, threads, signals and time
    "mremap", "sched_yield", "sigaltstack", "restart_syscall", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "kill", "getitimer", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "nanosleep",
    # read-only facts about the process itself (umask only narrows what it creates)
    "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid", "getpgrp",
    "getpgid", "getsid", "getcpu", "getrlimit", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "umask",
)  # fmt: skip
ALLOWED_SYSCALLS = MEASURED_SYSCALLS + GENERAL_SYSCALLS
CLONE_THREAD = 0x00010000
CLONE_NAMESPACE_FLAGS = (
    0x00020000,
    0x02000000,
    0x04000000,
    0x08000000,
    0x10000000,
    0x20000000,
    0x40000000,
    0x00000080,
)
_CLONE_MASK = CLONE_THREAD | sum(CLONE_NAMESPACE_FLAGS)
# ioctl requests a block may make: TCGETS (isatty), TIOCGWINSZ (terminal size), FIONREAD, FIONBIO, FIONCLEX,
# FIOCLEX
IOCTL_REQUESTS = (0x5401, 0x5413, 0x541B, 0x5421, 0x5450, 0x5451)
PR_SET_NAME, PR_GET_NAME = 15, 16
_ALL = (1 << 64) - 1
CONDITIONAL_SYSCALLS: tuple[tuple[str, tuple[tuple[int, int, int], ...]], ...] = (
    ("clone", ((0, CLONE_THREAD, _CLONE_MASK),)),  # a thread, in no new namespace
    *(("ioctl", ((1, request, 0xFFFFFFFF),)) for request in IOCTL_REQUESTS),  # the kernel reads 32 bits
    *(("prctl", ((0, option, _ALL),)) for option in (PR_SET_NAME, PR_GET_NAME)),
    ("setpriority", ((0, 0, _ALL), (1, 0, _ALL))),  # PRIO_PROCESS, pid 0: itself
    ("ioprio_set", ((0, 1, _ALL), (1, 0, _ALL))),  # IOPRIO_WHO_PROCESS, pid 0
    ("sched_setaffinity", ((0, 0, _ALL),)),
    ("sched_setscheduler", ((0, 0, _ALL),)),
    ("sched_setparam", ((0, 0, _ALL),)),
    ("sched_setattr", ((0, 0, _ALL),)),
    ("prlimit64", ((0, 0, _ALL),)),  # resource.setrlimit; rlimits can only be lowered
)
"""(syscall, ((argument index, value, mask), ...)): allowed when ``arg & mask == value`` for every
condition."""
DENIED_SYSCALLS = (
    "socket", "socketpair", "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv",
    "process_vm_writev", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "bpf",
    "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "keyctl",
    "add_key", "request_key", "setsid", "setpgid", "personality", "kcmp", "pidfd_getfd", "pidfd_open",
    "process_madvise", "open_by_handle_at", "name_to_handle_at", "fanotify_init", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "syslog", "acct",
    "quotactl", "swapon", "swapoff", "reboot", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "iopl", "ioperm", "setuid", "setgid", "setreuid", "setregid",
    "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "capset", "sethostname",
    "setdomainname", "settimeofday", "clock_settime", "adjtimex", "clock_adjtime", "vhangup",
    "lookup_dcookie", "migrate_pages", "move_pages", "mbind", "set_mempolicy", "memfd_secret",
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "seccomp",
    # kernel objects that outlive the process: SysV IPC, POSIX message queues, filesystem watches
    "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
    "msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
    "mq_getsetattr", "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch",
    "fanotify_mark",
)  # fmt: skip
"""Refused by the earlier denylist and still refused (not in any allowed list: checked by the tests)."""


ZYGOTE_SYSCALLS = ("wait4", "pidfd_open", "landlock_restrict_self")
"""What a worker (zygote) needs beyond a block's policy, besides ``clone`` for a process and two ``prctl``
options (`ZYGOTE_PRCTL`): reaping and watching its children, and a child's own Landlock domain."""
PR_SET_PDEATHSIG, PR_SET_SECCOMP = 1, 22
ZYGOTE_PRCTL = (PR_SET_PDEATHSIG, PR_SET_SECCOMP)
"""``prctl`` options a worker's child uses before its own layer is loaded (its parent-death signal, the
load)."""


def _export(policy: Any) -> bytes:
    with tempfile.TemporaryFile() as handle:
        policy.export_bpf(handle)
        handle.seek(0)
        return handle.read()


def _allowlist(zygote: bool) -> bytes:
    import pyseccomp as sc

    policy = sc.SyscallFilter(sc.ERRNO(errno.EPERM))
    for name in ALLOWED_SYSCALLS + (ZYGOTE_SYSCALLS if zygote else ()):
        try:
            policy.add_rule(sc.ALLOW, name)
        except (OSError, ValueError, RuntimeError):
            continue  # not a syscall on this architecture
    conditional = list(CONDITIONAL_SYSCALLS)
    if zygote:  # clone for a process too (still in no new namespace); prctl for the zygote's two options
        conditional = [(n, c) for n, c in conditional if n != "clone"]
        conditional.append(("clone", ((0, 0, _CLONE_MASK & ~CLONE_THREAD),)))
        conditional += [("prctl", ((0, option, _ALL),)) for option in ZYGOTE_PRCTL]
    for name, conditions in conditional:
        args = [sc.Arg(index, sc.MASKED_EQ, mask, value) for index, value, mask in conditions]
        try:
            policy.add_rule(sc.ALLOW, name, *args)
        except (OSError, ValueError, RuntimeError):
            continue
    policy.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone, whose flags we see
    return _export(policy)


def compile_policy() -> bytes:
    """Build a block's policy with libseccomp and return it as raw BPF for ``PR_SET_SECCOMP``.

    Raises:
        ImportError: when pyseccomp or libseccomp is missing (``pip install pyseccomp``,
            ``apt-get install libseccomp2``).
    """
    return _allowlist(zygote=False)


def compile_layers() -> tuple[bytes, bytes]:
    """The same policy as two stacked filters: (the worker's layer, each block's layer).

    The kernel runs every filter a process holds and applies the most restrictive answer, so a block whose
    worker loaded the first layer, and which loads the second itself, gets exactly `compile_policy`'s answers:

    * the worker's layer is the block's allowlist plus what only the worker needs (`ZYGOTE_SYSCALLS`,
      ``clone`` for a process, the `ZYGOTE_PRCTL` options); the worker loads it once, after its setup, and
      holds it;
    * the block's layer allows everything except exactly those extras (``clone`` without ``CLONE_THREAD``,
      ``prctl`` but to get or set a thread's name) and gives ``clone3`` ENOSYS, as the allowlist does.

    Loading a filter costs the kernel time in proportion to its length (measured here: 180 us for the
    184-instruction allowlist, 40-50 us for a 10-20 instruction one), and a block's process loads its filter
    on every block; the long layer is loaded once per worker instead.
    """
    import pyseccomp as sc

    block = sc.SyscallFilter(sc.ALLOW)
    for name in ZYGOTE_SYSCALLS:
        block.add_rule(sc.ERRNO(errno.EPERM), name)
    block.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    block.add_rule(sc.ERRNO(errno.EPERM), "prctl", sc.Arg(0, sc.LT, PR_SET_NAME))
    block.add_rule(sc.ERRNO(errno.EPERM), "prctl", sc.Arg(0, sc.GT, PR_GET_NAME))
    block.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    return _allowlist(zygote=True), _export(block)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


class LoadablePolicy:
    """Compiled BPF prepared for a one-syscall install in each block's process (built once per worker).

    Args:
        bpf (`bytes`): output of `compile_policy`.
    """

    def __init__(self, bpf: bytes) -> None:
        self._bpf = bpf  # keeps the buffer the program points at alive
        self._prog = _Fprog(len(bpf) // 8, bpf)
        self._prctl = ctypes.CDLL(None, use_errno=True).prctl

    def __bool__(self) -> bool:
        return bool(self._bpf)

    @property
    def bpf(self) -> bytes:
        """The program, as `compile_policy` made it (`sandbox._spawn.prefork` loads it itself)."""
        return self._bpf

    def load(self) -> None:
        """Install the policy on the calling thread; no-new-privs must already be set."""
        if self._prctl(22, 2, ctypes.byref(self._prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp: {os.strerror(err)}")
