from collections import Counter

import pytest

from synthesis.tasks.config import TasksConfig
from synthesis.tasks.plan import plan_tasks


def test_plan_is_deterministic_and_seeds_are_unique():
    cfg = TasksConfig(count=500, base_seed=1000)
    plan = plan_tasks(cfg)
    assert plan == plan_tasks(cfg)
    assert [s for _, s in plan] == list(range(1000, 1500))


def test_raising_count_only_appends():
    short, long = plan_tasks(TasksConfig(count=137)), plan_tasks(TasksConfig(count=1000))
    assert long[:137] == short


@pytest.mark.parametrize("count", [10, 99, 1000])
def test_every_prefix_matches_the_mix_within_one(count):
    cfg = TasksConfig(count=count)
    total = sum(cfg.mix.values())
    counts = Counter(f for f, _ in plan_tasks(cfg))
    for family, weight in cfg.mix.items():
        assert abs(counts[family] - count * weight / total) <= 1


def test_zero_weight_families_are_never_planned():
    plan = plan_tasks(TasksConfig(count=50, mix={"crop": 1.0, "rotate": 0.0, "no_code": 3.0}))
    counts = Counter(f for f, _ in plan)
    assert set(counts) == {"crop", "no_code"} and counts["no_code"] in (37, 38)
