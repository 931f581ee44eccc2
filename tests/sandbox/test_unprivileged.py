"""The non-root path: the supervisor itself runs as uid 65534, so bubblewrap starts through a user namespace.

The test (root only) starts a private mount namespace in which every directory that uid 65534 cannot traverse
on the way to the interpreter, the venv and the checkout (``/root`` at mode 700, where pyenv puts Python) is
replaced by a world-traversable tmpfs holding binds of only the needed entries, then runs
``unprivileged_probes.py`` there with ``setpriv`` as 65534 with a fresh HOME. It is skipped where this machine
cannot do that at all (no ``unshare``/``setpriv``, no unprivileged user namespaces for bubblewrap).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.isolation import runtime_paths

UID = 65534
HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]


def _untraversable(paths: list[str]) -> dict[str, set[str]]:
    """Directories 65534 cannot pass through on the way to ``paths``, each with the entries needed below it."""
    blocked: dict[str, set[str]] = {}
    for path in paths:
        parts = Path(path).parts
        for depth in range(1, len(parts) - 1):
            parent = Path(*parts[: depth + 1])
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                blocked.setdefault(str(parent), set()).add(parts[depth + 1])
    return blocked


def _shell(tmp: Path, command: list[str]) -> str:
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
    drop = [
        "setpriv",
        f"--reuid={UID}",
        f"--regid={UID}",
        "--clear-groups",
        "--inh-caps=-all",
        "env",
        f"HOME={tmp}/home",
    ]
    lines.append(shlex.join(drop + command))
    return "\n".join(lines)


def _run_as_nobody(tmp: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    (tmp / "home").mkdir(exist_ok=True)
    tmp.chmod(0o755)
    for path in (tmp / "home", tmp / "scratch"):
        path.mkdir(exist_ok=True)
        os.chown(path, UID, UID)
    argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _shell(tmp, command)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def nobody_tmp() -> Iterator[Path]:
    if os.geteuid() != 0 or not (
        shutil.which("unshare") and shutil.which("setpriv") and shutil.which("bwrap")
    ):
        pytest.skip("needs root, unshare, setpriv and bwrap")
    tmp = Path(tempfile.mkdtemp(prefix="thyme-nobody-"))  # not under pytest's mode-700 temp root
    try:
        probe = _run_as_nobody(
            tmp, ["bwrap", "--unshare-user", "--unshare-pid", "--ro-bind", "/", "/", "true"]
        )
        if probe.returncode != 0:
            pytest.skip(
                f"uid {UID} cannot start bubblewrap with a user namespace here: {probe.stderr.strip()[:300]}"
            )
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_escape_probes_as_an_unprivileged_supervisor(nobody_tmp: Path, png: bytes) -> None:
    image = nobody_tmp / "in.png"
    image.write_bytes(png)
    image.chmod(0o644)
    script = str(HERE / "unprivileged_probes.py")
    done = _run_as_nobody(nobody_tmp, [sys.executable, "-P", script, str(nobody_tmp / "scratch"), str(image)])
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["uid"] == UID and out["level"] == "full" and out["drop_uid"] is None, out
    probes = out["probes"]
    for name in (
        "read_passwd",
        "write_checkout",
        "write_tmp",
        "socket",
        "fork",
        "setuid_root",
        "kill_parent",
    ):
        assert probes[name]["status"] == "error", (name, probes[name])
    assert probes["read_passwd"]["error_type"] in ("FileNotFoundError", "PermissionError"), probes[
        "read_passwd"
    ]
    for name in ("socket", "fork", "setuid_root", "kill_parent"):
        assert probes[name]["error_type"] == "PermissionError", (name, probes[name])
    assert not (CHECKOUT / "escape-unprivileged").exists() and not Path("/tmp/escape-unprivileged").exists()
    assert probes["personality"]["stdout"].strip() == "-1 1", probes["personality"]
    assert "0" not in probes["uid"]["stdout"].split(), probes["uid"]
    assert probes["cv2_stack"]["status"] == "ok" and probes["cv2_stack"]["stdout"].rstrip().endswith(
        "DONE"
    ), probes
    assert out["alive"] == "still serving\n", out
