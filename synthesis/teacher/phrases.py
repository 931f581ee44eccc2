"""Reasoning phrasings of the programmatic teacher, several per moment, picked by the task's seeded RNG.

Varied wording keeps a fine-tuned model from learning one sentence; the two response styles follow the
original (thyme.md §2.1): "The image is quite complex ... the code is as follows" for tool use and
"The problem is very simple and requires no additional processing" for direct answers.
"""

from __future__ import annotations

import random

__all__ = ["PHRASES", "say"]

PHRASES: dict[str, tuple[str, ...]] = {
    "crop_intro": (
        "The image is quite large and the {what} {where} is tiny, so it cannot be read reliably at this "
        "scale. I will crop the region around it and zoom in. The code is as follows:",
        "The question asks about a small {what} {where}. At the full-image scale it is only a few pixels, so "
        "I need to crop that area and enlarge it before reading it.",
        "The image is quite complex, and I need to perform some image operations. The {what} {where} is too "
        "small to make out, so I will crop around it and upscale the crop. The code is as follows:",
    ),
    "crop_seen": (
        "The zoomed crop shows the {what} clearly: {observation}.",
        "After cropping and enlarging, the {what} is legible: {observation}.",
        "In the enlarged region the {what} is easy to see: {observation}.",
    ),
    "wide_intro": (
        "The {what} {where} is very small. I will first crop a generous area around that part of the image "
        "to locate it.",
        "I need to find the small {what} {where}. Let me start with a wide crop of that area.",
    ),
    "wide_again": (
        "The first crop contains the {what}, but it is still too small to read. I will crop tighter around "
        "it and zoom in further.",
        "This region includes the {what}, yet the detail is still too fine. A tighter crop should make it "
        "legible.",
    ),
    "wrong_intro": (
        "Let me crop the area where I expect the {what} to be and zoom in.",
        "I will zoom into the region that seems to hold the {what}.",
    ),
    "wrong_again": (
        "This crop does not show the {what} the question asks about: it is a similar-looking item in the "
        "wrong place. The {what} is {where}, so I will crop that region instead.",
        "That region holds a look-alike, not the {what} {where}. Let me correct the crop and zoom into the "
        "right area.",
    ),
    "rotate_intro": (
        "The content of the image is rotated, which makes it hard to read. I will rotate the image back so "
        "that it is upright. The code is as follows:",
        "The image is quite complex: its content is turned at an angle. Rotating it upright first will make "
        "the {what} readable.",
    ),
    "rotate_seen": (
        "Now that the image is upright, the {what} reads clearly: {observation}.",
        "After the rotation the content is upright and the {what} is legible: {observation}.",
    ),
    "contrast_intro": (
        "The image is very {state}, and the text is hard to distinguish from the background. I will enhance "
        "it before reading. The code is as follows:",
        "The {what} is barely visible because the image is too {state}. Enhancing it should make the content "
        "readable.",
    ),
    "contrast_seen": (
        "After the enhancement the text stands out clearly: {observation}.",
        "The enhanced image is much easier to read: {observation}.",
    ),
    "compute_intro": (
        "The image is quite complex, and I need to perform some computational operations. From the {kind} I "
        "read the relevant values: {values}. I will compute the result with code.",
        "Reading the {kind}, the values needed are {values}. To avoid arithmetic slips I will compute the "
        "answer in code.",
    ),
    "compute_seen": (
        "The computation gives {output}.",
        "The code prints {output}, which is the required value.",
    ),
    "no_code": (
        "The problem is very simple and requires no additional processing. {observation}.",
        "This question can be answered directly from the image without any image operations. {observation}.",
    ),
    "conclude_choice": ("So the correct option is {answer}.", "Therefore the answer is {answer}."),
    "conclude_open": ("So the answer is {answer}.", "Therefore the answer is {answer}."),
}


def say(rng: random.Random, moment: str, **values: object) -> str:
    """One phrasing of ``moment`` with ``values`` filled in.

    Example:
        >>> say(random.Random(0), "conclude_open", answer="42")
        'Therefore the answer is 42.'
    """
    return rng.choice(PHRASES[moment]).format(**values)
