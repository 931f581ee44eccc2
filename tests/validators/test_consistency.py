"""Consistency check: the last stated conclusion and the last printed number against the final answer."""

import pytest

from synthesis.records import SftRecord
from validators.consistency import check_consistency, last_conclusion, reasoning_tail

CODE = "<code>\n```python\nprint(2 * (24 + 49))\n```\n</code>"


def _record(think, answer, answer_type="number", choices=None):
    params = {"choices": choices} if choices else {}
    return SftRecord(
        id="t",
        images=(b"",),
        question="q",
        image_size=(1, 1),
        response=f"<think>{think}</think> <answer>{answer}</answer>",
        answer=answer,
        answer_type=answer_type,
        family="compute",
        task_params=params,
    )


def test_agreeing_reasoning_passes():
    think = (
        f"Compute it.{CODE}<sandbox_output>146</sandbox_output>"
        "The code prints 146. Therefore the answer is 146."
    )
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
    assert (
        check_consistency(_record("So the correct option is C (green).", "B", "choice", choices)).reason
        == "consistency_reasoning_contradicted"
    )


def test_only_the_last_conclusion_and_the_tail_count():
    early = "At first glance the answer is 12. " + "x " * 400 + "Re-reading the chart, the answer is 14."
    assert check_consistency(_record(early, "14")).passed
    assert reasoning_tail("<think>" + "a" * 600 + "</think> <answer>1</answer>", 500) == "a" * 500


@pytest.mark.parametrize(
    "text, value",
    [
        ("so the answer is 3.5.", "3.5"),
        ('the answer is "AH-979".', "AH-979"),
        ("The answer would be: yes\nmore", "yes"),
        ("no conclusion here", None),
    ],
)
def test_last_conclusion(text, value):
    assert last_conclusion(text) == value


def test_no_conclusion_no_output_passes():
    assert check_consistency(_record("The sign is easy to read.", "STOP", "text")).passed


UMBRELLA_MC = (
    "What is the man holding?\nOptions:\nA. a blue umbrella\nB. a green umbrella\nC. a red umbrella\n"
    "Please select the correct answer from the options above."
)


def _imported(think, answer, truth, answer_type, question=UMBRELLA_MC):
    return SftRecord(
        id="t",
        images=(b"",),
        question=question,
        image_size=(1, 1),
        response=f"<think>{think}</think> <answer>{answer}</answer>",
        answer=truth,
        answer_type=answer_type,
        family="imported",
    )


@pytest.mark.parametrize("truth, answer_type", [("C", "choice"), ("**C. a red umbrella**", "text")])
def test_a_concluded_letter_agrees_with_the_written_out_option(truth, answer_type):
    agree = _imported(
        "The umbrella in the crop is red, so the answer is C.", "**C. a red umbrella**", truth, answer_type
    )
    assert check_consistency(agree).passed
    disagree = _imported(
        "The umbrella in the crop is green, so the answer is B.", "**C. a red umbrella**", truth, answer_type
    )
    verdict = check_consistency(disagree)
    assert verdict.reason == "consistency_reasoning_contradicted" and "'B'" in verdict.detail


def test_yes_no_sentences_compare_as_yes_no():
    question = "Is the sign red?"
    sentence = "Yes, the sign is red."
    assert check_consistency(_imported("So the answer is yes.", sentence, sentence, "text", question)).passed
    assert not check_consistency(
        _imported("So the answer is no.", "Yes, the sign is red.", "yes", "yes_no", question)
    ).passed


def test_answer_rounded_from_a_widened_print_is_consistent():
    from synthesis.records import SftRecord
    from validators.consistency import check_consistency

    def record(answer):
        response = (
            "<think>Compute.<code>\n```python\nprint(f'{2 * 3.14159265:.2f}')\n```\n</code>"
            f"<sandbox_output>6.28318530</sandbox_output>So it is {answer}.</think> <answer>{answer}</answer>"
        )
        return SftRecord(
            id="x",
            images=(b"",),
            question="q",
            image_size=(1, 1),
            response=response,
            answer=answer,
            answer_type="number",
            family="compute",
        )

    assert check_consistency(record("6.28")).passed and check_consistency(record("6.283")).passed
    assert check_consistency(record("6.21")).reason == "consistency_output_contradicted"
