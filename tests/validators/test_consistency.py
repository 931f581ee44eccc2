"""Consistency check: the last stated conclusion and the last printed number against the final answer."""

import pytest

from synthesis.records import SftRecord
from validators.consistency import check_consistency, last_conclusion, reasoning_tail

CODE = "<code>\n```python\nprint(2 * (24 + 49))\n```\n</code>"


def _record(think, answer, answer_type="number", choices=None):
    params = {"choices": choices} if choices else {}
    return SftRecord("t", (b"",), "q", (1, 1), f"<think>{think}</think> <answer>{answer}</answer>", answer, answer_type,
                     "compute", task_params=params)


def test_agreeing_reasoning_passes():
    think = f"Compute it.{CODE}<sandbox_output>146</sandbox_output>The code prints 146. Therefore the answer is 146."
    assert check_consistency(_record(think, "146")).passed


def test_reasoning_contradicted():
    verdict = check_consistency(_record("So the answer is 150.", "146"))
    assert verdict.reason == "consistency_reasoning_contradicted" and "150" in verdict.detail


def test_output_contradicted():
    think = f"Compute it.{CODE}<sandbox_output>150</sandbox_output>Hmm, I will go with my reading instead."
    assert check_consistency(_record(think, "146")).reason == "consistency_output_contradicted"


def test_choice_conclusions_compare_as_options():
    choices = ["blue", "red", "green"]
    assert check_consistency(_record("So the correct option is B (red).", "B", "choice", choices)).passed
    assert check_consistency(_record("Therefore the answer is red.", "B", "choice", choices)).passed
    assert check_consistency(_record("So the correct option is C (green).", "B", "choice", choices)).reason == \
        "consistency_reasoning_contradicted"


def test_only_the_last_conclusion_and_the_tail_count():
    early = "At first glance the answer is 12. " + "x " * 400 + "Re-reading the chart, the answer is 14."
    assert check_consistency(_record(early, "14")).passed
    assert reasoning_tail("<think>" + "a" * 600 + "</think> <answer>1</answer>", 500) == "a" * 500


@pytest.mark.parametrize("text, value", [("so the answer is 3.5.", "3.5"), ('the answer is "AH-979".', "AH-979"),
                                         ("The answer would be: yes\nmore", "yes"), ("no conclusion here", None)])
def test_last_conclusion(text, value):
    assert last_conclusion(text) == value


def test_no_conclusion_no_output_passes():
    assert check_consistency(_record("The sign is easy to read.", "STOP", "text")).passed
