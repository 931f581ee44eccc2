"""Answer check: option letter/text, yes/no, numbers (math-verify without timeouts), normalised text."""

import threading

import pytest

from synthesis.records import SftRecord
from validators.answer import answers_match, check_answer, choice_letter, record_choices, to_number
from validators.config import AnswerCheckConfig

CHOICES = ("blue", "red", "green", "yellow")


@pytest.mark.parametrize(
    "predicted",
    [
        "B",
        "(B)",
        "B.",
        "B. red",
        "B) red",
        "red",
        "Red.",
        "Option B",
        "b",
        "The answer is B",
        "B (red)",
        "The correct option is: B.",
    ],
)
def test_choice_forms_all_select_b(predicted):
    assert answers_match(predicted, "B", "choice", CHOICES).passed


@pytest.mark.parametrize("predicted", ["A", "C. green", "B. blue", "purple", "E", "(D)"])
def test_other_choices_mismatch(predicted):
    assert answers_match(predicted, "B", "choice", CHOICES).reason == "answer_mismatch"


def test_choice_truth_may_be_option_text():
    assert answers_match("B", "red", "choice", CHOICES).passed


@pytest.mark.parametrize(
    "predicted, truth", [("yes", "yes"), ("Yes.", "yes"), ("True", "yes"), ("no, it is not", "no")]
)
def test_yes_no(predicted, truth):
    assert answers_match(predicted, truth, "yes_no").passed


def test_yes_no_mismatch():
    assert answers_match("no", "yes", "yes_no").reason == "answer_mismatch"


@pytest.mark.parametrize(
    "predicted, truth",
    [
        ("146", "146"),
        ("146.0", "146"),
        ("1,200", "1200"),
        ("2/3", "0.67"),
        ("0.667", "0.67"),
        ("12 cm", "12"),
        ("$3.50", "3.5"),
        ("\\frac{1}{2}", "0.5"),
        ("$\\frac{7}{2}$", "3.5"),
    ],
)
def test_numbers(predicted, truth):
    assert answers_match(predicted, truth, "number").passed


@pytest.mark.parametrize("predicted, truth", [("147", "146"), ("0.7", "0.67"), ("twelve", "12")])
def test_number_mismatch(predicted, truth):
    assert answers_match(predicted, truth, "number").reason == "answer_mismatch"


def test_math_verify_runs_off_the_main_thread():
    """math-verify's default signal timeouts raise in worker threads; the check disables them."""
    out = []
    thread = threading.Thread(target=lambda: out.append(answers_match("$\\frac{1}{4}$", "0.25", "number")))
    thread.start()
    thread.join()
    assert out[0].passed and out[0].detail in ("number", "math_verify")


def test_math_verify_can_be_switched_off():
    assert not answers_match(
        "$\\sqrt{4}$", "2", "number", cfg=AnswerCheckConfig(use_math_verify=False)
    ).passed
    assert answers_match("$\\sqrt{4}$", "2", "number").detail == "math_verify"


@pytest.mark.parametrize(
    "predicted, truth", [("The Eiffel Tower.", "eiffel tower"), ("ah-979", "AH-979"), ("  BASKET ", "basket")]
)
def test_text_normalisation(predicted, truth):
    assert answers_match(predicted, truth, "text").passed


def test_text_mismatch_and_empty():
    assert answers_match("basket", "bucket", "text").reason == "answer_mismatch"
    assert answers_match("  ", "bucket", "text").reason == "answer_missing"


def test_helpers():
    assert choice_letter("(c)", CHOICES) == "C"
    assert choice_letter("B. blue", CHOICES) is None
    assert to_number("50%") == 50.0 and to_number("1/0") is None


def _record(response, answer="BASKET", answer_type="text", question="What word?", params=None):
    return SftRecord(
        id="t",
        images=(b"",),
        question=question,
        image_size=(1, 1),
        response=response,
        answer=answer,
        answer_type=answer_type,
        family="crop",
        task_params=params or {},
    )


def test_check_answer_reasons():
    assert check_answer(_record("<think>x</think> <answer>basket</answer>")).passed
    assert check_answer(_record("<think>x</think> no answer")).reason == "answer_missing"
    assert check_answer(_record("<think>x</think> <answer>bucket</answer>")).reason == "answer_mismatch"


def test_choices_come_from_params_or_question():
    with_params = _record("", "A", "choice", params={"choices": ["x", "y"]})
    from_question = _record("", "A", "choice", question="Question: q\nOptions:\nA. x\nB. y\nPlease select.")
    assert record_choices(with_params) == record_choices(from_question) == ("x", "y")


class _Judge:
    def __init__(self, decision):
        self.decision, self.calls = decision, 0

    def correct(self, question, predicted, truth):
        self.calls += 1
        return self.decision

    def consistent(self, reasoning, answer):
        return self.decision


@pytest.mark.parametrize(
    "decision, reason", [(True, ""), (False, "answer_judge_rejected"), (None, "answer_judge_error")]
)
def test_judge_decides_free_form_answers_the_rules_reject(decision, reason):
    judge = _Judge(decision)
    record = _record("<think>x</think> <answer>a woven basket</answer>")
    verdict = check_answer(record, AnswerCheckConfig(use_judge=True), judge)
    assert verdict.reason == reason and judge.calls == 1


def test_judge_is_not_asked_when_rules_decide_or_type_is_closed():
    judge = _Judge(True)
    check_answer(
        _record("<think>x</think> <answer>basket</answer>"), AnswerCheckConfig(use_judge=True), judge
    )
    number = _record("<think>x</think> <answer>7</answer>", "8", "number")
    assert check_answer(number, AnswerCheckConfig(use_judge=True), judge).reason == "answer_mismatch"
    assert judge.calls == 0


def test_choices_come_from_inline_options_too():
    inline = _record("", "B", "choice", question="Which colour? Options: (A) x (B) y (C) z")
    assert record_choices(inline) == ("x", "y", "z")
    assert check_answer(
        _record("<think>t</think> <answer>**B. y**</answer>", "B", "choice", inline.question)
    ).passed
