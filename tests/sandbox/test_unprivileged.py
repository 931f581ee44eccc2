"""The containment suite again, with the supervisor running as uid 65534, at both isolation levels.

The test (root only) starts a private mount namespace in which every directory that uid 65534 cannot traverse
on the way to the interpreter, the venv and the checkout (``/root`` at mode 700, where pyenv puts Python) is
replaced by a world-traversable tmpfs holding binds of only the needed entries, then runs pytest there with
``setpriv`` as 65534 with a fresh HOME, on the containment modules (`INNER`: every probe of
``test_escape.py``, the seccomp probes and the image stack of ``test_seccomp.py``, the memory ceiling of
``test_memory_ceiling.py``). The inner run sets ``THYME_SANDBOX_UNPRIVILEGED_LEVEL``, so those modules run
their pools at that level only (``sandbox_pools.levels``) and check that the supervisor is unprivileged:

* full: bubblewrap starts through a user namespace (there is no uid to drop to);
* reduced: no namespaces and no uid to drop to, so each block runs as the supervisor's own uid and only
  Landlock, seccomp and the rlimits stand between them: the weakest configuration the sandbox accepts.

Each level is skipped, with the reason, only where this machine cannot do it: not root, or no ``unshare`` or
``setpriv`` (the test cannot become 65534 in a private mount namespace); at full, when uid 65534 cannot start
bubblewrap with a user namespace; at reduced, when the kernel offers no Landlock or no seccomp.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_pools import LEVELS, UNPRIVILEGED_ENV, pool_config

from sandbox.isolation import detect, runtime_paths

UID = 65534
HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
INNER = [
    "tests/sandbox/test_escape.py",
    "tests/sandbox/test_seccomp.py",
    "tests/sandbox/test_memory_ceiling.py",
]
# Skips the inner run may report, each for a reason that holds for any unprivileged supervisor.
EXPECTED_SKIPS = (
    "no memory cgroup can be created here",  # cgroup mode of the memory ceiling: the watchdog runs instead
    "needs strace",  # re-measuring the seccomp allowlist traces as root
)
INNER_TIMEOUT_S = 420


def _untraversable(paths: list[str]) -> dict[str, set[str]]:
    """Directories 65534 cannot pass through on the way to ``paths``, each with the entries needed below
    it."""
    blocked: dict[str, set[str]] = {}
    for path in paths:
        parts = Path(path).parts
        for depth in range(1, len(parts) - 1):
            parent = Path(*parts[: depth + 1])
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                blocked.setdefault(str(parent), set()).add(parts[depth + 1])
    return blocked


def _shell(tmp: Path, command: list[str], env: dict[str, str]) -> str:
    """The root-side script: re-expose the blocked directories, then drop to 65534 and run ``command``."""
    lines = ["set -e"]
    needed = [*runtime_paths(), sys.executable, str(CHECKOUT)]
    for i, (blocked, entries) in enumerate(sorted(_untraversable(needed).items())):
        stash = tmp / f"stash{i}"
        lines += [
            f"mkdir -p {stash}",
            f"mount --bind {shlex.quote(blocked)} {stash}",
            f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(blocked)}",
        ]
        for entry in sorted(entries):
            target = shlex.quote(f"{blocked}/{entry}")
            make = "mkdir" if (Path(blocked) / entry).is_dir() else "touch"
            lines += [f"{make} {target}", f"mount --bind {shlex.quote(str(stash / entry))} {target}"]
    drop = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", "--inh-caps=-all", "env"]
    settings = {"HOME": f"{tmp}/home", **env}
    lines.append(shlex.join(drop + [f"{key}={value}" for key, value in settings.items()] + command))
    return "\n".join(lines)


def _run_as_nobody(
    tmp: Path, command: list[str], env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    (tmp / "home").mkdir(exist_ok=True)
    tmp.chmod(0o755)
    for path in (tmp / "home", tmp / "scratch"):
        path.mkdir(exist_ok=True)
        os.chown(path, UID, UID)
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _shell(tmp, command, env or {})]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=str(CHECKOUT)
    )


@pytest.fixture(scope="module")
def nobody_tmp() -> Iterator[Path]:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip(
            "needs root, unshare and setpriv: the test becomes uid 65534 in a private mount namespace "
            "(apt-get install util-linux)"
        )
    tmp = Path(tempfile.mkdtemp(prefix="thyme-nobody-"))  # not under pytest's mode-700 temp root
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _level_problem(tmp: Path, level: str) -> str:
    """Why this machine cannot run ``level`` with an unprivileged supervisor; "" when it can."""
    if level == "full":
        if not shutil.which("bwrap"):
            return "bubblewrap is not installed (apt-get install bubblewrap)"
        probe = _run_as_nobody(
            tmp, ["bwrap", "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "true"]
        )
        if probe.returncode != 0:
            return (
                f"uid {UID} cannot start bubblewrap with a user namespace here: {probe.stderr.strip()[:300]}"
            )
        return ""
    caps = detect(pool_config(**LEVELS[level]))
    if not caps.landlock_abi or not caps.seccomp_bpf:
        return f"the reduced level needs Landlock and seccomp: {'; '.join(caps.problems)}"
    return ""


def _outcomes(junit: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(test id -> "passed", "failed" or "skipped", test id -> the skip reason) from a JUnit XML report."""
    outcomes: dict[str, str] = {}
    reasons: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[name] = "failed"
        elif (skipped := case.find("skipped")) is not None:
            outcomes[name] = "skipped"
            reasons[name] = skipped.get("message", "")
        else:
            outcomes[name] = "passed"
    return outcomes, reasons


@pytest.mark.parametrize("level", list(LEVELS))
def test_containment_suite_as_an_unprivileged_supervisor(nobody_tmp: Path, level: str) -> None:
    if problem := _level_problem(nobody_tmp, level):
        pytest.skip(problem)
    junit = nobody_tmp / "home" / f"junit-{level}.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *INNER]
    env = {UNPRIVILEGED_ENV: level, "PYTHONDONTWRITEBYTECODE": "1"}
    done = _run_as_nobody(nobody_tmp, command, env, timeout=INNER_TIMEOUT_S)
    report = (done.stdout + done.stderr)[-6000:]
    assert done.returncode == 0 and junit.exists(), report
    outcomes, reasons = _outcomes(junit)
    assert "failed" not in outcomes.values(), report
    unexpected = {name: why for name, why in reasons.items() if not any(ok in why for ok in EXPECTED_SKIPS)}
    assert not unexpected, unexpected
    # Every probe of the escape suite ran, at this level, and was contained.
    from test_escape import PROBES, STATE_PROBES

    escape = [name for name, outcome in outcomes.items() if "test_escape" in name and outcome == "passed"]
    assert len(escape) >= len(PROBES) + len(STATE_PROBES), (len(escape), report)
    assert all(f"[{level}-routed-" in name for name in escape if "probe_is_contained" in name), escape
