"""Run statistics: counts computed from the pipeline's own outputs, plus timing and token metrics.

Counts that decide correctness (records in, accepted, dead-lettered, per family, per stage and reason, per
check) are computed from the PCollections themselves, so they are exact on every runner. Per-record costs
(sandbox CPU and wall time, teacher tokens) are Beam metrics, read from the result when the pipeline ends.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

__all__ = [
    "NAMESPACE",
    "CountFacts",
    "check_invariant",
    "counter",
    "dead_letter_facts",
    "distribution",
    "metric_totals",
    "nothing_accepted",
    "prompt_facts",
    "record_facts",
    "teacher_totals",
]

NAMESPACE = "thyme"


def record_facts(record) -> list[str]:
    """Count keys of an accepted SFT record: its family and each of its checks.

    Example:
        >>> from synthesis.records import Check, SftRecord
        >>> r = SftRecord(
        ...     id="a",
        ...     images=(b"",),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="r",
        ...     answer="A",
        ...     answer_type="choice",
        ...     family="crop",
        ...     checks=(Check(name="format", passed=True),),
        ... )
        >>> record_facts(r)
        ['accepted', 'accepted/family/crop', 'check/format/passed']
    """
    facts = ["accepted", f"accepted/family/{record.family}"]
    facts += [f"check/{c.name}/{'passed' if c.passed else 'failed'}" for c in record.checks]
    return facts + _evidence_facts(record.family, record.tool_evidence)


def prompt_facts(row: dict) -> list[str]:
    """Count keys of an accepted RL prompt row: its family and its tool evidence.

    Example:
        >>> prompt_facts({"family": "rotate", "tool_evidence": {"kind": "rotate", "needed": "yes"}})
        ['accepted', 'accepted/family/rotate', 'evidence/rotate/rotate/yes']
    """
    evidence = row.get("tool_evidence")
    return ["accepted", f"accepted/family/{row['family']}"] + _evidence_facts(row["family"], evidence)


def _evidence_facts(family: str, evidence) -> list[str]:
    """``evidence/<family>/<kind>/<needed>`` of a ``ToolEvidence`` or of its row (a dict); none without it."""
    if not evidence:
        return []
    fields = evidence if isinstance(evidence, dict) else {"kind": evidence.kind, "needed": evidence.needed}
    return [f"evidence/{family}/{fields['kind']}/{fields['needed']}"]


def dead_letter_facts(letter) -> list[str]:
    """Count keys of a dead letter: its stage and its stage/reason.

    Example:
        >>> from synthesis.records import DeadLetter
        >>> dead_letter_facts(DeadLetter(id="a", stage="teacher", reason="exec_timeout", detail=""))
        ['dead', 'dead/stage/teacher', 'dead/reason/teacher/exec_timeout']
    """
    return ["dead", f"dead/stage/{letter.stage}", f"dead/reason/{letter.stage}/{letter.reason}"]


class CountFacts(beam.PTransform):
    """Count string facts into one ``{fact: count}`` dict (an empty input gives ``{}``)."""

    def expand(self, facts):
        return (
            facts
            | "Count" >> beam.combiners.Count.PerElement()
            | "ToDict" >> beam.combiners.ToDict()
            | "Sort" >> beam.Map(lambda d: dict(sorted(d.items())))
        )


def check_invariant(
    records_in: int, counts: dict[str, int], written: dict[str, int] | None = None
) -> dict[str, Any]:
    """The accounting invariant of a run: every record in is accepted or dead-lettered, exactly once, and,
    given the rows the shards hold per folder (``written``), the data and dead-letter shards hold exactly
    those rows.

    Example:
        >>> check_invariant(3, {"accepted": 2, "dead": 1})["holds"]
        True
        >>> check_invariant(3, {"accepted": 2, "dead": 1}, {"data": 1, "dead_letter": 1})["holds"]
        False
    """
    accepted, dead = counts.get("accepted", 0), counts.get("dead", 0)
    out: dict[str, Any] = {
        "records_in": records_in,
        "accepted": accepted,
        "dead_lettered": dead,
        "holds": records_in == accepted + dead,
    }
    if written is not None:
        out["written"] = {"data": written.get("data", 0), "dead_letter": written.get("dead_letter", 0)}
        out["holds"] = out["holds"] and out["written"] == {"data": accepted, "dead_letter": dead}
    return out


@dataclass(frozen=True)
class NothingAccepted:
    """The shard-suite result of a run that accepted no record: one line that says so and where to look."""

    success: bool
    failures: list[str]

    def summary(self) -> str:
        return f"shard checks skipped: {self.failures[0]}"


def nothing_accepted(records_in: int, counts: dict[str, int], out) -> NothingAccepted:
    """Why a run wrote no data shard: ``0 of N accepted; see <out>/dead_letter/`` and its three top reasons.

    Example:
        >>> nothing_accepted(4, {"dead/reason/teacher/teacher_auth_error": 4}, "out/x").failures
        ['0 of 4 records accepted; see out/x/dead_letter/ (teacher/teacher_auth_error 4)']
    """
    reasons = sorted(
        ((v, k.removeprefix("dead/reason/")) for k, v in counts.items() if k.startswith("dead/reason/")),
        reverse=True,
    )
    top = ", ".join(f"{name} {n}" for n, name in reasons[:3])
    return NothingAccepted(
        False, [f"0 of {records_in} records accepted; see {out}/dead_letter/" + (f" ({top})" if top else "")]
    )


def teacher_totals(metrics: dict[str, float]) -> dict[str, Any]:
    """The teacher's request, retry, failure and cache-hit counts out of a run's metrics (``teacher_*``
    counters).

    Example:
        >>> totals = teacher_totals(
        ...     {"teacher_requests": 5, "teacher_failures/teacher_auth_error": 2, "other": 3}
        ... )
        >>> totals["requests"], totals["failures"], totals["cache_hits"]
        (5, {'teacher_auth_error': 2}, 0)
    """

    def get(name: str) -> int:
        return int(metrics.get(f"teacher_{name}", 0))

    def by_reason(kind: str) -> dict[str, int]:
        return {k.split("/", 1)[1]: int(v) for k, v in metrics.items() if k.startswith(f"teacher_{kind}/")}

    return {
        "requests": get("requests"),
        "preflight_requests": get("preflight_requests"),
        "retries": by_reason("retries"),
        "failures": by_reason("failures"),
        "cache_hits": get("cache_hits"),
        "reused_records": get("reused"),
    }


def metric_totals(result) -> dict[str, float]:
    """Committed counters and distribution sums of this project's namespace from a finished pipeline."""
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    except (NotImplementedError, AttributeError):
        return {}
    totals: Counter = Counter()
    for counter in query.get("counters", []):
        totals[counter.key.metric.name] += counter.committed or 0
    for dist in query.get("distributions", []):
        if dist.committed is not None:
            totals[f"{dist.key.metric.name}_sum"] += dist.committed.sum
            totals[f"{dist.key.metric.name}_count"] += dist.committed.count
    return dict(sorted(totals.items()))


def counter(name: str):
    """A counter in this project's namespace (for per-record facts inside DoFns)."""
    return Metrics.counter(NAMESPACE, name)


def distribution(name: str):
    """A distribution in this project's namespace (integers, e.g. milliseconds or tokens)."""
    return Metrics.distribution(NAMESPACE, name)
