"""Run statistics: counts computed from the pipeline's own outputs, plus timing and token metrics.

Counts that decide correctness (records in, accepted, dead-lettered, per family, per stage and reason, per
check) are computed from the PCollections themselves, so they are exact on every runner. Per-record costs
(sandbox CPU and wall time, teacher tokens) are Beam metrics, read from the result when the pipeline ends.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

__all__ = ["NAMESPACE", "CountFacts", "check_invariant", "counter", "dead_letter_facts", "distribution", "metric_totals",
           "record_facts"]

NAMESPACE = "thyme"


def record_facts(record) -> list[str]:
    """Count keys of an accepted SFT record: its family and each of its checks.

    Example:
        >>> from synthesis.records import Check, SftRecord
        >>> r = SftRecord("a", (b"",), "q", (1, 1), "r", "A", "choice", "crop", checks=(Check("format", True),))
        >>> record_facts(r)
        ['accepted', 'accepted/family/crop', 'check/format/passed']
    """
    facts = ["accepted", f"accepted/family/{record.family}"]
    facts += [f"check/{c.name}/{'passed' if c.passed else 'failed'}" for c in record.checks]
    return facts


def dead_letter_facts(letter) -> list[str]:
    """Count keys of a dead letter: its stage and its stage/reason.

    Example:
        >>> from synthesis.records import DeadLetter
        >>> dead_letter_facts(DeadLetter("a", "teacher", "exec_timeout", ""))
        ['dead', 'dead/stage/teacher', 'dead/reason/teacher/exec_timeout']
    """
    return ["dead", f"dead/stage/{letter.stage}", f"dead/reason/{letter.stage}/{letter.reason}"]


class CountFacts(beam.PTransform):
    """Count string facts into one ``{fact: count}`` dict (an empty input gives ``{}``)."""

    def expand(self, facts):
        return (facts
                | "Count" >> beam.combiners.Count.PerElement()
                | "ToDict" >> beam.combiners.ToDict()
                | "Sort" >> beam.Map(lambda d: dict(sorted(d.items()))))


def check_invariant(records_in: int, counts: dict[str, int], written: dict[str, int] | None = None) -> dict[str, Any]:
    """The accounting invariant of a run: every record in is accepted or dead-lettered, exactly once, and, given
    the rows the shards hold per folder (``written``), the data and dead-letter shards hold exactly those rows.

    Example:
        >>> check_invariant(3, {"accepted": 2, "dead": 1})["holds"]
        True
        >>> check_invariant(3, {"accepted": 2, "dead": 1}, {"data": 1, "dead_letter": 1})["holds"]
        False
    """
    accepted, dead = counts.get("accepted", 0), counts.get("dead", 0)
    out = {"records_in": records_in, "accepted": accepted, "dead_lettered": dead, "holds": records_in == accepted + dead}
    if written is not None:
        out["written"] = {"data": written.get("data", 0), "dead_letter": written.get("dead_letter", 0)}
        out["holds"] = out["holds"] and out["written"] == {"data": accepted, "dead_letter": dead}
    return out


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
