"""One stage of a pipeline: a thin DoFn whose rejections and exceptions all become dead-letter rows.

Nothing is caught in order to drop it. A stage's DoFn yields its results on the main output and a
:class:`~synthesis.records.DeadLetter` on the ``rejected`` tag for every record it turns down; Beam's
``with_exception_handling`` routes anything the DoFn raises to a dead letter too, with the exception type as
the reason and the complete input as payload. So every record that enters a stage leaves it exactly once.
"""

from __future__ import annotations

import logging
from typing import Any

import apache_beam as beam
from apache_beam import pvalue

from synthesis.records import DeadLetter

__all__ = ["REJECTED", "RunStage", "UndeclaredTagNoise", "exception_letters", "reject"]

REJECTED = "rejected"


class UndeclaredTagNoise(logging.Filter):
    """Beam warns on every stage that the ``rejected`` tag is not in the DoFn's type hints; that is by
    design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Tags {'rejected'} requested in with_outputs()")


logging.getLogger().addFilter(UndeclaredTagNoise())


def reject(record_id: str, stage: str, reason: str, detail: str, payload: Any) -> pvalue.TaggedOutput:
    """A rejection to ``yield`` from a stage DoFn."""
    return pvalue.TaggedOutput(
        REJECTED, DeadLetter(id=record_id, stage=stage, reason=reason, detail=detail, payload=payload)
    )


def _record_id(element: Any) -> str:
    """The id of a stage input: a dict with ``id``, an object with ``.id``, or a ``(id, ...)`` tuple."""
    if isinstance(element, dict) and "id" in element:
        return str(element["id"])
    if hasattr(element, "id"):
        return str(element.id)
    if isinstance(element, tuple) and element and isinstance(element[0], str):
        return element[0]
    return "<unknown>"


def exception_letters(bad: tuple, stage: str) -> list[DeadLetter]:
    """Dead letters for an element whose DoFn raised (Beam gives ``(element, (type, repr, traceback))``).

    A batch (a list of records) gives one letter per record, so the accounting stays one row per input.

    Example:
        >>> [letter] = exception_letters(({"id": "t1"}, (ValueError, "ValueError('x')", ["tb"])), "teach")
        >>> (letter.id, letter.reason, letter.detail)
        ('t1', 'exception_ValueError', "ValueError('x')")
    """
    element, (exc_type, exc_repr, trace) = bad
    name = getattr(exc_type, "__name__", str(exc_type))
    tail = "".join(trace[-3:]) if isinstance(trace, list | tuple) else str(trace)
    items = element if isinstance(element, list) else [element]
    return [
        DeadLetter(
            id=_record_id(item),
            stage=stage,
            reason=f"exception_{name}",
            detail=exc_repr,
            payload={"input": item, "traceback": tail},
        )
        for item in items
    ]


class RunStage(beam.PTransform):
    """Apply a stage DoFn; returns ``(results, dead_letters)``.

    Args:
        stage (`str`): the stage name written into dead letters (``teacher``, ``validate``, ...).
        dofn (`beam.DoFn`): yields results, and :func:`reject` for records it turns down.
        side_inputs: keyword side inputs passed to the DoFn's ``process``.
    """

    def __init__(self, stage: str, dofn: beam.DoFn, **side_inputs):
        super().__init__()
        self._stage, self._dofn, self._side = stage, dofn, side_inputs

    def expand(self, pcoll):
        apply = (
            beam.ParDo(self._dofn, **self._side).with_outputs(REJECTED, main="ok").with_exception_handling()
        )
        out = pcoll | "Apply" >> apply
        raised = out.bad | "ExceptionToDeadLetter" >> beam.FlatMap(exception_letters, self._stage)
        dead = (getattr(out, REJECTED), raised) | "AllDeadLetters" >> beam.Flatten()
        return out.ok, dead
