"""Answer check: the final answer matches the ground truth (rules first, then an optional LLM judge).

Every answer is first undressed by :func:`validators.text.clean_answer` (markdown, ``\boxed``, lead-ins), so
the importer (:func:`read_answer`), the checks and the RL rewards read one answer one way. Rules by answer
type: option letter or option text for multiple choice ("B", "(B)", "**B. red**", "red", "B is correct" all
select B=red), yes/no synonyms, numbers with a tolerance and the truth's rounding (units and thousands
separators dropped), then ``math-verify`` for numbers and expressions (always with its signal-based timeouts
disabled: they raise in Beam and dask worker threads), and normalised text otherwise. Only free-form text
answers the rules reject go to the judge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import AnswerCheckConfig
from validators.judge import Judge
from validators.text import LETTERS, choices_from_question, clean_answer, normalize_text
from validators.verdict import Verdict, fail, ok

__all__ = [
    "AnswerSpec",
    "answers_match",
    "check_answer",
    "choice_letter",
    "read_answer",
    "record_choices",
    "to_number",
]

CHECK = "answer"
_YES, _NO = {"yes", "y", "true", "correct"}, {"no", "n", "false", "incorrect"}
_LETTER = re.compile(
    r"^((?:option|choice|选项)\s*)?([(\[]?)([A-Ha-h])([)\]]?)(?=$|[\s.:),、\]])([\s.:),、\]]*)(.*)$",
    re.IGNORECASE | re.DOTALL,
)
# a sentence's conclusion: "the answer is C", "B is correct", "I choose (D)", "答案是C"
_CONCLUDES = re.compile(
    r"(?i:answer|option|choice)\s*(?i:is|would be|should be|must be|will be|=|:)\s*(?i:option\s*|choice\s*)?"
    r"[(\[]?([A-H])\b"
    r"|\b([A-H])[)\]]?\s+(?i:is|would be|must be|seems)\s+(?i:the\s+)?(?i:correct|right|best|answer)\b"
    r"|(?i:choose|select|pick|go with)\s+(?i:option\s*|choice\s*)?[(\[]?([A-H])\b"
    r"|答案\s*(?:是|为|:)\s*[(\[]?([A-H])(?![A-Za-z])"
    r"|^[(\[]?([A-H])[)\]]?\s*[,:;-]\s*(?i:because|since|as)\b"
)
_ALSO = re.compile(r"[)\]]?\s*(?:or|and|/|,)\s*(?i:option\s*)?[(\[]?([A-H])\b(?!\s*(?i:is)\b)")
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+))?$")
_UNIT = re.compile(
    r"\s*(?:%|°\s*[CF]?|degrees?(?:\s+[CF])?|[a-zA-Zµ]{1,12}(?:\^?[23²³])?(?:\s*/\s*[a-zA-Z]{1,6}"
    r"(?:\^?[23²³])?)?)\s*$"
)
_YES_NO_QUESTION = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|has|have|had)\b", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class AnswerSpec:
    """The ground truth of a question as the checks read it.

    Args:
        answer (`str`): the canonical answer: the option letter (``choice``), ``yes``/``no`` (``yes_no``), the
            number as written without markdown, units or thousands separators (``number``), the cleaned text.
        answer_type (`str`): ``choice``, ``yes_no``, ``number`` or ``text``.
        choices (`tuple[str, ...]`): the option texts in letter order (``choice`` only, else ``()``).
    """

    answer: str
    answer_type: str
    choices: tuple[str, ...] = ()


def _contains(text: str, part: str) -> bool:
    """Whether normalised ``part`` occurs in normalised ``text`` as whole words."""
    return bool(part) and f" {part} " in f" {text} "


def _agrees(rest: str, index: int, options: list[str]) -> bool | None:
    """Whether the text after an option letter names that option:
    True, False (it names another), None (neither).

    A long explanation may mention other options ("B. a red umbrella, not the blue one") as long as it names
    its own.
    """
    mine = options[index]
    names_mine = rest == mine or _contains(rest, mine) or _contains(mine, rest)
    names_other = any(
        _contains(rest, o) for i, o in enumerate(options) if i != index and not _contains(mine, o)
    )
    if names_other and not (names_mine and len(rest.split()) > len(mine.split()) + 3):
        return False
    return True if names_mine else None


def _concluded(text: str, count: int) -> set[str]:
    """The letters a sentence concludes ("so the answer is C", "B is correct"); several when it hedges
    ("C or D")."""
    letters = set()
    for match in _CONCLUDES.finditer(text):
        letters.add(next(g for g in match.groups() if g))
        also = _ALSO.match(text, match.end())
        letters.update(also.groups() if also else ())
    return {letter for letter in letters if not count or LETTERS.index(letter) < count}


def choice_letter(answer: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The option letter an answer selects, or None when it selects none, contradicts itself or hedges.

    Args:
        answer (`str`): the answer text ("B", "(B)", "**B. red**", "red", "Option B", "B is correct", ...).
        choices (`tuple[str, ...]`): option texts in letter order (``()`` when unknown: letters only).

    Example:
        >>> [choice_letter(a, ("blue", "red")) for a in ("B", "(b)", "**B. red**", "red", "B (blue)", "C")]
        ['B', 'B', 'B', 'B', None, None]
        >>> [choice_letter(a, ("blue", "red", "green")) for a in ("It is red, so the answer is B.", "C or B")]
        ['B', None]
    """
    text = clean_answer(answer)
    options = [normalize_text(c) for c in choices]
    norm = normalize_text(text)
    if norm and norm in options:
        return LETTERS[options.index(norm)]
    candidates = set()
    match = _LETTER.match(text)
    if match:
        named, opened, letter, closed, gap, rest = match.groups()
        letter, rest = letter.upper(), normalize_text(rest)
        if choices and LETTERS.index(letter) >= len(choices):
            return None
        if not rest:
            return letter
        marked = bool(
            named or opened or closed or gap.strip()
        )  # "B. ...", "(B) ...", "Option B ...", not "A cat"
        agrees = _agrees(rest, LETTERS.index(letter), options) if choices else None
        if agrees is False and marked:
            return None
        if marked or agrees:
            also = _ALSO.match(text, match.end(4))
            candidates.update({letter, *(also.groups() if also else ())})
    candidates |= _concluded(text, len(choices))
    return candidates.pop() if len(candidates) == 1 else None


