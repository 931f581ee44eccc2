"""All record checks in one fixed order: the single entry point the pipelines call.

Order (cheap and structural first, the sandbox last but one): format, hygiene, answer, images, evidence,
execution, consistency, duplicates. Every check after format needs a well-formed trajectory, so a format
failure always ends the run of checks; with ``fail_fast`` (the default) any failure does. The only I/O a
check may use is passed in: a sandbox for strict re-execution, a judge, a duplicate index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from sandbox.opener import SessionOpener
from synthesis.records import SftRecord
from validators.answer import check_answer
from validators.config import ValidatorsConfig
from validators.consistency import check_consistency
from validators.duplicates import DuplicateIndex
from validators.evidence import check_evidence
from validators.execution import compare_execution, needs_fixups, reexecute
from validators.format_check import check_format
from validators.hygiene import check_hygiene
from validators.images import check_images
from validators.judge import Judge
from validators.verdict import Verdict, to_checks

__all__ = ["CHECK_ORDER", "judge_record", "tally", "with_verdicts"]

CHECK_ORDER = ("format", "hygiene", "answer", "images", "evidence", "exec", "consistency", "duplicates")


def _plan(
    record: SftRecord,
    cfg: ValidatorsConfig,
    sandbox: SessionOpener | None,
    judge: Judge | None,
    index: DuplicateIndex | None,
) -> list[tuple[bool, Callable[[], Verdict]]]:
    def execution() -> Verdict:
        strict = cfg.execution.fixups == "reject" or not needs_fixups(record)
        reproduced = None
        if cfg.execution.reexecute:
            assert sandbox is not None  # judge_record refuses reexecute without a sandbox
            reproduced = reexecute(record, sandbox, strict=strict)
        return compare_execution(record, reproduced, cfg.execution)

    def duplicates() -> Verdict:
        assert index is not None  # planned as enabled only when there is an index
        return index.seen(record)

    return [
        (cfg.format.enabled, lambda: check_format(record, cfg.format)),
        (cfg.hygiene.enabled, lambda: check_hygiene(record, cfg.hygiene)),
        (cfg.answer.enabled, lambda: check_answer(record, cfg.answer, judge)),
        (cfg.images.enabled, lambda: check_images(record, cfg.images)),
        (cfg.evidence.enabled, lambda: check_evidence(record, cfg.evidence)),
        (cfg.execution.enabled, execution),
        (cfg.consistency.enabled, lambda: check_consistency(record, cfg.consistency, judge)),
        (cfg.duplicates.enabled and index is not None, duplicates),
    ]


def judge_record(
    record: SftRecord,
    cfg: ValidatorsConfig | None = None,
    *,
    sandbox: SessionOpener | None = None,
    judge: Judge | None = None,
    index: DuplicateIndex | None = None,
) -> list[Verdict]:
    """Run every enabled check on ``record`` in :data:`CHECK_ORDER`.

    Args:
        record (`SftRecord`): the trajectory to judge.
        cfg (`ValidatorsConfig`, *optional*): settings; defaults to ``ValidatorsConfig()``.
        sandbox (`sandbox.Sandbox`, *optional*): the pool for strict re-execution; required when
            ``cfg.execution.reexecute`` is on and the execution check is enabled.
        judge (`Judge`, *optional*): the LLM judge, used by the answer and consistency checks when enabled.
        index (`DuplicateIndex`, *optional*): reference set for the duplicates check; skipped without one.

    Returns:
        The verdicts of the checks that ran, in order.

    Example:
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(b"",),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="<think>t</think>  <answer>1</answer>",
        ...     answer="1",
        ...     answer_type="number",
        ...     family="no_code",
        ... )
        >>> cfg = ValidatorsConfig()
        >>> cfg.execution.reexecute = False
        >>> [v.reason for v in judge_record(r, cfg)]
        ['format_separator_not_single_whitespace']
    """
    cfg = cfg or ValidatorsConfig()
    if cfg.execution.enabled and cfg.execution.reexecute and sandbox is None:
        raise ValueError(
            "execution.reexecute is on but no sandbox was given: pass sandbox=... or set "
            "validators.execution.reexecute: false"
        )
    verdicts: list[Verdict] = []
    for enabled, run in _plan(record, cfg, sandbox, judge, index):
        if not enabled:
            continue
        verdict = run()
        verdicts.append(verdict)
        if not verdict.passed and (cfg.fail_fast or verdict.check == "format"):
            break
    return verdicts


def with_verdicts(record: SftRecord, verdicts: Iterable[Verdict]) -> SftRecord:
    """``record`` with its ``checks`` set to ``verdicts``.

    Example:
        >>> from validators.verdict import ok
        >>> with_verdicts(
        ...     SftRecord(
        ...         id="x",
        ...         images=(),
        ...         question="q",
        ...         image_size=(1, 1),
        ...         response="",
        ...         answer="",
        ...         answer_type="text",
        ...         family="crop",
        ...     ),
        ...     [ok("format")],
        ... ).checks[0].name
        'format'
    """
    return replace(record, checks=to_checks(verdicts))


def tally(results: Iterable[list[Verdict]]) -> dict[str, int]:
    """Counts over judged records: ``total``, ``accepted`` and ``dropped_<reason>`` of each first failure.

    Example:
        >>> from validators.verdict import fail, ok
        >>> tally([[ok("format")], [ok("format"), fail("answer", "mismatch")]])
        {'total': 2, 'accepted': 1, 'dropped_answer_mismatch': 1}
    """
    counts: Counter[str] = Counter()
    for verdicts in results:
        counts["total"] += 1
        failed = next((v for v in verdicts if not v.passed), None)
        counts["accepted" if failed is None else f"dropped_{failed.reason}"] += 1
    return dict(counts)
