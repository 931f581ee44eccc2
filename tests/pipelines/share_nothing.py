"""A Beam job service and external worker pools that share nothing with the launcher but the network.

Each worker pool runs in its own private mount namespace (``unshare -m``, private propagation) with an empty
tmpfs over ``/tmp`` and over every folder in ``hidden`` (the launcher's output folder's parent): a worker
sees the code and the interpreter, as a cluster image would, but none of the launcher's files, and the
launcher none of the worker's. Needs root (or CAP_SYS_ADMIN) and ``unshare`` (util-linux); :func:`available`
says whether this machine has them. A checkout that itself lives under ``/tmp`` (a CI clone) stays visible:
it is moved over the fresh tmpfs, as a cluster image carries its code.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def available() -> bool:
    """Whether a private mount namespace with a tmpfs can be made here."""
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def _wait_for(port: int, proc: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start (exit {proc.poll()})") from None
            time.sleep(0.2)


CHECKOUT = Path(__file__).resolve().parents[2]


def _mounts(hidden: list[Path], stash: Path) -> str:
    """Shell commands, run inside the new namespace: empty tmpfs over ``hidden`` and ``/tmp``, with the
    checkout (code and venv) moved back over them where it lies below one of them."""
    covered = [*hidden, Path("/tmp")]
    keep = CHECKOUT if any(CHECKOUT.is_relative_to(p) for p in covered) else None
    steps = [f"mount --bind {shlex.quote(str(keep))} {shlex.quote(str(stash))}"] if keep else []
    steps += [f"mount -t tmpfs tmpfs {shlex.quote(str(p))}" for p in covered]
    if keep:
        steps += [
            f"mkdir -p {shlex.quote(str(keep))}",
            f"mount --move {shlex.quote(str(stash))} {shlex.quote(str(keep))}",
        ]
    return " && ".join(steps)


@contextmanager
def share_nothing_runner(
    hidden: list[Path], pools: int = 1, env: dict[str, str] | None = None
) -> Iterator[list[str]]:
    """Start a job service here and ``pools`` isolated worker pools; yields the ``runner.*`` overrides.

    Args:
        hidden (`list[Path]`): folders each pool sees as empty (besides ``/tmp``), e.g. the output's parent.
        pools (`int`, *optional*): worker pools, each in its own namespace (the runner uses the first).
        env (`dict`, *optional*): extra variables for the pools (e.g. the object store's endpoint).
    """
    base = {
        **os.environ,
        **(env or {}),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    job = free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apache_beam.runners.portability.local_job_service_main",
                "--port",
                str(job),
            ],
            env=base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    ports = []
    stashes: list[Path] = []
    try:
        _wait_for(job, procs[0], "job service")
        for _ in range(pools):
            port = free_port()
            stash = Path(tempfile.mkdtemp(prefix="share-nothing-", dir="/var/tmp"))  # outside /tmp
            stashes.append(stash)
            mounts = _mounts(hidden, stash)
            module = "apache_beam.runners.worker.worker_pool_main"
            pool = f"{shlex.quote(sys.executable)} -m {module} --service_port={port}"
            procs.append(
                subprocess.Popen(
                    [
                        "unshare",
                        "-m",
                        "--propagation",
                        "private",
                        "sh",
                        "-c",
                        f"{mounts} && cd / && exec {pool}",
                    ],
                    env={**base, "TMPDIR": "/tmp"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            _wait_for(port, procs[-1], "worker pool")
            ports.append(port)
        yield [
            "runner.kind=portable",
            f"runner.job_endpoint=localhost:{job}",
            "runner.environment_type=EXTERNAL",
            f"runner.environment_config=localhost:{ports[0]}",
        ]
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, 9) if proc is not procs[0] else proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        for stash in stashes:
            stash.rmdir()
