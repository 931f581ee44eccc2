"""Detect what isolation this machine offers, pick the level, and build the worker's launch command.

Levels:

* ``full``: the worker runs inside bubblewrap (new mount, pid, net, ipc, uts and cgroup namespaces; an
  empty root with read-only binds of only the runtime; a private /tmp; no network devices at all), drops
  to an unprivileged uid, and every block additionally gets rlimits, Landlock (ABI >= 6: filesystem,
  TCP, signal and abstract-socket scoping) and seccomp.
* ``reduced``: whatever of the above the kernel offers, with at least seccomp and one of bubblewrap or
  Landlock.
* ``none``: a fork server with rlimits only. Only when configured explicitly; warns on every start.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sandbox import landlock
from sandbox.config import SandboxConfig
from sandbox.layout import (
    CURRENT,
    INPUT_DIR,
    ROOT_LINKS,
    SCRATCH_MOUNT,
    SYSTEM_PATHS,
    VIRTUAL_OUTPUT_DIR,
    WORKER_PATH_ENV,
)
from sandbox.seccomp_policy import compile_layers, compile_policy

MIN_FULL_LANDLOCK_ABI = 6
# Every namespace but the user one, which only an unprivileged caller needs (as root it would map the
# sandbox's root to the host's and leave no unprivileged uid to drop to).
_UNSHARE = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
_WORKER_ENV = {
    "PATH": WORKER_PATH_ENV,
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",  # identical input, identical output (set iteration order included)
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class SandboxUnavailableError(RuntimeError):
    """The configured isolation level cannot be had on this machine."""


@dataclass(frozen=True)
class Capabilities:
    """What the machine offers, probed once at start.

    Args:
        bwrap (`str`): resolved bubblewrap path when it can start a sandbox here, else "".
        landlock_abi (`int`): the kernel's Landlock ABI version (0 = none).
        seccomp_bpf (`bytes`): the compiled policy, or b"" when seccomp is unavailable.
        is_root (`bool`): whether the supervisor runs as root (workers then drop to the sandbox uid).
        problems (`tuple[str, ...]`): why each missing feature is missing, and how to get it.
        seccomp_layers (`tuple[bytes, bytes]`): the same policy as (the worker's layer, each block's layer)
            (`sandbox.seccomp_policy.compile_layers`), or empty when seccomp is unavailable.
    """

    bwrap: str
    landlock_abi: int
    seccomp_bpf: bytes
    is_root: bool
    problems: tuple[str, ...] = ()
    seccomp_layers: tuple[bytes, bytes] = (b"", b"")


@dataclass(frozen=True)
class LaunchPlan:
    """How workers are started and confined, derived from the config and the capabilities."""

    level: str
    bwrap: str = ""
    landlock_abi: int = 0
    seccomp_bpf: bytes = b""
    drop_uid: int | None = None
    seccomp_layers: tuple[bytes, bytes] = (b"", b"")
    features: tuple[str, ...] = field(default_factory=tuple)


def _probe_bwrap(path: str, is_root: bool) -> str:
    """Return a problem description, or "" when bubblewrap starts a namespaced sandbox."""
    argv = [path, *_UNSHARE, "--die-with-parent", *_system_binds(), "true"]
    if not is_root:
        argv.insert(1, "--unshare-user")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except OSError as exc:
        return f"bubblewrap at {path!r} cannot run ({exc}); install it: apt-get install bubblewrap"
    if done.returncode != 0:
        hint = (
            ""
            if is_root
            else " (enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1)"
        )
        return f"bubblewrap cannot create namespaces: {done.stderr.decode(errors='replace').strip()}{hint}"
    return ""


def detect(config: SandboxConfig) -> Capabilities:
    """Probe bubblewrap, Landlock and seccomp on this machine (a few ms; once per pool start).

    Args:
        config (`SandboxConfig`): supplies the bubblewrap path to try.
    """
    problems = []
    is_root = os.geteuid() == 0
    bwrap = shutil.which(config.bwrap_path) or ""
    if not bwrap:
        problems.append(f"bubblewrap not found as {config.bwrap_path!r}: apt-get install bubblewrap")
    elif problem := _probe_bwrap(bwrap, is_root):
        problems.append(problem)
        bwrap = ""
    abi = landlock.abi_version()
    if abi < MIN_FULL_LANDLOCK_ABI:
        problems.append(
            f"Landlock ABI {abi} < {MIN_FULL_LANDLOCK_ABI}: boot Linux >= 6.12 with "
            "CONFIG_SECURITY_LANDLOCK=y and 'landlock' in the lsm= boot parameter"
        )
    try:
        bpf, layers = compile_policy(), compile_layers()
    except (ImportError, OSError) as exc:
        problems.append(f"seccomp unavailable ({exc}): pip install pyseccomp; apt-get install libseccomp2")
        bpf, layers = b"", (b"", b"")
    return Capabilities(
        bwrap=bwrap,
        landlock_abi=abi,
        seccomp_bpf=bpf,
        is_root=is_root,
        problems=tuple(problems),
        seccomp_layers=layers,
    )


def plan(config: SandboxConfig, caps: Capabilities) -> LaunchPlan:
    """Pick the launch plan for the configured level, or refuse with what is missing and how to get it.

    Args:
        config (`SandboxConfig`): the configured level and sandbox uid.
        caps (`Capabilities`): what `detect` found.

    Raises:
        SandboxUnavailableError: the level cannot be had; the message lists each missing feature with
            the command or setting that provides it.
    """
    drop = config.sandbox_uid if caps.is_root else None
    spawn = _native_spawn(config)
    if config.isolation == "none":
        return LaunchPlan(level="none", features=("rlimits", *spawn))
    full_ok = bool(caps.bwrap) and caps.landlock_abi >= MIN_FULL_LANDLOCK_ABI and bool(caps.seccomp_bpf)
    reduced_ok = bool(caps.seccomp_bpf) and (bool(caps.bwrap) or caps.landlock_abi > 0)
    if (config.isolation == "full" and not full_ok) or not reduced_ok:
        missing = "; ".join(caps.problems)
        raise SandboxUnavailableError(
            f"sandbox isolation {config.isolation!r} is not available here: {missing}. "
            "Fix the above, or set sandbox.isolation to 'reduced' (or, knowingly, 'none')."
        )
    features = ["rlimits", "seccomp", *spawn]
    if caps.bwrap:
        features.append("namespaces")
    if caps.landlock_abi:
        features.append(f"landlock-abi{caps.landlock_abi}")
    if drop is not None:
        features.append(f"uid-{drop}")
    return LaunchPlan(
        level="full" if full_ok else "reduced",
        bwrap=caps.bwrap,
        landlock_abi=caps.landlock_abi,
        seccomp_bpf=caps.seccomp_bpf,
        drop_uid=drop,
        seccomp_layers=caps.seccomp_layers,
        features=tuple(features),
    )


def _native_spawn(config: SandboxConfig) -> tuple[str, ...]:
    """``("native-spawn",)`` where the blocks' processes are forked and confined in C, () where in Python;
    refuses ``native_spawn`` where the extension is not built."""
    if not config.native_spawn:
        return ()
    try:
        importlib.import_module("sandbox._spawn")
    except ImportError as exc:
        raise SandboxUnavailableError(
            f"sandbox.native_spawn is on, but its C extension sandbox._spawn does not load here ({exc}). "
            "Build it with `make setup` (needs gcc and the Python headers), or set sandbox.native_spawn: "
            "false to fork and confine each block in Python (slower)."
        ) from exc
    return ("native-spawn",)


def package_root() -> Path:
    """The directory that contains the ``sandbox`` package (put on the worker's PYTHONPATH)."""
    return Path(__file__).resolve().parent.parent


def runtime_paths() -> list[str]:
    """Host paths the worker must read: the system libraries, the interpreter, the venv, this package."""
    paths = [*SYSTEM_PATHS, sys.base_prefix, sys.prefix, str(package_root() / "sandbox")]
    return list(dict.fromkeys(os.path.realpath(p) for p in paths if os.path.exists(p)))


def _root_links() -> list[str]:
    """Recreate the host's merged-/usr symlinks (/lib -> usr/lib, ...) inside the sandbox."""
    argv = []
    for link in ROOT_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
    return argv


def _system_binds() -> list[str]:
    """The smallest root in which a dynamically linked system binary runs (used to probe bwrap)."""
    return [
        "--ro-bind",
        SYSTEM_PATHS[0],
        SYSTEM_PATHS[0],
        *_root_links(),
        "--setenv",
        "PATH",
        WORKER_PATH_ENV,
    ]


def _parents(paths: list[str]) -> list[str]:
    """Every ancestor directory of the given paths, shallowest first, without duplicates."""
    found: dict[str, None] = {}
    for path in paths:
        parts = Path(path).parts[1:-1]
        for depth in range(1, len(parts) + 1):
            found["/" + "/".join(parts[:depth])] = None
    return sorted(found, key=lambda p: p.count("/"))


def _bwrap_binds(host_scratch: str) -> list[str]:
    """Bind only the runtime (read-only) and the worker's scratch root into an empty root."""
    # The private /tmp comes first: a checkout or venv that lives under /tmp is bound on top of it, not
    # hidden.
    argv = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    paths = runtime_paths()
    for parent in _parents([*paths, VIRTUAL_OUTPUT_DIR.rstrip("/")]):
        argv += ["--perms", "0755", "--dir", parent]  # bwrap would create them 0700 as root
    for path in paths:
        argv += ["--ro-bind", path, path]
    argv += _root_links()
    argv += ["--bind", host_scratch, SCRATCH_MOUNT]
    argv += ["--symlink", f"{SCRATCH_MOUNT}/{CURRENT}/out", VIRTUAL_OUTPUT_DIR.rstrip("/")]
    argv += ["--symlink", f"{SCRATCH_MOUNT}/{CURRENT}/in", INPUT_DIR.rstrip("/")]
    return argv


def worker_command(launch: LaunchPlan, host_scratch: str) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start one worker (inside bubblewrap when the plan has it).

    Args:
        launch (`LaunchPlan`): the chosen plan.
        host_scratch (`str`): the worker's private scratch root on the host (bound at ``SCRATCH_MOUNT``).
    """
    env = dict(_WORKER_ENV, PYTHONPATH=str(package_root()))
    python = [sys.executable, "-P", "-m", "sandbox.worker"]  # -P: no cwd on sys.path
    if not launch.bwrap:
        return python, env
    # --as-pid-1: the zygote is the pid namespace's init, so bubblewrap waits for (reaps) it directly, and
    # its death ends everything inside; with bubblewrap's own init in between, that init outlived the
    # sandbox as a zombie of the host's init.
    argv = [launch.bwrap, *_UNSHARE, "--as-pid-1", "--die-with-parent", "--new-session", "--clearenv"]
    if launch.drop_uid is None:
        argv.insert(1, "--unshare-user")
    else:
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += _bwrap_binds(host_scratch) + ["--chdir", SCRATCH_MOUNT, "--"] + python
    return argv, env
