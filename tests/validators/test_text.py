"""Text normalisation helpers, and options read from questions in every layout released questions use."""

import pytest

from validators.text import (
    choices_from_question,
    clean_answer,
    normalize_question,
    normalize_text,
    question_stem,
    strip_answer_prefix,
)


def test_normalize_text():
    assert normalize_text("The  Red, Square!") == "red square"
    assert normalize_text("An apple") == "apple"


def test_strip_answer_prefix():
    assert strip_answer_prefix("Answer: 12") == "12"
    assert strip_answer_prefix("The best answer is (C).") == "(C)"
    assert strip_answer_prefix("Best option: B") == "B"


def test_choices_from_question():
    q = (
        "Question: Which?\nOptions:\nA. red star\nB. blue\nC. green\n"
        "Please select the correct answer from the options above."
    )
    assert choices_from_question(q) == ("red star", "blue", "green")
    assert choices_from_question("What word?") == ()


def test_normalize_question():
    assert normalize_question("What is it?") == normalize_question("  what IS it ")


LAYOUTS = [
    "Question: Which colour?\nOptions:\nA. red\nB. blue\nC. green\n"
    "Please select the correct answer from the options above.",
    "Which colour?\n(A) red\n(B) blue\n(C) green",
    "Which colour?\nA: red\nB: blue\nC: green",
    "Which colour?\nA) red\nB) blue\nC) green\n"
    "Answer with the option's letter from the given choices directly.",
    "Which colour? Options: (A) red (B) blue (C) green",
    "Which colour? A. red B. blue C. green",
    "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end.\n"
    "Question: Which colour?\nChoices:\n(A) red\n(B) blue\n(C) green",
    "<image>\n这辆车是什么颜色？\n选项：\nA. red\nB. blue\nC. green\n请直接回答选项字母。",
    "Which colour?\nA. red  B. blue\nC. green",
    "Which colour?\n\nA. red\n\nB. blue\n\nC. green\n",
    "Which colour? （A）red （B）blue （C）green",
    "Which colour? A. red, B. blue, C. green. Please answer with the letter.",
]


@pytest.mark.parametrize("question", LAYOUTS)
def test_choices_in_every_layout(question):
    assert choices_from_question(question) == ("red", "blue", "green")


def test_up_to_eight_options():
    question = "Pick one:\n" + "\n".join(f"{letter}. option {letter}" for letter in "ABCDEFGH")
    assert choices_from_question(question) == tuple(f"option {letter}" for letter in "ABCDEFGH")


@pytest.mark.parametrize(
    "question",
    [
        "What is 5 x 3?",
        "Is the A. cat on the left of the dog?",
        "Which label, A or B, marks the cat?",
        "Point A: (1, 2), point B: (3, 4). How far apart are they?",
        "Which colour?\nA. red\nC. green",
        "Which colour?\nB. blue\nC. green",
        "Which colour?\nA. red\nSee the chart first.\nB. blue",
    ],
)
def test_not_multiple_choice(question):
    assert choices_from_question(question) == ()


def test_inline_options_keep_their_own_dots():
    assert choices_from_question("Which city? A. Washington D.C. B. Paris C. Rome") == (
        "Washington D.C.",
        "Paris",
        "Rome",
    )


def test_question_stem_drops_the_options():
    stem = question_stem("The car is parked. Which colour? (A) red (B) blue\nPlease answer with a letter.")
    assert "red" not in stem and "blue" not in stem and stem.startswith("The car is parked.")
    assert question_stem("What is 5 x 3?") == "What is 5 x 3?"


@pytest.mark.parametrize(
    "text, clean",
    [
        ("**C. red**", "C. red"),
        ("\\boxed{\\text{red}}", "red"),
        ("Final answer: 42.", "42"),
        ("*yes*", "yes"),
        ("`B`", "B"),
        ("<answer> C </answer>", "C"),
        ("答案：C", "C"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
    ],
)
def test_clean_answer(text, clean):
    assert clean_answer(text) == clean
