"""Validators: every decision about a record or a shard is an explicit, explainable, testable verdict.

Record checks are pure functions ``(record, cfg, ...) -> Verdict`` (format, hygiene, answer, images,
evidence, execution, consistency, duplicates) run in a fixed order by :func:`judge_record`; shard checks are a
great-expectations suite over the written Parquet shards (:mod:`validators.shards`, also
``python -m validators.shards``).
"""

from validators.answer import answers_match, check_answer
from validators.config import ValidatorsConfig
from validators.consistency import check_consistency
from validators.duplicates import DuplicateIndex, dedupe, exact_key, near_key, near_keys
from validators.evidence import check_evidence, measure_evidence, prompt_evidence, with_evidence
from validators.execution import compare_execution, reexecute
from validators.format_check import check_format
from validators.hygiene import check_hygiene
from validators.images import check_images
from validators.judge import Judge, OpenAIJudge
from validators.record import CHECK_ORDER, judge_record, tally, with_verdicts
from validators.verdict import Verdict, accepted, first_failure, to_checks

__all__ = [
    "CHECK_ORDER",
    "DuplicateIndex",
    "Judge",
    "OpenAIJudge",
    "ValidatorsConfig",
    "Verdict",
    "accepted",
    "answers_match",
    "check_answer",
    "check_consistency",
    "check_evidence",
    "check_format",
    "check_hygiene",
    "check_images",
    "compare_execution",
    "dedupe",
    "exact_key",
    "first_failure",
    "judge_record",
    "measure_evidence",
    "near_key",
    "near_keys",
    "prompt_evidence",
    "reexecute",
    "tally",
    "to_checks",
    "with_evidence",
    "with_verdicts",
]
