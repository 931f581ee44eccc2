"""Answer check: the final answer matches the ground truth (rules first, then an optional LLM judge).

Rules by answer type: option letter or option text for multiple choice ("B", "(B)", "B. red" and "red" all
select B=red), yes/no synonyms, numbers with a tolerance and the truth's rounding, then ``math-verify`` for
numbers and expressions (always with its signal-based timeouts disabled: they raise in Beam and dask worker
threads), and normalised text otherwise. Only free-form text answers the rules reject go to the judge.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import AnswerCheckConfig
from validators.judge import Judge
from validators.text import choices_from_question, normalize_text, strip_answer_prefix
from validators.verdict import Verdict, fail, ok

__all__ = ["answers_match", "check_answer", "choice_letter", "record_choices", "to_number"]

CHECK = "answer"
LETTERS = "ABCDEFGH"
_YES, _NO = {"yes", "y", "true", "correct"}, {"no", "n", "false", "incorrect"}
_LETTER = re.compile(r"^(?:option\s+)?\(?([A-Ha-h])\)?(?=$|[\s.:),])[\s.:),]*(.*)$", re.IGNORECASE | re.DOTALL)
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+))?$")
_UNIT = re.compile(r"\s*(?:%|°|degrees?|[a-zA-Z]{1,6}[²³]?|units?)\s*$")


def choice_letter(answer: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The option letter an answer selects, or None when it selects none (or contradicts itself).

    Args:
        answer (`str`): the answer text ("B", "(B)", "B. red", "red", "Option B", ...).
        choices (`tuple[str, ...]`): option texts in letter order.

    Example:
        >>> [choice_letter(a, ("blue", "red")) for a in ("B", "(b)", "B. red", "red", "B (blue)", "C")]
        ['B', 'B', 'B', 'B', None, None]
    """
    text = strip_answer_prefix(answer)
    options = [normalize_text(c) for c in choices]
    norm = normalize_text(text)
    if norm and norm in options:
        return LETTERS[options.index(norm)]
    match = _LETTER.match(text)
    if not match:
        return None
    letter = match.group(1).upper()
    index = LETTERS.index(letter)
    if choices and index >= len(choices):
        return None
    rest = normalize_text(match.group(2))
    if rest and (not choices or rest != options[index]):
        return None
    return letter


def to_number(text: str) -> float | None:
    """A plain number, fraction or percentage written in ``text`` (units and thousands separators dropped).

    Example:
        >>> to_number("1,200 px"), to_number("2/3"), to_number("-0.5"), to_number("twelve")
        (1200.0, 0.6666666666666666, -0.5, None)
    """
    value = strip_answer_prefix(text).replace("$", "").strip()
    value = re.sub(r"(?<=\d),(?=\d{3}\b)", "", value)
    value = _UNIT.sub("", value).strip()
    if not _NUMBER.match(value):
        return None
    try:
        return float(Fraction(value.replace(" ", "")))
    except (ValueError, ZeroDivisionError):
        return None


def _decimals(truth: str) -> int:
    match = re.search(r"\.(\d+)\s*$", truth.strip())
    return len(match.group(1)) if match else 0


def _numbers_match(pred: float, truth: float, truth_text: str, cfg: AnswerCheckConfig) -> bool:
    if math.isclose(pred, truth, rel_tol=cfg.rel_tol, abs_tol=cfg.abs_tol):
        return True
    digits = _decimals(truth_text)
    return digits > 0 and math.isclose(round(pred, digits), truth, abs_tol=10 ** -(digits + 3))


def _math_verify(pred: str, truth: str) -> bool:
    from math_verify import parse, verify

    gold = parse(truth, parsing_timeout=None)
    guess = parse(pred, parsing_timeout=None)
    return bool(gold and guess and verify(gold, guess, timeout_seconds=None))


def _yes_no(text: str) -> str | None:
    words = normalize_text(strip_answer_prefix(text)).split()
    head = words[0] if words else ""
    return "yes" if head in _YES else "no" if head in _NO else None


