import functools

import pytest
from tasks_measure import target_sizes

from synthesis.tasks.config import CropConfig
from synthesis.tasks.crop import generate
from synthesis.tasks.drawing.geometry import area_fraction, intersects, position_phrase

_task = functools.lru_cache(maxsize=None)(generate)  # read-only checks share one generation per seed

SEEDS = range(12)
SLOW_SEEDS = range(12, 62)


def test_same_seed_same_task_and_bytes():
    a, b = generate(7), generate(7)
    assert a == b and a.image == b.image


def test_different_seeds_differ():
    assert len({generate(s).image for s in range(4)}) == 4


def test_image_size_follows_config():
    cfg = CropConfig(long_side_range=(2600, 2600), image_format="png")
    t = generate(1, cfg)
    assert max(t.width, t.height) == 2600 and t.image[:4] == b"\x89PNG"


@pytest.mark.parametrize("seed", SEEDS)
def test_target_is_small_inside_and_named_by_its_true_position(seed):
    t = _task(seed)
    x1, y1, x2, y2 = t.target
    assert 0 <= x1 < x2 <= t.width and 0 <= y1 < y2 <= t.height
    assert t.difficulty == area_fraction(t.target, t.width, t.height) <= CropConfig().max_target_fraction
    assert position_phrase(t.target, t.width, t.height) in t.question
    assert t.params["color"] in t.question
    for box in t.params["distractor_boxes"]:
        assert not intersects(tuple(box), t.target)
    cx1, cy1, cx2, cy2 = t.params["crop_box"]
    assert cx1 <= x1 and cy1 <= y1 and cx2 >= x2 and cy2 >= y2


@pytest.mark.parametrize("seed", range(30))
def test_answer_matches_params(seed):
    t = _task(seed)
    if t.answer_type == "choice":
        assert t.choices["ABCD".index(t.answer)] == t.params["content"]
        assert len(set(t.choices)) == 4
    else:
        assert t.answer == t.params["content"] and t.answer
        assert t.params["target_kind"] in ("text", "digits", "sign")


def _check_readability(t):
    """Unreadable at the model's 448-px view, readable in a teacher's crop (target + margin, 2x zoom)."""
    (h448, w448), (hcrop, wcrop) = target_sizes(t)
    if t.params["target_kind"] == "object":
        assert max(h448, w448) <= 4, "object shape is resolvable at 448 px"
        assert min(hcrop, wcrop) >= 24, "object too small in the crop"
    else:
        assert h448 <= 3, f"text is {h448} px tall at 448 px"
        assert hcrop >= 20, f"text only {hcrop} px tall in the crop"
    assert max(hcrop, wcrop) >= 5 * max(h448, w448, 1)


@pytest.mark.parametrize("seed", SEEDS)
def test_target_unreadable_at_448_readable_in_crop(seed):
    _check_readability(generate(seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_target_unreadable_at_448_readable_in_crop_many_seeds(seed):
    _check_readability(generate(seed))


@pytest.mark.parametrize("kind", ["text", "digits", "object", "sign"])
def test_each_target_kind_can_be_forced(kind):
    t = generate(3, CropConfig(target_kinds=[kind]))
    assert t.params["target_kind"] == kind
    _check_readability(t)
