"""Hygiene check: one test per reason, plus the repetition rule's edges."""

import pytest

from synthesis.records import SftRecord
from validators.config import HygieneCheckConfig
from validators.hygiene import check_hygiene, is_repetitive, leaked_paths, model_text_segments

GOOD = "<think>The crop shows a red star near the blue sign. So the answer is B.</think> <answer>B</answer>"


def _record(response=GOOD, question="Which shape?", answer="B", answer_type="choice", images=1):
    return SftRecord(
        id="t",
        images=(b"",) * images,
        question=question,
        image_size=(1, 1),
        response=response,
        answer=answer,
        answer_type=answer_type,
        family="crop",
    )


def test_good_record_passes():
    assert check_hygiene(_record()).passed


def test_too_long():
    assert check_hygiene(_record(), HygieneCheckConfig(max_chars=20)).reason == "hygiene_too_long"


def test_too_many_images():
    assert check_hygiene(_record(images=11)).reason == "hygiene_too_many_images"


def test_repetition_loop():
    looped = GOOD.replace("</think>", "Wait, let me zoom in again. " * 10 + "</think>")
    verdict = check_hygiene(_record(looped))
    assert verdict.reason == "hygiene_repetition" and "segment 0" in verdict.detail


def test_repetition_only_in_the_window():
    text = "Wait, let me zoom in again. " * 40 + " ".join(f"word{i}" for i in range(400))
    assert not is_repetitive(text, window=1000)
    assert is_repetitive(text, window=100000)


def test_repetition_rule_edges():
    assert not is_repetitive("abc " * 10)  # shorter than min_chars
    once = "The answer is APPLE because the label says so. The answer is APPLE because the label says so."
    assert not is_repetitive(once) and is_repetitive(once, min_repeats=2)


def test_code_and_outputs_are_not_scanned():
    code = (
        "<code>\n```python\n"
        + "print(1)\n" * 40
        + "```\n</code><sandbox_output>"
        + "1\n" * 40
        + "</sandbox_output>"
    )
    assert check_hygiene(_record(GOOD.replace("So the", code + "So the"))).passed
    assert model_text_segments("<think>a" + code + "b</think> <answer>c</answer>") == ["a", "b c"]


@pytest.mark.parametrize(
    "text",
    [
        'open("/home/alice/x.png")',
        "saved to /tmp/run/out.png",
        "C:\\Users\\bob\\img.jpg",
        "~/data/img.png",
        "/data/thyme/images/0001.jpg",
    ],
)
def test_leaked_paths(text):
    assert leaked_paths(text)
    assert check_hygiene(_record(GOOD.replace("So the", text + ". So the"))).reason == "hygiene_leaked_path"


@pytest.mark.parametrize(
    "text",
    [
        "/mnt/data/input/a.png",
        "/mnt/data/temp_processed_images/a_1.png",
        "1/2/3",
        "km/h",
        "https://example.org/a/b",
        "ratio 3 / 4",
        "and/or",
    ],
)
def test_not_leaked_paths(text):
    assert leaked_paths(text) == []


def test_path_in_question():
    assert check_hygiene(_record(question="Which? /Users/bob/x.png")).reason == "hygiene_leaked_path"


def test_answer_leak():
    leak = _record(question="What word is written? It says BASKET.", answer="basket", answer_type="text")
    assert check_hygiene(leak).reason == "hygiene_answer_leak"
    assert check_hygiene(leak, HygieneCheckConfig(check_answer_leak=False)).passed


def test_answer_leak_ignores_instructions_and_choices():
    q = "What word is written?\nPlease try to answer the question with short words or phrases if possible."
    assert check_hygiene(_record(question=q, answer="phrases", answer_type="text")).passed
    assert check_hygiene(_record(question="Options:\nA. red\nB. blue", answer="B")).passed
    assert check_hygiene(_record(question="What is 12 plus 3?", answer="15", answer_type="number")).passed


UMBRELLA_MC = (
    "What is the man holding?\nOptions:\nA. a blue umbrella\nB. a green umbrella\nC. a red umbrella\n"
    "Please select the correct answer from the options above."
)


@pytest.mark.parametrize(
    "question",
    [
        UMBRELLA_MC,
        "What is the man holding? (A) a blue umbrella (B) a green umbrella (C) a red umbrella",
        "What is he holding?\nA) a blue umbrella\n"
        "B) a green umbrella\nC) a red umbrella\nAnswer with the letter.",
    ],
)
@pytest.mark.parametrize(
    "answer", ["**C. a red umbrella**", "a red umbrella", "C", "(C)", "The answer is C."]
)
def test_a_multiple_choice_question_lists_its_answer_without_leaking_it(question, answer):
    """Imported records keep the answer as written and typed ``text``: the options contain it by design."""
    assert check_hygiene(_record(question=question, answer=answer, answer_type="text")).passed


def test_a_question_that_states_the_answer_outside_its_options_still_leaks():
    stated = (
        "Hint: the man holds a red umbrella.\nWhat is the man holding?\n"
        "A. a blue umbrella\nB. a green umbrella"
    )
    assert (
        check_hygiene(_record(question=stated, answer="a red umbrella", answer_type="text")).reason
        == "hygiene_answer_leak"
    )
    plain = "The sign reads **STOP**. What does it say?\nAnswer the question using a single word."
    assert (
        check_hygiene(_record(question=plain, answer="**stop**", answer_type="text")).reason
        == "hygiene_answer_leak"
    )


@pytest.mark.parametrize(
    "question, leaks",
    [
        ("What is the ratio of the sales of Cobalt to that of Camera? Round to 2 decimal places.", False),
        ("What is 2 + 3 - 3?", False),
        ("In 2 of the 5 boxes there is a star. How many boxes hold no star?", False),
        ("The total shown is 2. What is the total?", True),
    ],
)
def test_a_number_in_the_question_is_a_leak_only_when_stated_as_the_value(question, leaks):
    from synthesis.records import SftRecord
    from validators.hygiene import check_hygiene

    record = SftRecord(
        id="n",
        images=(b"",),
        question=question,
        image_size=(1, 1),
        response="<think>t</think> <answer>2</answer>",
        answer="2",
        answer_type="number",
        family="compute",
    )
    assert (check_hygiene(record).reason == "hygiene_answer_leak") is leaks
