"""Text normalisation helpers."""

from validators.text import choices_from_question, normalize_question, normalize_text, strip_answer_prefix


def test_normalize_text():
    assert normalize_text("The  Red, Square!") == "red square"
    assert normalize_text("An apple") == "apple"


def test_strip_answer_prefix():
    assert strip_answer_prefix("Answer: 12") == "12"
    assert strip_answer_prefix("The best answer is (C).") == "(C)"
    assert strip_answer_prefix("Best option: B") == "B"


def test_choices_from_question():
    q = "Question: Which?\nOptions:\nA. red star\nB. blue\nC. green\nPlease select the correct answer from the options above."
    assert choices_from_question(q) == ("red star", "blue", "green")
    assert choices_from_question("What word?") == ()


def test_normalize_question():
    assert normalize_question("What is it?") == normalize_question("  what IS it ")
