"""Real-style answer forms (released Thyme records, outside teachers): one reader for the importer, checks,
rewards."""

import pytest

from validators.answer import AnswerSpec, answers_match, choice_letter, read_answer, to_number
from validators.text import clean_answer

UMBRELLAS = ("a red umbrella", "a blue umbrella", "a green umbrella", "a yellow hat")
MULTI_LINE = (
    "What is the man holding?\nOptions:\nA. a red umbrella\nB. a blue umbrella\nC. a green umbrella\n"
    "D. a yellow hat\nPlease select the correct answer from the options above."
)
INLINE = "Which colour is the car? (A) red (B) blue (C) green"
CHINESE = "图中的汽车是什么颜色？\n选项：\nA: 红色\nB: 蓝色\nC: 绿色\n请直接回答选项字母。"

# (answer as written, the letter it selects among UMBRELLAS; None: selects none)
LETTER_FORMS = [
    ("**C. a green umbrella**", "C"),
    ("**C**", "C"),
    ("__C__", "C"),
    ("*C*", "C"),
    ("`C`", "C"),
    ("(C)", "C"),
    ("[C]", "C"),
    ("C.", "C"),
    ("C)", "C"),
    ("C: a green umbrella", "C"),
    ("Option C", "C"),
    ("option (C)", "C"),
    ("The answer is C", "C"),
    ("The correct answer is (C).", "C"),
    ("Answer: C", "C"),
    ("**Answer:** C", "C"),
    ("Final answer: **C. a green umbrella**", "C"),
    ("\\boxed{C}", "C"),
    ("$\\boxed{C}$", "C"),
    ("The answer is $\\boxed{\\text{C}}$.", "C"),
    ("<answer> C </answer>", "C"),
    ("a green umbrella", "C"),
    ("Green umbrella.", "C"),
    ("C is correct", "C"),
    ("Option C is the correct answer.", "C"),
    ("I choose (C).", "C"),
    ("The man is holding a green umbrella, so the answer is C.", "C"),
    ("A man stands under a green umbrella, therefore the answer is C.", "C"),
    ("C. The man holds a green umbrella, not the red one he had before", "C"),
    ("The answer is C, not B", "C"),
    ("答案是C", "C"),
    ("答案：（C）", "C"),
    ("**B. a green umbrella**", None),  # letter and text disagree
    ("B (a green umbrella)", None),
    ("The answer is C or B", None),  # hedges
    ("(C) or (B)", None),
    ("E", None),  # no option E
    ("a purple umbrella", None),
    ("It could be anything", None),
]


@pytest.mark.parametrize("answer, letter", LETTER_FORMS)
def test_answer_forms_select_their_option(answer, letter):
    assert choice_letter(answer, UMBRELLAS) == letter


# (answer as written, its value; None: not a number)
NUMBER_FORMS = [
    ("1,234", 1234.0),
    ("1,234,567", 1234567.0),
    ("12 cm", 12.0),
    ("12cm", 12.0),
    ("45°", 45.0),
    ("45 degrees", 45.0),
    ("$3.50", 3.5),
    ("12.5%", 12.5),
    ("\\boxed{42}", 42.0),
    ("**42**", 42.0),
    ("42.", 42.0),
    ("The answer is 7.", 7.0),
    ("−3", -3.0),
    ("$\\boxed{12.5\\%}$", 12.5),
    ("3.5 m/s", 3.5),
    ("1,5", None),
    ("2 or 3", None),
    ("twelve", None),
]


@pytest.mark.parametrize("answer, value", NUMBER_FORMS)
def test_number_forms(answer, value):
    assert to_number(answer) == value


# (predicted, truth, answer_type, choices, verdict)
VERDICTS = [
    ("**C. a green umbrella**", "C", "choice", UMBRELLAS, True),
    ("**B. a red umbrella**", "C", "choice", UMBRELLAS, False),
    ("The man is holding a green umbrella, so the answer is C.", "C", "choice", UMBRELLAS, True),
    ("The man is holding a green umbrella, so the answer is B.", "C", "choice", UMBRELLAS, False),
    ("C", "**C. a green umbrella**", "text", UMBRELLAS, True),  # an MC question typed as text
    ("B", "**C. a green umbrella**", "text", UMBRELLAS, False),
    ("**C**", "C", "choice", (), True),
    ("1,234", "1234", "number", (), True),
    ("**12 cm**", "12", "number", (), True),
    ("\\boxed{42}", "42", "number", (), True),
    ("12", "13", "number", (), False),
    ("1,5", "15", "number", (), False),
    ("Yes, the sign is red.", "yes", "yes_no", (), True),
    ("*yes*", "yes", "yes_no", (), True),
    ("Answer: no", "yes", "yes_no", (), False),
    ("\\boxed{\\text{red}}", "red", "text", (), True),
    ("**Basket**.", "basket", "text", (), True),
]


@pytest.mark.parametrize("predicted, truth, answer_type, choices, verdict", VERDICTS)
def test_verdicts(predicted, truth, answer_type, choices, verdict):
    assert answers_match(predicted, truth, answer_type, choices).passed is verdict


# (question, response answer, row's own answer/solution, the ground truth read)
READS = [
    (MULTI_LINE, "**C. a green umbrella**", None, ("C", "choice")),
    (MULTI_LINE, "a green umbrella", None, ("C", "choice")),
    (MULTI_LINE, "ignored", "<answer> C </answer>", ("C", "choice")),
    (INLINE, "The car is blue, so the answer is B.", None, ("B", "choice")),
    (INLINE, "whatever", "\\boxed{B}", ("B", "choice")),
    (CHINESE, "答案是A", None, ("A", "choice")),
    ("Is the sign red?", "Yes, the sign is red.", None, ("yes", "yes_no")),
    ("Is the sign red?", "*no*", None, ("no", "yes_no")),
    ("What does the sign say?", "No smoking", None, ("No smoking", "text")),
    ("How long is the pencil?", "**12 cm**", None, ("12", "number")),
    ("How many people live there?", "1,234", None, ("1234", "number")),
    ("What is the price?", "$3.50", None, ("3.50", "number")),
    ("What is 5 x 3?", "15", None, ("15", "number")),
    ("What word is written?", "\\boxed{\\text{red}}", None, ("red", "text")),
    ("Which landmark is this?", "The Eiffel Tower.", None, ("The Eiffel Tower", "text")),
]


@pytest.mark.parametrize("question, answer, given, expected", READS)
def test_read_answer(question, answer, given, expected):
    spec = read_answer(question, answer, given)
    assert (spec.answer, spec.answer_type) == expected
    assert (spec.choices != ()) is (spec.answer_type == "choice")


def test_read_answer_is_a_frozen_spec_with_the_options():
    spec = read_answer(MULTI_LINE, "C")
    assert spec == AnswerSpec("C", "choice", UMBRELLAS)
    with pytest.raises(AttributeError):
        spec.answer = "B"


def test_clean_answer_undresses_repeatedly():
    assert clean_answer("**Final answer:** $\\boxed{\\text{**C**}}$.") == "C"
    assert clean_answer("$3.50") == "$3.50"  # a price, not math delimiters
