"""The seccomp-bpf policy for untrusted blocks, compiled once in the trusted supervisor.

The policy is a denylist of everything a Python image-processing block has no business doing: creating
processes or sockets, executing binaries, tracing, namespaces, mounts, kernel keyrings, BPF, io_uring
and friends. It also denies every way to leave kernel state behind that outlives the block's process
(a worker serves many trajectories, and at the reduced level there is no IPC namespace at all): SysV
shared memory, semaphores and message queues, POSIX message queues, inotify and fanotify watches, and
changing the scheduling, priority, I/O priority or rlimits of any process but itself (the zygote runs as
the same uid, and every later block would inherit what a block set on it). Threads stay allowed (``clone`` with ``CLONE_THREAD`` and no namespace flags) because numpy,
OpenCV and Pillow may use them. The compiled BPF bytes travel to the worker, which loads them into each
block's process with one ``prctl`` and so needs no libseccomp of its own.
"""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile

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
    "ipc", "shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget", "msgsnd",
    "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
)  # fmt: skip
SELF_ONLY_SYSCALLS = (
    ("setpriority", 1), ("sched_setaffinity", 0), ("sched_setscheduler", 0), ("sched_setparam", 0),
    ("sched_setattr", 0), ("ioprio_set", 1), ("prlimit64", 0),
)  # fmt: skip
"""(syscall, index of its pid argument): allowed only on the calling process itself (pid 0)."""
WHICH_PROCESS = (("setpriority", 0), ("ioprio_set", 1))
"""(syscall, PRIO_PROCESS / IOPRIO_WHO_PROCESS): a process group or a whole uid would reach the zygote."""
CLONE_THREAD = 0x00010000
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080)


def compile_policy() -> bytes:
    """Build the policy with libseccomp and return it as raw BPF for ``PR_SET_SECCOMP``.

    Raises:
        ImportError: when pyseccomp or libseccomp is missing (``pip install pyseccomp``,
            ``apt-get install libseccomp2``).
    """
    import pyseccomp as sc

    policy = sc.SyscallFilter(sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        try:
            policy.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):
            continue  # not a syscall on this architecture
    policy.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # glibc then falls back to clone, whose flags we see
    policy.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    for flag in CLONE_NAMESPACE_FLAGS:
        policy.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    for name, arg in SELF_ONLY_SYSCALLS:
        try:
            policy.add_rule(deny, name, sc.Arg(arg, sc.NE, 0))
        except (OSError, ValueError, RuntimeError):
            continue
    for name, which in WHICH_PROCESS:
        policy.add_rule(deny, name, sc.Arg(0, sc.NE, which))
    policy.add_rule(deny, "ioctl", sc.Arg(1, sc.EQ, 0x5412))  # TIOCSTI: no typing into a terminal
    with tempfile.TemporaryFile() as handle:
        policy.export_bpf(handle)
        handle.seek(0)
        return handle.read()


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

    def load(self) -> None:
        """Install the policy on the calling thread; no-new-privs must already be set."""
        if self._prctl(22, 2, ctypes.byref(self._prog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp: {os.strerror(err)}")
