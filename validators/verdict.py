"""The one result type of every record check: a verdict with a reason code.

A check never raises for bad data and never drops anything itself: it returns a :class:`Verdict` saying
which check it is, whether the record passed, a snake_case reason code prefixed by the check family
(``exec_timeout``, ``answer_mismatch``; empty when passed) and a short human-readable detail. The
pipeline stores verdicts as :class:`synthesis.records.Check` rows in ``SftRecord.checks``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from synthesis.records import Check

__all__ = ["Verdict", "accepted", "fail", "first_failure", "ok", "to_checks"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check on one record.

    Args:
        check (`str`): the check family, e.g. ``"answer"``.
        passed (`bool`): whether the record passed this check.
        reason (`str`, *optional*, defaults to `""`): snake_case reason code prefixed by the family; ``""``
            when passed.
        detail (`str`, *optional*, defaults to `""`): a short explanation (the values that disagreed, ...).

    Example:
        >>> Verdict("answer", False, "answer_mismatch", "'B' vs 'C'").to_check().reason
        'answer_mismatch'
    """

    check: str
    passed: bool
    reason: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        if self.passed and self.reason:
            raise ValueError(f"a passed verdict has no reason code, got {self.reason!r}")
        if not self.passed and not self.reason.startswith(f"{self.check}_"):
            raise ValueError(f"reason {self.reason!r} must be prefixed by the check family '{self.check}_'")

    def to_check(self) -> Check:
        """This verdict as the :class:`~synthesis.records.Check` row stored in a record."""
        return Check(name=self.check, passed=self.passed, reason=self.reason, detail=self.detail)


def ok(check: str, detail: str = "") -> Verdict:
    """A passing verdict.

    Example:
        >>> ok("format").passed
        True
    """
    return Verdict(check, True, "", detail)


def fail(check: str, reason: str, detail: str = "") -> Verdict:
    """A failing verdict; ``reason`` is given without the family prefix.

    Example:
        >>> fail("exec", "timeout", "block 1").reason
        'exec_timeout'
    """
    return Verdict(check, False, f"{check}_{reason}", detail)


def to_checks(verdicts: Iterable[Verdict]) -> tuple[Check, ...]:
    """Verdicts as the ``checks`` tuple of an :class:`~synthesis.records.SftRecord`.

    Example:
        >>> to_checks([ok("format")])
        (Check(name='format', passed=True, reason='', detail=''),)
    """
    return tuple(v.to_check() for v in verdicts)


def accepted(verdicts: Iterable[Verdict]) -> bool:
    """True when every verdict passed.

    Example:
        >>> accepted([ok("format"), fail("answer", "mismatch")])
        False
    """
    return all(v.passed for v in verdicts)


def first_failure(verdicts: Iterable[Verdict]) -> Verdict | None:
    """The first failing verdict in check order, or None when all passed.

    Example:
        >>> first_failure([ok("format"), fail("answer", "mismatch")]).reason
        'answer_mismatch'
    """
    return next((v for v in verdicts if not v.passed), None)
