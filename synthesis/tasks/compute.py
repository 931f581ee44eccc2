"""Computation family: tables, bar charts and labelled figures whose question needs arithmetic.

``params`` carry the values read from the image, the operation, and a Python ``expression`` over literal
numbers whose value, normalised by :func:`~synthesis.tasks.questions.format_number` (integer when integral,
else rounded to 2 decimals), is the answer; a teacher can print it from the sandbox as-is.
"""

from __future__ import annotations

import math

import numpy as np

from synthesis.tasks.assemble import assemble
from synthesis.tasks.charts import render_bar_chart, render_figure, render_table
from synthesis.tasks.config import ComputeConfig
from synthesis.tasks.questions import format_number, format_open
from synthesis.tasks.rand import make_rng, pick, randint, sample
from synthesis.tasks.task import Task
from synthesis.tasks.text import WORDS

__all__ = ["evaluate", "generate"]

_TABLE_OPS = ("sum", "difference", "average", "ratio")


def evaluate(expression: str) -> float:
    """Value of a params ``expression`` (numbers, + - * / ** parentheses and ``math.pi``/``math.sqrt``).

    Example:
        >>> evaluate("(3 + 4) / 2")
        3.5
    """
    return float(eval(expression, {"__builtins__": {}}, {"math": math}))  # noqa: S307 - our own literal expressions


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
        rendered.question, rendered.expression, rendered.used = _table_question(rng, op, labels, values, rendered.noun)
    value = evaluate(rendered.expression)
    params = {
        "kind": kind,
        "operation": op,
        "values": rendered.values,
        "used": rendered.used,
        "expression": rendered.expression,
        "value": value,
        "normalisation": "integer if integral, else rounded to 2 decimals (trailing zeros dropped)",
    }
    return assemble("compute", seed, cfg, rendered.image, format_open(rendered.question), format_number(value),
                    "number", params, (), rendered.box, float(len(rendered.used)))


def _items(rng: np.random.Generator, cfg: ComputeConfig) -> tuple[list[str], list[int]]:
    n = randint(rng, *cfg.items_range)
    labels = [w.title() for w in sample(rng, WORDS, n)]
    return labels, [randint(rng, *cfg.value_range) for _ in range(n)]


def _table_question(rng, op: str, labels: list[str], values: list[int], noun: str) -> tuple[str, str, list[str]]:
    """Question, expression and the labels it uses, for a table or chart of ``labels`` -> ``values``."""
    if op in ("sum", "average"):
        used = sample(rng, labels, randint(rng, 2, len(labels))) if op == "sum" else list(labels)
        used = [lb for lb in labels if lb in used]
        nums = [str(values[labels.index(lb)]) for lb in used]
        if op == "sum":
            return (f"What is the total {noun} of {', '.join(used[:-1])} and {used[-1]}?",
                    " + ".join(nums), used)
        return (f"What is the average {noun} over all items? Round to 2 decimal places if needed.",
                f"({' + '.join(nums)}) / {len(nums)}", used)
    a, b = sample(rng, labels, 2)
    va, vb = values[labels.index(a)], values[labels.index(b)]
    if op == "difference":
        a, b, va, vb = (a, b, va, vb) if va >= vb else (b, a, vb, va)
        return f"How much larger is the {noun} of {a} than that of {b}?", f"{va} - {vb}", [a, b]
    return (f"What is the ratio of the {noun} of {a} to that of {b}? Round to 2 decimal places.",
            f"{va} / {vb}", [a, b])
