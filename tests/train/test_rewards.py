"""Reward components on crafted trajectories, and Thyme's gating of consistency on accuracy."""

import pytest

from synthesis import format as fmt
from train.rewards import accuracy_reward, combine, consistency_reward, format_reward, score

WEIGHTS = {"accuracy": 1.0, "format": 0.5, "consistency": 0.5}
CODE = fmt.render_code("print(3 * 4)")
GOOD = (
    f"<think>Compute it.{CODE}<sandbox_output>12</sandbox_output>So the answer is 12.</think>\n"
    "<answer>12</answer>"
)
WRONG = GOOD.replace("12", "13")  # consistent with its own (wrong) output
INCONSISTENT = GOOD.replace("So the answer is 12.", "So the answer is 11.")
BAD_FORMAT = GOOD.replace("</think>\n<answer>", "</think>\n\n<answer>")
NO_ANSWER = f"<think>Compute it.{CODE}<sandbox_output>12</sandbox_output>"


def _score(text, truth="12", kind="number"):
    total, parts = score([text], WEIGHTS, answer=[truth], answer_type=[kind], choices=[()], question=["q"])
    return total[0], {k: v[0] for k, v in parts.items()}


@pytest.mark.parametrize(
    ("text", "total", "parts"),
    [
        (GOOD, 2.0, {"accuracy": 1.0, "format": 1.0, "consistency": 1.0}),
        (INCONSISTENT, 1.5, {"accuracy": 1.0, "format": 1.0, "consistency": 0.0}),
        (WRONG, 0.5, {"accuracy": 0.0, "format": 1.0, "consistency": 1.0}),  # consistent but wrong: gated off
        (BAD_FORMAT, 1.0, {"accuracy": 1.0, "format": 0.0, "consistency": 0.0}),
        (NO_ANSWER, 0.0, {"accuracy": 0.0, "format": 0.0, "consistency": 0.0}),
    ],
)
def test_crafted_trajectories(text, total, parts):
    assert _score(text) == (total, parts)


def test_inconsistent_printed_output_is_caught():
    printed_other = GOOD.replace("<sandbox_output>12<", "<sandbox_output>14<").replace(
        "answer is 12", "result"
    )
    assert consistency_reward([printed_other], ["12"], ["number"]) == [0.0]


def test_choice_answers_match_letter_or_text():
    texts = [
        "<think>It is red.</think> <answer>B</answer>",
        "<think>t</think> <answer>red</answer>",
        "<think>t</think> <answer>A</answer>",
    ]
    assert accuracy_reward(texts, ["B"] * 3, ["choice"] * 3, [("blue", "red")] * 3) == [1.0, 1.0, 0.0]


def test_format_reward_is_the_strict_grammar():
    assert format_reward([GOOD, BAD_FORMAT, GOOD + " "]) == [1.0, 0.0, 0.0]


def test_none_means_not_applicable_in_the_sum():
    assert combine({"accuracy": [1.0], "format": [None]}, WEIGHTS) == [1.0]
