"""Hygiene check: length and image limits, repetition loops, leaked absolute paths, answer leakage.

Repetition follows the original's filter (thyme.md §6.4): each stretch of model text (code blocks and sandbox
outputs removed) is scanned over its last ``window`` characters (``n`` of them); the original tries substring
lengths ``L`` from ``n / 3`` down while ``2L / n > threshold`` and flags the text when a substring's
overlapping occurrences cover more than ``threshold`` of it. Any repeated substring in that length range
covers more than the threshold, and a repeat of length ``L`` contains repeats of every shorter length, so the
loop reduces to one pass at the shortest length ``L0 = floor(threshold * n / 2) + 1``. One change: a loop
needs ``min_repeats`` occurrences (default 3), so that restating a conclusion once
("The answer is 7. So the answer is 7.") is not a loop.
"""

from __future__ import annotations

import re

from synthesis.records import SftRecord
from validators.answer import choice_letter, record_choices
from validators.config import HygieneCheckConfig
from validators.text import clean_answer, normalize_text, question_stem
from validators.verdict import Verdict, fail, ok

__all__ = ["check_hygiene", "is_repetitive", "leaked_paths", "model_text_segments"]

CHECK = "hygiene"
_BLOCKS = re.compile(r"<code>.*?</code>|<sandbox_output>.*?</sandbox_output>", re.DOTALL)
_TAGS = re.compile(r"</?(?:think|answer)>")
_PATH = re.compile(
    r"(?<![\w/.:~\\])(/[\w.-]+(?:/[\w.-]*)+)|(?<![\w])([A-Za-z]:\\[\w .-]+(?:\\[\w .-]*)*)|(~/[\w.-]+)"
)
_INSTRUCTION = re.compile(
    r"(?:^|\n|(?<=[.?!。？]) ?)(?:Please |Answer (?:the|with|using)\b|请)[^\n]*", re.IGNORECASE
)


def is_repetitive(
    text: str, threshold: float = 0.3, window: int = 1000, min_chars: int = 50, min_repeats: int = 3
) -> bool:
    """True when the last ``window`` characters of ``text`` are a repetition loop.

    Args:
        text (`str`): one stretch of model text.
        threshold (`float`, *optional*, defaults to `0.3`): share of the window one repeated substring may
            cover.
        window (`int`, *optional*, defaults to `1000`): characters scanned at the end of ``text``.
        min_chars (`int`, *optional*, defaults to `50`): shorter texts are never repetitive.
        min_repeats (`int`, *optional*, defaults to `3`): occurrences that make a loop (2 is the original's
            rule).

    Example:
        >>> is_repetitive("Let me check the crop again. " * 20)
        True
        >>> is_repetitive("The crop shows a red star next to a blue sign, so the answer is B.")
        False
        >>> is_repetitive("Easy. The answer is APPLE. So the answer is APPLE.", min_chars=10)
        False
    """
    tail = text[-window:]
    n = len(tail)
    if n < min_chars:
        return False
    length = int(threshold * n / 2) + 1
    if length > n // 3:
        return False
    counts: dict[str, int] = {}
    for start in range(n - length + 1):
        piece = tail[start : start + length]
        counts[piece] = counts.get(piece, 0) + 1
        if counts[piece] >= min_repeats:
            return True
    return False


def model_text_segments(response: str) -> list[str]:
    """The stretches of model-written prose: the response split at code blocks and sandbox outputs.

    Example:
        >>> model_text_segments(
        ...     "<think>a<code>x</code><sandbox_output>1</sandbox_output>b</think> <answer>c</answer>"
        ... )
        ['a', 'b c']
    """
    parts = (" ".join(_TAGS.sub(" ", part).split()) for part in _BLOCKS.split(response))
    return [part for part in parts if part]


def leaked_paths(text: str, allowed_prefixes: list[str] | tuple[str, ...] = ("/mnt/data/",)) -> list[str]:
    """Absolute file-system paths in ``text`` other than the allowed protocol paths.

    Args:
        text (`str`): question or response text, code included.
        allowed_prefixes (`list[str]`, *optional*): path prefixes that are part of the protocol.

    Example:
        >>> leaked_paths('p = "/home/alice/data/img.png"; q = "/mnt/data/input/a.png"; r = 1/2/3')
        ['/home/alice/data/img.png']
    """
    found = [next(g for g in m.groups() if g) for m in _PATH.finditer(text)]
    return [p for p in found if not any(p.startswith(prefix) for prefix in allowed_prefixes)]


def _leaks_answer(record: SftRecord) -> bool:
    """Whether the question itself (outside its options and instructions) states the answer.

    A multiple-choice question lists its answer among its options by design: an answer that is (or selects)
    one of the options is never a leak, whatever the answer type says.
    """
    if record.answer_type not in ("text", "number"):
        return False
    choices = record_choices(record)
    if choices and choice_letter(record.answer, choices):
        return False
    answer = normalize_text(clean_answer(record.answer))
    question = normalize_text(_INSTRUCTION.sub(" ", question_stem(record.question)))
    if (
        record.answer_type == "number"
    ):  # operands, counts and "round to 2 decimal places" are no leak; a statement is
        stem = _INSTRUCTION.sub(" ", question_stem(record.question)).lower()
        value = re.escape(clean_answer(record.answer).lower())
        return (
            bool(value)
            and re.search(rf"\b(?:is|are|was|were|equals?|=)\s*{value}(?=\s*(?:[.,;:!?)]|$))", stem)
            is not None
        )
    return bool(answer) and re.search(rf"(?<!\S){re.escape(answer)}(?!\S)", question) is not None


def check_hygiene(record: SftRecord, cfg: HygieneCheckConfig | None = None) -> Verdict:
    """Hygiene check of a record.

    Args:
        record (`SftRecord`): the trajectory.
        cfg (`HygieneCheckConfig`, *optional*): limits; defaults to ``HygieneCheckConfig()``.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(b"",),
        ...     question="What word?",
        ...     image_size=(1, 1),
        ...     response="<think>t</think> <answer>cat</answer>",
        ...     answer="cat",
        ...     answer_type="text",
        ...     family="crop",
        ... )
        >>> check_hygiene(r).passed
        True
    """
    cfg = cfg or HygieneCheckConfig()
    if len(record.response) > cfg.max_chars:
        return fail(CHECK, "too_long", f"{len(record.response)} > {cfg.max_chars} characters")
    if len(record.images) > cfg.max_images:
        return fail(CHECK, "too_many_images", f"{len(record.images)} > {cfg.max_images} images")
    for index, segment in enumerate(model_text_segments(record.response)):
        if is_repetitive(
            segment,
            cfg.repetition_threshold,
            cfg.repetition_window,
            cfg.repetition_min_chars,
            cfg.repetition_min_repeats,
        ):
            return fail(CHECK, "repetition", f"text segment {index} ends in a repetition loop")
    paths = leaked_paths(record.question + "\n" + record.response, cfg.allowed_path_prefixes)
    if paths:
        return fail(CHECK, "leaked_path", ", ".join(sorted(set(paths)))[:200])
    if cfg.check_answer_leak and _leaks_answer(record):
        return fail(CHECK, "answer_leak", f"the question contains the answer {record.answer!r}")
    return ok(CHECK)
