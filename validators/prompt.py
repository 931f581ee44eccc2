"""Checks of an RL prompt (image, question, answer): what GRPO needs before it can reward anything.

A prompt with an undecodable or tiny image, an empty question, an answer the reward cannot match (a choice
letter outside the options) or an answer written into the question would waste rollouts or teach nothing.
"""

from __future__ import annotations

import io
import re

from PIL import Image, UnidentifiedImageError

from synthesis.records import RlPrompt
from validators.verdict import Verdict

__all__ = ["check_prompt"]

_LETTERS = "ABCDEFGHIJ"


def _image_verdict(data: bytes, min_side: int) -> Verdict:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            size = img.size
    except (UnidentifiedImageError, OSError, ValueError) as err:
        return Verdict("prompt", False, "prompt_bad_image", f"image does not decode: {err}")
    if min(size) < min_side:
        return Verdict(
            "prompt", False, "prompt_image_too_small", f"image is {size[0]}x{size[1]}, min side {min_side}"
        )
    return Verdict("prompt", True)


def _leaks(question: str, answer: str, answer_type: str) -> bool:
    """Whether an open answer is spelled out in the question (choices list their options on purpose)."""
    if answer_type in ("choice", "yes_no") or len(answer.strip()) < 3:
        return False
    return re.search(rf"(?<!\w){re.escape(answer.strip())}(?!\w)", question, re.IGNORECASE) is not None


def check_prompt(prompt: RlPrompt, min_side: int = 64) -> Verdict:
    """The first problem of ``prompt``, or a passing verdict.

    Args:
        prompt (`RlPrompt`): the prompt to judge.
        min_side (`int`, *optional*, defaults to `64`): smallest acceptable image side.

    Example:
        >>> p = RlPrompt(
        ...     id="p",
        ...     image=b"junk",
        ...     question="What?",
        ...     image_size=(1, 1),
        ...     answer="4",
        ...     answer_type="number",
        ...     family="compute",
        ...     difficulty=0.0,
        ... )
        >>> check_prompt(p).reason
        'prompt_bad_image'
    """
    image = _image_verdict(prompt.image, min_side)
    if not image.passed:
        return image
    if not prompt.question.strip():
        return Verdict("prompt", False, "prompt_empty_question", "the question is empty")
    if not prompt.answer.strip():
        return Verdict("prompt", False, "prompt_empty_answer", "the ground-truth answer is empty")
    if prompt.answer_type == "choice" and prompt.answer not in _LETTERS[: len(prompt.choices)]:
        return Verdict(
            "prompt",
            False,
            "prompt_bad_choice",
            f"answer {prompt.answer!r} is not a letter of the {len(prompt.choices)} options",
        )
    if _leaks(prompt.question, prompt.answer, prompt.answer_type):
        return Verdict(
            "prompt", False, "prompt_answer_leak", f"the question contains the answer {prompt.answer!r}"
        )
    return Verdict("prompt", True)