def _number_text(text: str) -> str | None:
    """The number in an answer as written, without markdown, currency, units or thousands separators."""
    value = re.sub(r"\\[,;! ]", "", clean_answer(text)).replace("\\%", "%").replace("\\$", "$")
    value = re.sub(r"^(?:[$€£¥]|USD|EUR)\s*", "", value).replace("$", "").strip()
    value = re.sub(r"(?<=\d),(?=\d{3}\b)", "", value)
    value = _UNIT.sub("", value).strip()
    return value if _NUMBER.match(value) else None


def to_number(text: str) -> float | None:
    """A plain number, fraction or percentage written in ``text`` (units and thousands separators dropped).

    Example:
        >>> to_number("1,200 px"), to_number("2/3"), to_number("-0.5"), to_number("twelve")
        (1200.0, 0.6666666666666666, -0.5, None)
        >>> to_number("**45°**"), to_number("\\\\boxed{12.5\\\\%}"), to_number("$3.50"), to_number("1,5")
        (45.0, 12.5, 3.5, None)
    """
    value = _number_text(text)
    if value is None:
        return None
    try:
        return float(Fraction(value.replace(" ", "")))
    except (ValueError, ZeroDivisionError):
        return None


def _yes_no(text: str) -> str | None:
    words = normalize_text(clean_answer(text)).split()
    head = words[0] if words else ""
    return "yes" if head in _YES else "no" if head in _NO else None


def _stated_yes_no(question: str, text: str) -> str | None:
    """``yes``/``no`` when the answer is one ("Yes", "No, it is not."), not a phrase that starts so
    ("No parking")."""
    head = re.match(r"(yes|no)\b(.?)", text, re.IGNORECASE)
    if not head or not (head.group(2) in ("", ",", ".", "!", ";", ":") or _YES_NO_QUESTION.match(question)):
        return None
    return head.group(1).lower()


