"""Consistency check: the final answer agrees with the reasoning and the printed results before it.

Rule-based first, like the original's consistency reward reads only the end of the reasoning (thyme.md §6.5):
the reasoning is the think body with ``<image>`` and the sandbox-output tags removed, and only its last
``tail_chars`` characters count. Two rules: the last explicit conclusion ("... the answer is X", "the correct
option is X") must select the same answer; for numeric answers, a number printed by the last code block must
equal the answer. The optional judge then asks the original's consistency question.
"""

from __future__ import annotations

import re

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.answer import answers_match, read_answer, record_choices, to_number
from validators.config import ConsistencyCheckConfig
from validators.judge import Judge
from validators.text import clean_answer
from validators.verdict import Verdict, fail, ok

__all__ = ["check_consistency", "last_conclusion", "reasoning_tail"]

CHECK = "consistency"
_CONCLUSION = re.compile(
    r"(?:answer|option)\s+(?:is|would be|should be)\s*:?\s*(.+?)\s*(?:\.(?=\s|$)|\n|$)", re.IGNORECASE
)
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_HARNESS = re.compile(r"<image>|</?sandbox_output>")


def reasoning_tail(response: str, chars: int = 500) -> str:
    """The last ``chars`` characters of the think body, without ``<image>`` and sandbox-output tags.

    Args:
        response (`str`): the assistant message.
        chars (`int`, *optional*, defaults to `500`): how much of the end to keep (the original: 500).

    Example:
        >>> reasoning_tail("<think>x<sandbox_output><image></sandbox_output>so B</think> <answer>B</answer>")
        'xso B'
    """
    match = _THINK.search(response)
    body = match.group(1) if match else response.split("</think>")[0]
    return _HARNESS.sub("", body)[-chars:]


def last_conclusion(text: str) -> str | None:
    """The value of the last "the answer/option is X" statement in ``text``, or None.

    Example:
        >>> last_conclusion("It reads 12. So the correct option is B (red).")
        'B (red)'
        >>> last_conclusion("The ratio is 3.5.") is None
        True
    """
    found = _CONCLUSION.findall(text)
    return found[-1].strip().strip("\"'") if found else None


def _last_printed(response: str) -> str | None:
    outputs = [s for s in fmt.parse(response).segments if isinstance(s, fmt.SandboxOutput)]
    return outputs[-1].text.strip() if outputs and not outputs[-1].images else None


def _kind(record: SftRecord, answer: str, choices: tuple[str, ...]) -> str:
    """How to compare a conclusion with the answer: by option when the answer selects one
    ("so the answer is C" against ``**C. a red umbrella**``), by yes/no when it says so, else as the record's
    answer type."""
    read = read_answer(record.question, answer, choices=choices).answer_type
    return (
        read if read in ("choice", "yes_no") and record.answer_type in (read, "text") else record.answer_type
    )


def rounds_to(printed: str, answer: str) -> bool:
    """Whether ``answer`` is the printed number rounded to the answer's own decimals (the sandbox widens
    ``:.2f`` to ``:.8f``, so code meant to print 6.28 prints 6.28318531 and the model answers 6.28).

    Example:
        >>> (
        ...     rounds_to("6.28318531", "6.28"),
        ...     rounds_to("6.28318531", "**6.3**"),
        ...     rounds_to("6.28318531", "6.2"),
        ... )
        (True, True, False)
    """
    value, said = to_number(printed), to_number(answer)
    if value is None or said is None:
        return False
    match = re.search(r"\.(\d+)", clean_answer(answer))
    digits = len(match.group(1)) if match else 0
    return abs(round(value, digits) - said) < 10 ** -(digits + 6)


def check_consistency(
    record: SftRecord, cfg: ConsistencyCheckConfig | None = None, judge: Judge | None = None
) -> Verdict:
    """Consistency check of a record that passed the format check.

    Args:
        record (`SftRecord`): the trajectory.
        cfg (`ConsistencyCheckConfig`, *optional*): settings; defaults to ``ConsistencyCheckConfig()``.
        judge (`Judge`, *optional*): asked only when ``cfg.use_judge``.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(b"",),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="<think>So the answer is 7.</think> <answer>8</answer>",
        ...     answer="8",
        ...     answer_type="number",
        ...     family="no_code",
        ... )
        >>> check_consistency(r).reason
        'consistency_reasoning_contradicted'
    """
    cfg = cfg or ConsistencyCheckConfig()
    answer = fmt.extract_answer(record.response) or ""
    choices = record_choices(record)
    tail = reasoning_tail(record.response, cfg.tail_chars)
    stated = last_conclusion(tail)
    if (
        stated is not None
        and not answers_match(stated, answer, _kind(record, answer, choices), choices).passed
    ):
        return fail(
            CHECK, "reasoning_contradicted", f"reasoning concludes {stated[:60]!r}, answer is {answer[:60]!r}"
        )
    printed = _last_printed(record.response)
    if record.answer_type == "number" and printed and to_number(printed) is not None:
        if not answers_match(answer, printed, "number").passed and not rounds_to(printed, answer):
            return fail(
                CHECK, "output_contradicted", f"the code printed {printed[:60]!r}, answer is {answer[:60]!r}"
            )
    if cfg.use_judge and judge is not None:
        decision = judge.consistent(tail, answer)
        if decision is None:
            return fail(CHECK, "judge_error", "the judge gave no usable verdict")
        if not decision:
            return fail(
                CHECK, "judge_rejected", f"the judge found the reasoning inconsistent with {answer[:60]!r}"
            )
    return ok(CHECK)
