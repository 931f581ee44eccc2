"""Isolation levels: detection, refusal with a clear message, the loud 'none' level, the reduced level."""

from __future__ import annotations

import logging
import os

import pytest

from sandbox import ExecStatus, Sandbox, SandboxConfig, SandboxUnavailableError
from sandbox.isolation import Capabilities, plan


def test_unavailable_level_refuses_with_what_is_missing_and_how() -> None:
    with pytest.raises(SandboxUnavailableError, match=r"'full' is not available.*apt-get install bubblewrap"):
        Sandbox(SandboxConfig(workers=1, bwrap_path="/nonexistent/bwrap"))


def test_plan_refuses_full_without_landlock_scoping() -> None:
    caps = Capabilities(
        bwrap="/usr/bin/bwrap",
        landlock_abi=3,
        seccomp_bpf=b"x" * 8,
        is_root=True,
        problems=("Landlock ABI 3 < 6: boot Linux >= 6.12",),
    )
    with pytest.raises(SandboxUnavailableError, match="Landlock ABI 3"):
        plan(SandboxConfig(), caps)
    assert plan(SandboxConfig(isolation="reduced"), caps).level == "reduced"


def test_plan_refuses_reduced_without_seccomp() -> None:
    caps = Capabilities(
        bwrap="", landlock_abi=7, seccomp_bpf=b"", is_root=True, problems=("seccomp unavailable",)
    )
    with pytest.raises(SandboxUnavailableError, match="seccomp unavailable"):
        plan(SandboxConfig(isolation="reduced"), caps)


def test_isolation_none_warns_loudly_on_every_start(caplog: pytest.LogCaptureFixture) -> None:
    for _ in range(2):
        with caplog.at_level(logging.WARNING), pytest.warns(RuntimeWarning, match="SANDBOX ISOLATION IS OFF"):
            pool = Sandbox(SandboxConfig(workers=1, isolation="none", timeout_s=1.0))
        with pool:
            assert pool.isolation == "none"
            assert pool.run("print(1 + 1)").stdout == "2\n"
            assert pool.run("while True: pass").status is ExecStatus.TIMEOUT
    assert sum("ISOLATION IS OFF" in rec.message for rec in caplog.records) == 2


def test_reduced_level_without_namespaces_still_confines(png: bytes) -> None:
    config = SandboxConfig(workers=1, isolation="reduced", bwrap_path="/nonexistent/bwrap", timeout_s=2.0)
    with Sandbox(config) as pool:
        assert pool.isolation == "reduced" and "namespaces" not in pool.plan.features
        r = pool.run(
            "from PIL import Image\nImage.open(image_path).save('/mnt/data/temp_processed_images/a.png')\n"
            "print('/mnt/data/temp_processed_images/a.png')",
            images=[png],
        )
        assert r.status is ExecStatus.OK and r.image_names == ["a.png"] and "fix_output_dir" in r.fixes, r
        for code in ("open('/etc/passwd').read()", "import os\nos.fork()", "import socket\nsocket.socket()"):
            assert pool.run(code).status is ExecStatus.ERROR


def test_workers_that_cannot_start_refuse_clearly() -> None:
    with pytest.raises(SandboxUnavailableError, match="workers do not start"):
        Sandbox(SandboxConfig(workers=1, preload=["PIL.Image"], start_timeout_s=0.001))


def test_stale_scratch_of_dead_pools_is_swept(tmp_path) -> None:
    from sandbox.scratch import ROOT_PREFIX, make_root

    dead = tmp_path / f"{ROOT_PREFIX}999999999-abc"  # no such pid
    (dead / "w0").mkdir(parents=True)
    alive = make_root(str(tmp_path))
    assert not dead.exists() and alive.exists() and alive.name.startswith(f"{ROOT_PREFIX}{os.getpid()}-")
    make_root(str(tmp_path))
    assert alive.exists()  # our own pid is alive: kept
