"""Text normalisation shared by the answer, consistency, hygiene and duplicates checks (pure functions)."""

from __future__ import annotations

import re
import string
import unicodedata

__all__ = ["choices_from_question", "normalize_question", "normalize_text", "strip_answer_prefix"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_PREFIXES = re.compile(
    r"^\s*(?:the\s+)?(?:best|correct|final)?\s*(?:answer|option)\s*(?:is|:)\s*:?\s*|^\s*best option\s*:\s*",
    re.IGNORECASE,
)
_OPTION = re.compile(r"^\s*([A-H])[.)]\s+(.+?)\s*$")


def normalize_text(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD-style answer normalisation).

    Args:
        text (`str`): an answer or phrase.

    Example:
        >>> normalize_text("  The Red-Square. ")
        'red square'
    """
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def normalize_question(question: str) -> str:
    """A question reduced for duplicate detection: case-folded, punctuation-free, whitespace collapsed.

    Args:
        question (`str`): the raw question text.

    Example:
        >>> normalize_question("What  colour is it?\\n") == normalize_question("what colour is it")
        True
    """
    text = unicodedata.normalize("NFKC", question).casefold().translate(_PUNCT)
    return " ".join(text.split())


def strip_answer_prefix(answer: str) -> str:
    """Drop lead-ins such as "The answer is", "Answer:", "Best option:" and a trailing full stop.

    Args:
        answer (`str`): the text inside ``<answer>``.

    Example:
        >>> strip_answer_prefix("The correct answer is: B.")
        'B'
        >>> strip_answer_prefix("3.5")
        '3.5'
    """
    text = _PREFIXES.sub("", answer.strip(), count=1).strip()
    return text[:-1].rstrip() if text.endswith(".") else text


def choices_from_question(question: str) -> tuple[str, ...]:
    """Option texts listed as ``A. ...``, ``B. ...`` lines after an ``Options:`` line, in order.

    Args:
        question (`str`): a question formatted with lettered options.

    Example:
        >>> choices_from_question("Question: Which?\\nOptions:\\nA. red\\nB. blue\\nPlease select.")
        ('red', 'blue')
    """
    lines = question.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.strip().lower() == "options:"), 0)
    found: list[str] = []
    for line in lines[start:]:
        match = _OPTION.match(line)
        if match and match.group(1) == "ABCDEFGH"[len(found)]:
            found.append(match.group(2))
        elif found:
            break
    return tuple(found)
