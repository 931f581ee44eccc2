"""``scripts/worker_check.py``: what a cluster worker needs, and the sandbox level it would run at. A worker
without bubblewrap refuses loudly under ``full``, runs at ``reduced`` only when that is configured, and is
never silently at ``none``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_BWRAP = "sandbox.bwrap_path=/nonexistent/bwrap"


def check(*args: str) -> tuple[int, str, dict]:
    done = subprocess.run(
        [sys.executable, "scripts/worker_check.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    return done.returncode, done.stdout, json.loads(lines[-1])


def test_this_machine_passes_at_the_configured_level():
    rc, out, summary = check()
    assert rc == 0, out
    assert summary["ok"] and summary["package"]["ok"] and summary["fonts"]["ok"]
    assert summary["sandbox"]["level"] == "full" and summary["sandbox"]["configured"] == "full"
    assert "worker_check: sandbox: ok: runs at 'full'" in out


def test_no_bubblewrap_under_full_refuses_loudly():
    rc, out, summary = check(NO_BWRAP)
    assert rc == 1 and not summary["ok"]
    assert summary["sandbox"]["level"] is None
    assert "worker_check: sandbox: FAILED: REFUSED" in out and "apt-get install bubblewrap" in out


def test_no_bubblewrap_under_reduced_runs_reduced_and_says_why():
    rc, out, summary = check(NO_BWRAP, "sandbox.isolation=reduced")
    sandbox = summary["sandbox"]
    if sandbox["level"] is None:  # a kernel without Landlock: reduced needs bubblewrap or Landlock
        assert rc == 1 and "REFUSED" in out
        pytest.skip("no Landlock on this kernel: reduced refused without bubblewrap (also correct)")
    assert rc == 0 and sandbox["level"] == "reduced" and "namespaces" not in sandbox["features"]
    assert "missing: bubblewrap not found" in out


def test_none_only_when_configured_and_flagged():
    rc, out, summary = check("sandbox.isolation=none")
    assert rc == 0 and summary["sandbox"]["level"] == "none"
    assert "worker_check: sandbox: ok: WARNING: runs at 'none'" in out  # unasked: never (tests above)


def test_bad_store_location_fails_the_check():
    rc, out, summary = check("--store", "s3:/bucket/x")
    assert rc == 1 and not summary["store"]["ok"] and "write s3://bucket/key" in out