def answers_match(predicted: str, truth: str, answer_type: str, choices: tuple[str, ...] | list[str] = (),
                  cfg: AnswerCheckConfig | None = None) -> Verdict:  # fmt: skip
    """Whether ``predicted`` is a correct answer given ``truth`` (rules only; no judge).

    Args:
        predicted (`str`): the text inside ``<answer>`` (already extracted).
        truth (`str`): the ground truth (the option letter for ``choice``).
        answer_type (`str`): ``choice``, ``number``, ``yes_no`` or ``text``.
        choices (`tuple[str, ...]`, *optional*, defaults to `()`): option texts for ``choice``.
        cfg (`AnswerCheckConfig`, *optional*): tolerances and the math-verify switch.

    Example:
        >>> answers_match("B. red", "B", "choice", ("blue", "red")).passed
        True
        >>> answers_match("2/3", "0.67", "number").passed
        True
        >>> answers_match("The Eiffel tower.", "eiffel tower", "text").detail
        'text'
        >>> answers_match("C", "B", "choice", ("blue", "red", "green")).reason
        'answer_mismatch'
    """
    cfg = cfg or AnswerCheckConfig()
    if not predicted.strip():
        return fail(CHECK, "missing", "empty <answer>")
    mismatch = fail(CHECK, "mismatch", f"predicted {predicted.strip()[:80]!r}, truth {truth!r}")
    if answer_type == "choice":
        want = choice_letter(truth, choices)
        return ok(CHECK, "choice") if want and choice_letter(predicted, choices) == want else mismatch
    if answer_type == "yes_no":
        want = _yes_no(truth)
        return ok(CHECK, "yes_no") if want and _yes_no(predicted) == want else mismatch
    if normalize_text(strip_answer_prefix(predicted)) == normalize_text(strip_answer_prefix(truth)):
        return ok(CHECK, "text")
    pred_num, truth_num = to_number(predicted), to_number(truth)
    if pred_num is not None and truth_num is not None:
        return ok(CHECK, "number") if _numbers_match(pred_num, truth_num, truth, cfg) else mismatch
    if answer_type == "number" and cfg.use_math_verify and _math_verify(strip_answer_prefix(predicted), truth):
        return ok(CHECK, "math_verify")
    return mismatch


def record_choices(record: SftRecord) -> tuple[str, ...]:
    """The option texts of a record: ``task_params["choices"]``, else the lettered lines of its question.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord("x", (), "Options:\\nA. red\\nB. blue", (1, 1), "", "A", "choice", "crop")
        >>> record_choices(r)
        ('red', 'blue')
    """
    given = record.task_params.get("choices") if isinstance(record.task_params, dict) else None
    return tuple(given) if given else choices_from_question(record.question)


def check_answer(record: SftRecord, cfg: AnswerCheckConfig | None = None, judge: Judge | None = None) -> Verdict:
    """Answer check of a record: rules, then (for text answers, when enabled) the LLM judge.

    Args:
        record (`SftRecord`): the trajectory with its ground truth.
        cfg (`AnswerCheckConfig`, *optional*): settings; defaults to ``AnswerCheckConfig()``.
        judge (`Judge`, *optional*): the LLM judge, used only when ``cfg.use_judge`` and the rules reject a
            ``text`` answer.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord("x", (), "q", (1, 1), "<think>t</think> <answer>42</answer>", "42", "number", "compute")
        >>> check_answer(r).passed
        True
    """
    cfg = cfg or AnswerCheckConfig()
    predicted = fmt.extract_answer(record.response)
    if predicted is None:
        return fail(CHECK, "missing", "no <answer> tag")
    verdict = answers_match(predicted, record.answer, record.answer_type, record_choices(record), cfg)
    if verdict.passed or verdict.reason != f"{CHECK}_mismatch" or record.answer_type != "text":
        return verdict
    if not (cfg.use_judge and judge is not None):
        return verdict
    decision = judge.correct(record.question, predicted, record.answer)
    if decision is None:
        return fail(CHECK, "judge_error", "the judge gave no usable verdict")
    return ok(CHECK, "judge") if decision else fail(CHECK, "judge_rejected", verdict.detail)
