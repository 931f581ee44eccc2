"""The per-worker memory ceiling (sandbox/memcap.py): memory RLIMIT_AS does not see still ends a block as
`memory`.

Each probe runs at both isolation levels, under a cgroup (skipped with the reason where none can be created)
and under the watchdog, with the scratch root on tmpfs so that files a block writes are memory, not disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from sandbox_pools import LEVELS as POOL_LEVELS
from sandbox_pools import levels, pool_config

from sandbox import ExecStatus, Sandbox, SandboxConfig
from sandbox.memcap import CGROUP_PREFIX, ceiling_mb, find_cgroup_base, on_tmpfs

CEILING_MB = 600
SHM = "/dev/shm"
LEVELS = levels(POOL_LEVELS)
# 200 files of 16 MB (RLIMIT_FSIZE caps each file, not their sum) in the block's own work folder: ~3.2 GB of
# tmpfs, none of it in the block's address space.
FILL_TMPFS = """
for i in range(200):
    with open(f"fill{i}.bin", "wb") as f:
        for _ in range(4):
            f.write(b"x" * (4 << 20))
print("survived")
"""
SHARED_MAPPING = """
import mmap
m = mmap.mmap(-1, 3 << 30, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
m[::4096] = b"x" * ((3 << 30) // 4096)
print("survived")
"""


def _cgroup_skip() -> str:
    base, reason = find_cgroup_base()
    return "" if base is not None else f"no memory cgroup can be created here: {reason}"


@pytest.fixture(
    scope="module",
    params=[(lvl, mode) for lvl in LEVELS for mode in ("cgroup", "watchdog")],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def sb(request):
    level, mode = request.param
    if not os.path.isdir(SHM) or not on_tmpfs(SHM):
        pytest.skip(f"{SHM} is not a tmpfs here: the tmpfs probes need one")
    if mode == "cgroup" and (why := _cgroup_skip()):
        pytest.skip(why)
    scratch = tempfile.mkdtemp(prefix="thyme-ceiling-", dir=SHM)
    os.chmod(scratch, 0o711)  # the sandbox uid traverses it at the reduced level
    config = pool_config(
        workers=1,
        memory_mb=256,
        worker_memory_mb=CEILING_MB,
        memory_ceiling=mode,
        scratch_dir=scratch,
        timeout_s=5.0,
        **LEVELS[level],
    )
    try:
        with Sandbox(config) as pool:
            assert pool.isolation == level
            yield pool
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_mode_is_reported(sb):
    assert sb.memory_ceiling in ("cgroup1", "cgroup2", "watchdog")
    assert f"memory-{sb.memory_ceiling}-{CEILING_MB}mb" in sb.plan.features
    if sb.config.memory_ceiling == "cgroup":
        assert sb.memory_ceiling.startswith("cgroup")


def test_tmpfs_files_over_the_ceiling_end_as_memory(sb):
    result = sb.run(FILL_TMPFS)
    assert result.status is ExecStatus.MEMORY, (result.status, result.error_message)
    assert "survived" not in result.stdout
    assert f"memory ceiling of {CEILING_MB} MB" in result.error_message
    assert "sandbox.worker_memory_mb" in result.error_message
    assert "MemoryError" in result.feedback
    # The host is unharmed: the files are gone, and the next blocks (light and full zygote) run normally.
    root = sb._root  # noqa: SLF001
    used = sum(os.lstat(os.path.join(d, f)).st_blocks * 512 for d, _, fs in os.walk(root) for f in fs)
    assert used < 16 << 20
    assert sb.run("print(6 * 7)").stdout == "42\n"
    assert sb.run("import numpy as np\nprint(int(np.arange(4).sum()))").stdout == "6\n"


def test_files_under_the_ceiling_are_fine(sb):
    result = sb.run(FILL_TMPFS.replace("range(200)", "range(4)"))
    assert result.status is ExecStatus.OK and result.stdout == "survived\n"


def test_shared_anonymous_mapping_is_counted_by_rlimit_as(sb):
    """Measured: MAP_SHARED|MAP_ANONYMOUS memory counts against RLIMIT_AS (mmap fails with ENOMEM)."""
    result = sb.run(SHARED_MAPPING)
    assert result.status is ExecStatus.ERROR and "survived" not in result.stdout
    assert "Cannot allocate memory" in result.error_message
    assert sb.run("print(1)").ok


def test_cgroups_are_removed_on_close():
    if why := _cgroup_skip():
        pytest.skip(why)
    base, _ = find_cgroup_base()
    assert base is not None
    with Sandbox(pool_config(workers=1, memory_ceiling="cgroup")) as pool:
        paths = [w.cgroup.path for w in pool._slots[0].workers.values() if w is not None and w.cgroup]  # noqa: SLF001
        assert paths and all(os.path.isdir(p) for p in paths)
        assert pool.run("print(1)").ok
    assert not any(os.path.exists(p) for p in paths)
    assert not [e for e in os.listdir(base.path) if e.startswith(f"{CGROUP_PREFIX}{os.getpid()}-")]


def test_config_knobs():
    assert ceiling_mb(0, 1024) == 2 * 1024 + 256
    assert ceiling_mb(700, 1024) == 700
    with pytest.raises(ValueError, match="memory_ceiling"):
        SandboxConfig(memory_ceiling="sometimes")
    with pytest.raises(ValueError, match="worker_memory_mb"):
        SandboxConfig(worker_memory_mb=10)
    assert SandboxConfig().behaviour_hash() != SandboxConfig(worker_memory_mb=900).behaviour_hash()
    assert SandboxConfig().behaviour_hash() == SandboxConfig(memory_ceiling="watchdog").behaviour_hash()
