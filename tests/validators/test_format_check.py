"""Format check: grammar violations become reason codes; placeholders must match the produced images."""

from synthesis.records import SftRecord
from validators.format_check import check_format

GOOD = (
    "<think>Crop it.<code>\n```python\nprint(1)\n```\n</code><sandbox_output><image></sandbox_output>"
    "Done.</think> <answer>B</answer>"
)


def _record(response=GOOD, images=2):
    return SftRecord(
        id="t",
        images=(b"",) * images,
        question="q",
        image_size=(1, 1),
        response=response,
        answer="B",
        answer_type="choice",
        family="crop",
    )


def test_good():
    assert check_format(_record()).passed


def test_first_violation_is_the_reason_and_detail_locates_it():
    verdict = check_format(_record(GOOD.replace("</think> <answer>", "</think>\n\n<answer>") + "!"))
    assert verdict.reason == "format_separator_not_single_whitespace"
    assert verdict.detail.startswith("5:61: format_separator") and verdict.detail.endswith("(+1 more)")


def test_image_count_mismatch():
    verdict = check_format(_record(images=3))
    assert (
        verdict.reason == "format_image_count_mismatch" and "1 <image> placeholders but 2" in verdict.detail
    )