def read_answer(
    question: str, answer_text: str, given: str | None = None, *, choices: Sequence[str] | None = None
) -> AnswerSpec:
    """The ground truth of a question: its type, its canonical answer and its options.

    ``choice`` when the question lists options (any layout) and the answer selects one (by letter, by text or
    in a sentence); ``yes_no`` for a yes or no; ``number`` for a number (units allowed); ``text`` otherwise.

    Args:
        question (`str`): the question, with its options if it has any.
        answer_text (`str`): the answer as the response gives it (the ``<answer>`` text).
        given (`str`, *optional*): the row's own ``answer``/``solution`` field; when set it is the ground
            truth and wins over ``answer_text`` (``<answer> C </answer>``, ``\\boxed{C}`` or plain).
        choices (`Sequence[str]`, *optional*): the option texts when known apart from the question.

    Example:
        >>> q = "Which colour is the umbrella?\\nOptions: (A) blue (B) green (C) red"
        >>> read_answer(q, "**C. red**")
        AnswerSpec(answer='C', answer_type='choice', choices=('blue', 'green', 'red'))
        >>> [read_answer("How long?", a).answer for a in ("**1,234 cm**", "\\\\boxed{42}", "$3.50")]
        ['1234', '42', '3.50']
        >>> [
        ...     read_answer("Is the sign red?", a).answer
        ...     for a in ("Yes, the sign is red.", "*no*", "Answer: yes")
        ... ]
        ['yes', 'no', 'yes']
        >>> read_answer("What does the sign say?", "B", given="<answer> **No smoking** </answer>")
        AnswerSpec(answer='No smoking', answer_type='text', choices=())
    """
    text = clean_answer(given if given is not None and given.strip() else answer_text)
    options = tuple(choices) if choices else choices_from_question(question)
    letter = choice_letter(text, options) if options else None
    if letter:
        return AnswerSpec(letter, "choice", options)
    yes_no = _stated_yes_no(question, text)
    if yes_no:
        return AnswerSpec(yes_no, "yes_no")
    number = _number_text(text)
    return AnswerSpec(number, "number") if number is not None else AnswerSpec(text, "text")


def _decimals(truth: str) -> int:
    match = re.search(r"\.(\d+)$", _number_text(truth) or "")
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


def answers_match(
    predicted: str,
    truth: str,
    answer_type: str,
    choices: tuple[str, ...] | list[str] = (),
    cfg: AnswerCheckConfig | None = None,
) -> Verdict:
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
    if normalize_text(clean_answer(predicted)) == normalize_text(clean_answer(truth)):
        return ok(CHECK, "text")
    letters = (choice_letter(predicted, choices), choice_letter(truth, choices)) if choices else (None, None)
    if answer_type == "text" and letters[1]:  # a multiple-choice question typed as text (imported records)
        return ok(CHECK, "choice") if letters[0] == letters[1] else mismatch
    pred_num, truth_num = to_number(predicted), to_number(truth)
    if pred_num is not None and truth_num is not None:
        return ok(CHECK, "number") if _numbers_match(pred_num, truth_num, truth, cfg) else mismatch
    as_math = (f"${clean_answer(text)}$" for text in (predicted, truth))
    if answer_type == "number" and cfg.use_math_verify and _math_verify(*as_math):
        return ok(CHECK, "math_verify")
    return mismatch


def record_choices(record: SftRecord) -> tuple[str, ...]:
    """The option texts of a record: ``task_params["choices"]``, else the lettered lines of its question.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(),
        ...     question="Options:\\nA. red\\nB. blue",
        ...     image_size=(1, 1),
        ...     response="",
        ...     answer="A",
        ...     answer_type="choice",
        ...     family="crop",
        ... )
        >>> record_choices(r)
        ('red', 'blue')
    """
    given = record.task_params.get("choices") if isinstance(record.task_params, dict) else None
    return tuple(given) if given else choices_from_question(record.question)


def check_answer(
    record: SftRecord, cfg: AnswerCheckConfig | None = None, judge: Judge | None = None
) -> Verdict:
    """Answer check of a record: rules, then (for text answers, when enabled) the LLM judge.

    Args:
        record (`SftRecord`): the trajectory with its ground truth.
        cfg (`AnswerCheckConfig`, *optional*): settings; defaults to ``AnswerCheckConfig()``.
        judge (`Judge`, *optional*): the LLM judge, used only when ``cfg.use_judge`` and the rules reject a
            ``text`` answer.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="<think>t</think> <answer>42</answer>",
        ...     answer="42",
        ...     answer_type="number",
        ...     family="compute",
        ... )
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
