import functools

import pytest

from synthesis.tasks.compute import evaluate, generate, literal
from synthesis.tasks.config import ComputeConfig
from synthesis.tasks.questions import format_number

_task = functools.lru_cache(maxsize=None)(generate)  # read-only checks share one generation per seed

SEEDS = range(40)


def test_same_seed_same_task_and_bytes():
    a, b = generate(5), generate(5)
    assert a == b and a.image == b.image


def test_different_seeds_differ():
    assert len({generate(s).image for s in range(5)}) == 5


@pytest.mark.parametrize("seed", SEEDS)
def test_answer_is_the_normalised_value_of_the_expression(seed):
    t = _task(seed)
    p = t.params
    assert t.answer == format_number(evaluate(p["expression"])) == format_number(p["value"])
    assert t.answer_type == "number"
    x1, y1, x2, y2 = t.target
    assert 0 <= x1 < x2 <= t.width and 0 <= y1 < y2 <= t.height


@pytest.mark.parametrize("seed", SEEDS)
def test_expression_uses_the_values_shown(seed):
    p = _task(seed).params
    values = p["values"]
    assert set(p["used"]) <= set(values)
    if p["kind"] != "figure":
        expected = {"sum": sum(values[k] for k in p["used"]), "average": sum(values.values()) / len(values)}
        if p["operation"] in expected:
            assert p["value"] == pytest.approx(expected[p["operation"]])
        elif p["operation"] == "difference":
            a, b = (values[k] for k in p["used"])
            assert p["value"] == a - b >= 0
        else:
            a, b = (values[k] for k in p["used"])
            assert p["value"] == pytest.approx(a / b)


@pytest.mark.parametrize("seed", SEEDS)
def test_formula_names_the_values_and_gives_the_expression(seed):
    p = _task(seed).params
    used = [p["values"][k] for k in p["used"]]
    if p["kind"] == "figure":
        assert p["variables"] == dict(zip(p["used"], used, strict=True))
    else:  # a table's formula is the same for every task of its operation: no label to copy
        assert p["variables"] == {"values": used}
        assert p["formula"] in (
            "sum(values)",
            "sum(values) / len(values)",
            "values[0] - values[1]",
            "values[0] / values[1]",
        )
    assert literal(p["formula"], p["variables"]) == p["expression"]
    assert all(name in p["formula"] for name in p["variables"])
    assert not any(str(v) in p["formula"] for v in used if v > 2), p[
        "formula"
    ]  # numbers only on the naming line


@pytest.mark.parametrize("kind", ["table", "bar_chart", "figure"])
def test_each_kind_can_be_forced(kind):
    assert generate(1, ComputeConfig(kinds=[kind])).params["kind"] == kind


def test_figure_area_of_a_rectangle_is_width_times_height():
    cfg = ComputeConfig(kinds=["figure"], operations=["area"])
    for seed in range(20):
        p = generate(seed, cfg).params
        if "width" in p["values"] and "rectangle" in generate(seed, cfg).question:
            assert p["value"] == p["values"]["width"] * p["values"]["height"]


@pytest.mark.parametrize(("value", "text"), [(3.0, "3"), (2 / 3, "0.67"), (1.5, "1.5"), (1e6, "1000000")])
def test_format_number(value, text):
    assert format_number(value) == text
