"""Planned tasks enter the pipeline in an order that deals every worker the same family mix."""

from collections import Counter

import pytest

from pipelines.config import RunnerConfig
from pipelines.runner import local_workers
from pipelines.sft import PlanTasks
from synthesis.tasks import TasksConfig, plan_tasks


def _dealt(items: list, workers: int) -> list[Counter]:
    """What each worker gets when a runner splits a stage's input round-robin by position (the local ones
    do)."""
    return [Counter(item["family"] for item in items[k::workers]) for k in range(workers)]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_items_are_the_plan_in_a_seeded_order(workers):
    cfg = TasksConfig(count=300, base_seed=100_000)
    items = PlanTasks.items(cfg, workers)
    assert sorted((i["family"], i["seed"]) for i in items) == sorted(plan_tasks(cfg))
    assert all(i["id"] == f"{i['family']}-{i['seed']:06d}" for i in items)
    assert items == PlanTasks.items(cfg, workers)
    assert items != PlanTasks.items(TasksConfig(count=300, base_seed=100_001), workers)


@pytest.mark.parametrize("count", [7, 300, 421])
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_round_robin_split_deals_every_family_evenly(workers, count):
    cfg = TasksConfig(count=count, base_seed=200_000)
    dealt = _dealt(PlanTasks.items(cfg, workers), workers)
    for family in {f for f, _ in plan_tasks(cfg)}:
        got = [c[family] for c in dealt]
        assert max(got) - min(got) <= 1, (family, got)
    sizes = [sum(c.values()) for c in dealt]
    assert max(sizes) - min(sizes) <= 1


def test_plan_order_itself_was_skewed_and_shares_stay_mixed():
    cfg = TasksConfig(count=420, base_seed=200_000)
    plan_order = [{"family": f} for f, _ in plan_tasks(cfg)]
    dealt = _dealt(plan_order, 2)
    assert max(max(c[f] for c in dealt) / min(c[f] for c in dealt) for f in dealt[0]) >= 1.9
    # Within a worker's share the families are mixed over time, not one block after another.
    share = [i["family"] for i in PlanTasks.items(cfg, 2)[0::2]]
    assert len(set(share[:40])) == len(set(share))


def test_local_workers_follow_the_runner():
    assert local_workers(RunnerConfig(kind="multi_process", workers=3)) == 3
    assert local_workers(RunnerConfig(kind="in_process")) == 1
