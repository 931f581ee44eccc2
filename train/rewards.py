"""Thyme's rewards in TRL's calling convention, built on the validators' pure checks (thyme.md §6.5).

Each reward is ``name(completions, **kwargs) -> list[float | None]`` where ``completions`` are full assistant
messages and the keyword arguments are the prompt columns (``answer``, ``answer_type``, ``choices``,
``question``). ``None`` means "not applicable". :func:`combine` applies the weights and Thyme's gating:
consistency counts only when the answer is right, so r = acc + 0.5 * format + 0.5 * consistency * [acc > 0].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.answer import answers_match
from validators.consistency import check_consistency

__all__ = ["REWARDS", "accuracy_reward", "combine", "consistency_reward", "format_reward", "score"]


def accuracy_reward(
    completions: Sequence[str],
    answer: Sequence[str],
    answer_type: Sequence[str],
    choices: Sequence[Sequence[str]] | None = None,
    **kwargs,
) -> list[float | None]:
    """1.0 when the extracted ``<answer>`` matches the ground truth (``validators.answer.answers_match``).

    Example:
        >>> accuracy_reward(
        ...     ["<think>t</think> <answer>B</answer>", "no tag"],
        ...     ["B", "B"],
        ...     ["choice"] * 2,
        ...     [("red", "blue")] * 2,
        ... )
        [1.0, 0.0]
    """
    choices = choices or [()] * len(completions)
    out: list[float | None] = []
    for text, truth, kind, options in zip(completions, answer, answer_type, choices, strict=True):
        predicted = fmt.extract_answer(text)
        out.append(
            float(predicted is not None and answers_match(predicted, truth, kind, tuple(options)).passed)
        )
    return out


def format_reward(completions: Sequence[str], **kwargs) -> list[float | None]:
    """1.0 when the message passes the strict Thyme grammar (``synthesis.format.check``), else 0.0.

    Example:
        >>> format_reward(["<think>t</think> <answer>1</answer>", "<think>t</think>\\n\\n<answer>1</answer>"])
        [1.0, 0.0]
    """
    return [float(not fmt.check(text)) for text in completions]


def consistency_reward(
    completions: Sequence[str],
    answer: Sequence[str],
    answer_type: Sequence[str],
    choices: Sequence[Sequence[str]] | None = None,
    question: Sequence[str] | None = None,
    **kwargs,
) -> list[float | None]:
    """1.0 when the reasoning's conclusion and printed results agree with the answer (rule-based consistency).

    A message that is not format-valid has no well-defined reasoning, so it scores 0.0.

    Example:
        >>> consistency_reward(["<think>So the answer is 7.</think> <answer>8</answer>"], ["8"], ["number"])
        [0.0]
    """
    choices = choices or [()] * len(completions)
    question = question or [""] * len(completions)
    out: list[float | None] = []
    for text, truth, kind, options, q in zip(
        completions, answer, answer_type, choices, question, strict=True
    ):
        if fmt.check(text):
            out.append(0.0)
            continue
        record = SftRecord(
            id="reward",
            images=(),
            question=q,
            image_size=(0, 0),
            response=text,
            answer=truth,
            answer_type=kind,
            family="",
            task_params={"choices": list(options)},
        )
        out.append(float(check_consistency(record).passed))
    return out


REWARDS: dict[str, Callable[..., list[float | None]]] = {
    "accuracy": accuracy_reward,
    "format": format_reward,
    "consistency": consistency_reward,
}
GATED = ("consistency",)  # counted only when the answer is right


def combine(components: dict[str, list[float | None]], weights: dict[str, float]) -> list[float]:
    """Weighted sum per completion, with the gated rewards zeroed where accuracy is not positive.

    Example:
        >>> combine(
        ...     {"accuracy": [1.0, 0.0], "format": [1.0, 1.0], "consistency": [1.0, 1.0]},
        ...     {"accuracy": 1.0, "format": 0.5, "consistency": 0.5},
        ... )
        [2.0, 0.5]
    """
    size = len(next(iter(components.values())))
    accuracy = components.get("accuracy", [1.0] * size)
    total = [0.0] * size
    for name, values in components.items():
        for i, value in enumerate(values):
            if value is None or (name in GATED and not (accuracy[i] or 0) > 0):
                continue
            total[i] += weights.get(name, 0.0) * value
    return total


def score(
    completions: Sequence[str], weights: dict[str, float], **columns
) -> tuple[list[float], dict[str, list]]:
    """Every reward of :data:`REWARDS` with a non-zero weight, and their gated weighted sum."""
    components = {name: fn(completions, **columns) for name, fn in REWARDS.items() if weights.get(name)}
    return combine(components, weights), components
