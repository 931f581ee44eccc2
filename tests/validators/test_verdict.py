"""Verdicts: reason codes are prefixed by their family, empty when passed; conversion to record checks."""

import pytest

from synthesis.records import Check
from validators.verdict import Verdict, accepted, fail, first_failure, ok, to_checks


def test_reason_rules():
    with pytest.raises(ValueError, match="prefixed"):
        Verdict("answer", False, "mismatch")
    with pytest.raises(ValueError, match="no reason"):
        Verdict("answer", True, "answer_mismatch")


def test_helpers_and_conversion():
    verdicts = [ok("format"), fail("exec", "timeout", "block 0"), fail("answer", "mismatch")]
    assert to_checks(verdicts)[1] == Check(name="exec", passed=False, reason="exec_timeout", detail="block 0")
    assert not accepted(verdicts) and first_failure(verdicts).reason == "exec_timeout"
    assert accepted([ok("format")]) and first_failure([ok("format")]) is None
