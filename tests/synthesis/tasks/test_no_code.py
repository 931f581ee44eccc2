import functools

import pytest

from synthesis.tasks.config import NoCodeConfig
from synthesis.tasks.no_code import generate

_task = functools.lru_cache(maxsize=None)(generate)  # read-only checks share one generation per seed

SEEDS = range(40)


def test_same_seed_same_task_and_bytes():
    a, b = generate(9), generate(9)
    assert a == b and a.image == b.image


def test_different_seeds_differ():
    assert len({generate(s).image for s in range(5)}) == 5


@pytest.mark.parametrize("seed", SEEDS)
def test_answer_is_consistent_with_params(seed):
    t = _task(seed)
    p = t.params
    assert t.target is None and max(t.width, t.height) <= NoCodeConfig().side_range[1]
    if p["kind"] == "word":
        assert t.answer == p["content"]
    elif p["kind"] == "count":
        assert t.answer == str(len(p["shapes"]))
    elif p["kind"] == "color":
        assert t.choices["ABCD".index(t.answer)] == p["content"]
        assert p["content"] in {c for _, c in p["shapes"]}
    else:
        present = p["content"].split(" ") in [[c, s] for s, c in p["shapes"]]
        assert t.answer == ("yes" if present else "no")


def test_all_kinds_occur():
    assert {_task(s).params["kind"] for s in range(40)} == {"color", "count", "word", "yes_no"}
