import functools

import pytest
from tasks_measure import gray, region, robust_range

from synthesis.tasks.config import ContrastConfig
from synthesis.tasks.contrast import apply_fix, generate
from synthesis.tasks.drawing.encode import decode_image

_task = functools.lru_cache(maxsize=None)(generate)  # read-only checks share one generation per seed

SEEDS = range(12)
SLOW_SEEDS = range(12, 62)


def test_same_seed_same_task_and_bytes():
    a, b = generate(3), generate(3)
    assert a == b and a.image == b.image


def test_different_seeds_differ():
    assert len({generate(s).image for s in range(5)}) == 5


def test_fix_inverts_the_degradation():
    for seed in SEEDS:
        p = _task(seed).params
        assert p["fix"]["enhancer"] == p["degradation"]["enhancer"]
        assert p["fix"]["factor"] == pytest.approx(1 / p["degradation"]["factor"], abs=0.05)


def _contrast_before_after(seed):
    t = _task(seed)
    img = decode_image(t.image)
    before = robust_range(region(gray(img), t.target))
    after = robust_range(region(gray(apply_fix(img, t.params["fix"])), t.target))
    return before, after


@pytest.mark.parametrize("seed", SEEDS)
def test_text_is_faint_before_and_clear_after_the_suggested_fix(seed):
    before, after = _contrast_before_after(seed)
    assert before < 0.2 * 255 and after > 0.5 * 255 and after > 3 * before, (before, after)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_text_is_faint_before_and_clear_after_many_seeds(seed):
    before, after = _contrast_before_after(seed)
    assert before < 0.2 * 255 and after > 0.5 * 255 and after > 3 * before, (before, after)


@pytest.mark.parametrize("kind", ["low_contrast", "dark"])
def test_each_kind_can_be_forced(kind):
    t = generate(0, ContrastConfig(kinds=[kind]))
    assert t.params["degradation"]["kind"] == kind
    x1, y1, x2, y2 = t.target
    assert 0 <= x1 < x2 <= t.width and 0 <= y1 < y2 <= t.height
    assert t.answer == t.params["content"]
