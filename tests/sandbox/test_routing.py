"""Light-zygote routing and CPU pinning: the choice of zygote changes speed, never what a block produces."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sandbox_pools import pool_config

from sandbox import Sandbox
from sandbox.affinity import CpuClaim
from sandbox.routing import needs_preload

LIGHT_BLOCKS = [
    "print(1 + 1)",
    "import math\nprint(f'{math.sqrt(2):.4f}')",
    "import random\nprint(random.random(), random.randint(0, 10**9))",
    "from fractions import Fraction\nprint(Fraction(3, 4) + Fraction(1, 6))",
    "x = [3, 1, 2]\nprint(sorted(x), set(x), image_path, temp_output_dir)",
    "def f(:\n    pass",
    "raise ValueError('bad value')",
    "print(undefined_name)",
    "import os\nprint(os.getcwd() == os.environ['HOME'], sorted(os.listdir('/mnt/data/input')))",
    "import time\nprint(time.time() > 0)",
]
FULL_BLOCKS = [
    "from PIL import Image\nprint(Image.open(image_path).size)",
    "img = Image.open(image_path)",
    "print(np.zeros(3))",
    "import cv2",
    "import numpy.linalg",
    "import ctypes",
    "import sys\nprint(len(sys.modules))",
    "print(os.sys.modules)",
    "print(().__class__.__base__.__subclasses__())",
    "print(dir())",
    "print(globals().keys())",
    "__import__('numpy')",
    "eval('np')",
    "exec('import cv2')",
    "import importlib\nimportlib.import_module('numpy')",
    "from . import sibling",
]


@pytest.mark.parametrize("code", LIGHT_BLOCKS)
def test_blocks_without_preloaded_modules_go_light(code: str) -> None:
    assert not needs_preload([code])


@pytest.mark.parametrize("code", FULL_BLOCKS)
def test_anything_that_may_reach_a_preloaded_module_goes_full(code: str) -> None:
    assert needs_preload([code])


def test_a_session_is_routed_on_all_its_cells() -> None:
    assert needs_preload(["import numpy as np\narr = np.ones(2)", "print(1)"])
    assert not needs_preload(["x = 2", "print(x * 3)"])


@pytest.mark.parametrize("code", LIGHT_BLOCKS)
def test_light_and_full_zygotes_give_identical_results(
    routed: Sandbox, full_only: Sandbox, png: bytes, code: str
) -> None:
    fields = ("status", "stdout", "stderr", "error_type", "error_message", "feedback", "images", "fixes")
    light, full = (pool.run(code, images=[png], image_name="in.png", seed=7) for pool in (routed, full_only))
    assert [getattr(light, f) for f in fields] == [getattr(full, f) for f in fields]


def test_session_state_crosses_from_light_to_full_cells(routed: Sandbox, png: bytes) -> None:
    with routed.session(images=[png], image_name="in.png") as s:
        assert s.run("side = 3\nprint(side * 2)").stdout == "6\n"  # light
        r = s.run(
            "from PIL import Image\nprint(Image.open(image_path).size[0] + side)"
        )  # full, replays cell 1
        assert r.stdout == "323\n", r


def _zygote_affinity(bwrap_pid: int) -> set[int]:
    init = int(Path(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children").read_text().split()[0])
    zygote = int(Path(f"/proc/{init}/task/{init}/children").read_text().split()[0])
    return os.sched_getaffinity(zygote)


def test_each_slot_pins_its_zygotes_to_a_cpu_of_its_own(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    with Sandbox(pool_config(workers=1, scratch_dir=str(tmp_path))) as first:
        pinned = [_zygote_affinity(pid) for pid in first.worker_pids()]
        assert pinned == [{cpus[0]}, {cpus[0]}]  # the full and the light zygote of the one slot
        assert first.run("print(1)").ok
        with Sandbox(
            pool_config(workers=1, scratch_dir=str(tmp_path))
        ) as second:  # another pool on the machine
            expected = {cpus[1]} if len(cpus) > 1 else set(cpus)
            assert [_zygote_affinity(pid) for pid in second.worker_pids()] == [expected, expected]
    with Sandbox(pool_config(workers=1, pin_cpus=False, scratch_dir=str(tmp_path))) as unpinned:
        assert all(_zygote_affinity(pid) == set(cpus) for pid in unpinned.worker_pids())


def test_a_cpu_claim_is_exclusive_and_released(tmp_path: Path) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    claims = [CpuClaim(str(tmp_path)) for _ in cpus]
    assert sorted(c.cpu for c in claims) == cpus
    assert CpuClaim(str(tmp_path)).cpu is None  # all taken: left unpinned
    claims[0].release()
    again = CpuClaim(str(tmp_path))
    assert again.cpu == cpus[0]
    for claim in (again, *claims):
        claim.release()


@pytest.fixture(scope="module")
def routed():
    with Sandbox(pool_config(workers=1)) as pool:
        yield pool


@pytest.fixture(scope="module")
def full_only():
    with Sandbox(pool_config(workers=1, light_zygote=False, pin_cpus=False)) as pool:
        yield pool
