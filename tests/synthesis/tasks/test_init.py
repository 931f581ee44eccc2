import pytest

from synthesis.tasks import FAMILIES, GENERATORS, TasksConfig, generate_task, plan_tasks
from synthesis.tasks.config import CropConfig


def test_one_generator_per_family():
    assert set(GENERATORS) == set(FAMILIES)


def test_generate_task_takes_the_family_section():
    cfg = TasksConfig(crop=CropConfig(long_side_range=(2048, 2048)))
    t = generate_task("crop", 1, cfg)
    assert max(t.width, t.height) == 2048
    assert generate_task("crop", 1, cfg.crop) == t


def test_unknown_family_is_rejected():
    with pytest.raises(ValueError, match="unknown family"):
        generate_task("zoom", 0)


def test_a_small_plan_generates():
    for family, seed in plan_tasks(TasksConfig(count=6, mix={f: 1.0 for f in FAMILIES})):
        t = generate_task(family, seed)
        assert t.family == family and t.seed == seed
