"""Computation family: tables, bar charts and labelled figures whose question needs arithmetic.

``params`` carry the values read from the image, the operation, a Python ``formula`` over the ``variables``
(``width`` and ``height`` of a figure, or the list ``values`` of a table's items in the order asked) and the
same ``expression`` with the numbers written in. Its value, normalised by
:func:`~synthesis.tasks.questions.format_number` (integer when integral, else rounded to 2 decimals), is the
answer; a teacher can print it from the sandbox as-is.
"""

from __future__ import annotations

import math
import re

import numpy as np

from synthesis.tasks.assemble import assemble
from synthesis.tasks.config import ComputeConfig
from synthesis.tasks.drawing.charts import render_bar_chart, render_figure, render_table
from synthesis.tasks.drawing.rand import make_rng, pick, randint, sample
from synthesis.tasks.drawing.text import WORDS
from synthesis.tasks.questions import format_number, format_open
from synthesis.tasks.task import Task

__all__ = ["evaluate", "generate", "literal"]

_TABLE_OPS = ("sum", "difference", "average", "ratio")


def evaluate(expression: str) -> float:
    """Value of a params ``expression`` (numbers, lists, + - * / ** parentheses, ``sum``, ``len``, ``math``).

    Example:
        >>> evaluate("(3 + 4) / 2")
        3.5
    """
    return float(eval(expression, {"__builtins__": {}}, {"math": math, "sum": sum, "len": len}))  # noqa: S307 - our own literal expressions


def literal(formula: str, variables: dict[str, int | list[int]]) -> str:
    """``formula`` with each variable name replaced by its value.

    Example:
        >>> literal("2 * (width + height)", {"width": 3, "height": 4})
        '2 * (3 + 4)'
        >>> literal("sum(values) / len(values)", {"values": [3, 5]})
        'sum([3, 5]) / len([3, 5])'
    """
    return re.sub(r"\b[a-z_][a-z_0-9]*\b", lambda m: str(variables.get(m.group(0), m.group(0))), formula)


def generate(seed: int, cfg: ComputeConfig | None = None) -> Task:
    """Make the computation task for ``seed``.

    Args:
        seed (`int`): the task seed; the same seed and config give an identical task.
        cfg (`ComputeConfig`, *optional*): settings; defaults to ``ComputeConfig()``.

    Example:
        >>> t = generate(2)
        >>> format_number(evaluate(t.params["expression"])) == t.answer
        True
    """
    cfg = cfg or ComputeConfig()
    rng = make_rng(seed, "compute")
    kind = pick(rng, cfg.kinds)
    long = randint(rng, *cfg.long_side_range)
    if kind == "figure":
        op = pick(rng, [o for o in cfg.operations if o in ("area", "perimeter")])
        rendered = render_figure(rng, long, op, cfg.value_range)
    else:
        op = pick(rng, [o for o in cfg.operations if o in _TABLE_OPS])
        labels, values = _items(rng, cfg)
        render = render_table if kind == "table" else render_bar_chart
        rendered = render(rng, long, labels, values)
        rendered.question, rendered.formula, rendered.used = _table_question(
            rng, op, labels, values, rendered.noun
        )
    variables: dict[str, int | list[int]] = (
        {k: rendered.values[k] for k in rendered.used}
        if kind == "figure"
        else {"values": [rendered.values[k] for k in rendered.used]}
    )
    expression = literal(rendered.formula, variables)
    value = evaluate(expression)
    params = {
        "kind": kind,
        "operation": op,
        "values": rendered.values,
        "used": rendered.used,
        "variables": variables,
        "formula": rendered.formula,
        "expression": expression,
        "value": value,
        "normalisation": "integer if integral, else rounded to 2 decimals (trailing zeros dropped)",
    }
    return assemble(
        "compute",
        seed,
        cfg,
        rendered.image,
        format_open(rendered.question),
        format_number(value),
        "number",
        params,
        (),
        rendered.box,
        float(len(rendered.used)),
    )


def _items(rng: np.random.Generator, cfg: ComputeConfig) -> tuple[list[str], list[int]]:
    n = randint(rng, *cfg.items_range)
    labels = [w.title() for w in sample(rng, WORDS, n)]
    return labels, [randint(rng, *cfg.value_range) for _ in range(n)]


def _table_question(
    rng, op: str, labels: list[str], values: list[int], noun: str
) -> tuple[str, str, list[str]]:
    """Question, formula over ``values`` (the used items' numbers, in order) and the labels it uses."""
    if op in ("sum", "average"):
        used = sample(rng, labels, randint(rng, 2, len(labels))) if op == "sum" else list(labels)
        used = [lb for lb in labels if lb in used]
        if op == "sum":
            return f"What is the total {noun} of {', '.join(used[:-1])} and {used[-1]}?", "sum(values)", used
        return (
            f"What is the average {noun} over all items? Round to 2 decimal places if needed.",
            "sum(values) / len(values)",
            used,
        )
    a, b = sample(rng, labels, 2)
    if op == "difference":
        a, b = (a, b) if values[labels.index(a)] >= values[labels.index(b)] else (b, a)
        return f"How much larger is the {noun} of {a} than that of {b}?", "values[0] - values[1]", [a, b]
    return (
        f"What is the ratio of the {noun} of {a} to that of {b}? Round to 2 decimal places.",
        "values[0] / values[1]",
        [a, b],
    )
