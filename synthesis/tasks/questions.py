"""Question formatting (as Thyme's evaluation prompt builder does) and answer normalisation."""

from __future__ import annotations

import math

__all__ = ["LETTERS", "format_choice", "format_number", "format_open", "format_yes_no"]

LETTERS = "ABCDEFGH"


def format_choice(question: str, options: list[str] | tuple[str, ...]) -> str:
    """Multiple-choice text: ``Question:``, lettered ``Options:`` and the selection instruction.

    Example:
        >>> print(format_choice("Which shape?", ["star", "circle"]))
        Question: Which shape?
        Options:
        A. star
        B. circle
        Please select the correct answer from the options above.
    """
    lines = [f"Question: {question}", "Options:"]
    lines += [f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options)]
    lines.append("Please select the correct answer from the options above.")
    return "\n".join(lines)


def format_open(question: str) -> str:
    """Open (VQA-style) question with the short-answer instruction.

    Example:
        >>> format_open("What word is shown?")
        'What word is shown?\\nPlease try to answer the question with short words or phrases if possible.'
    """
    return f"{question}\nPlease try to answer the question with short words or phrases if possible."


def format_yes_no(question: str) -> str:
    """Yes/no question with the yes/no instruction.

    Example:
        >>> format_yes_no("Is there a star?")
        'Is there a star? Please answer yes or no.'
    """
    return f"{question} Please answer yes or no."


def format_number(value: float, decimals: int = 2) -> str:
    """Canonical numeric answer: an integer when integral, else rounded to ``decimals``
    without trailing zeros.

    Args:
        value (`float`): the exact result.
        decimals (`int`, *optional*, defaults to `2`): decimals kept for non-integers.

    Example:
        >>> format_number(12.0), format_number(2 / 3), format_number(2.5), format_number(-0.0)
        ('12', '0.67', '2.5', '0')
    """
    if not math.isfinite(value):
        raise ValueError(f"answer must be finite, got {value}")
    rounded = round(value, decimals)
    if abs(rounded - round(rounded)) < 10 ** -(decimals + 3):
        return str(int(round(rounded)))
    return f"{rounded:.{decimals}f}".rstrip("0").rstrip(".")
