import functools

import pytest
from tasks_measure import target_sizes

from synthesis.tasks.config import MultiRoundConfig
from synthesis.tasks.drawing.geometry import intersects
from synthesis.tasks.multi_round import generate

_task = functools.lru_cache(maxsize=None)(generate)  # read-only checks share one generation per seed

SEEDS = range(12)


def test_same_seed_same_task_and_bytes():
    a, b = generate(2), generate(2)
    assert a == b and a.image == b.image


def test_different_seeds_differ():
    assert len({generate(s).image for s in range(4)}) == 4


def _contains(outer, inner):
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _area(b):
    return (b[2] - b[0]) * (b[3] - b[1])


@pytest.mark.parametrize("seed", SEEDS)
def test_first_box_is_too_wide_or_wrong_and_true_box_holds_target(seed):
    t = _task(seed)
    first, true = tuple(t.params["first_box"]), tuple(t.params["true_box"])
    assert _contains(true, t.target)
    assert 0 <= first[0] < first[2] <= t.width and 0 <= first[1] < first[3] <= t.height
    if t.params["mode"] == "zoom_in":
        assert _contains(first, true) and _area(first) >= 2 * _area(true)
    else:
        assert not intersects(first, t.target)
        assert any(_contains(first, tuple(d)) for d in t.params["distractor_boxes"])


def test_both_modes_occur_and_can_be_forced():
    assert {_task(s).params["mode"] for s in range(12)} == {"zoom_in", "wrong"}
    assert {generate(s, MultiRoundConfig(modes=["zoom_in"])).params["mode"] for s in range(4)} == {"zoom_in"}


@pytest.mark.parametrize("seed", SEEDS)
def test_target_unreadable_at_448_readable_in_crop(seed):
    t = _task(seed)
    (h448, w448), (hcrop, wcrop) = target_sizes(t)
    limit = 4 if t.params["target_kind"] == "object" else 3
    assert (max(h448, w448) if limit == 4 else h448) <= limit
    assert min(hcrop, wcrop) >= 20
