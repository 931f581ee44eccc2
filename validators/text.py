"""Text normalisation shared by the answer, consistency, hygiene and duplicates checks (pure functions).

Answers arrive in many dresses (``**C. red**``, ``\\boxed{42}``, ``Answer: yes``, ``$3.50$``):
:func:`clean_answer` undresses them once, so every check (and the RL reward) reads letters, numbers and words
from the same text. Options are read from the question in every layout released questions use (one per line or
inline, ``(A)``, ``A.``, ``A:``, ``A)``, with or without an ``Options:`` line), always as a run of consecutive
letters from A.
"""

from __future__ import annotations

import re
import string
import unicodedata

__all__ = [
    "choices_from_question",
    "clean_answer",
    "normalize_question",
    "normalize_text",
    "question_stem",
    "strip_answer_prefix",
]

LETTERS = "ABCDEFGH"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_PREFIXES = re.compile(
    r"^\s*(?:(?:so|thus|therefore|hence)\s*,?\s*)?(?:the\s+)?(?:best|correct|final|right)?\s*(?:answer|option|choice)"
    r"\s*(?:is|would be|should be|:)\s*:?\s*|^\s*best option\s*:\s*|^\s*答案\s*(?:是|为|:)\s*",
    re.IGNORECASE,
)
# full-width ASCII (Chinese punctuation such as "（A）" or "答案：C") as ASCII;
# the minus sign and no-break space too
_WIDE = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x2212: "-", 0xA0: " ", 0x3000: " "}
_ANSWER_TAGS = re.compile(r"</?answer>", re.IGNORECASE)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])|(?<!\w)__?(?=\S)(.+?)(?<=\S)__?(?!\w)")
_WRAPS = (
    ("$$", "$$"),
    ("$", "$"),
    ("\\(", "\\)"),
    ("\\[", "\\]"),
    ('"', '"'),
    ("'", "'"),
    ("“", "”"),
    ("‘", "’"),
)
# an option marker: "(A)" anywhere after a separator, "A." / "A:" / "A)" before a space, "A、" / "A．"
_MARKER = re.compile(r"(?<![^\s,;，；:：])(?:[(（]([A-H])[)）]|([A-H])(?:[.:)](?=\s)|[．：、]))")
_HEADER = re.compile(r"(?:[?？:：]|\b(?:options?|choices?)|选项)\s*$", re.IGNORECASE)
_TRAILER = re.compile(
    r"(?<=\S)\s+(?:Please|Answer with|Answer the|(?:Select|Choose) (?:the|one|an?)\b|请).*$", re.DOTALL
)


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


def _unbox(text: str) -> str:
    """The content of the last ``\\boxed{...}`` (braces balanced), or ``text`` when there is none."""
    starts = list(_BOX.finditer(text))
    if not starts:
        return text
    begin = end = starts[-1].end()
    depth = 1
    while end < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    return text[begin : end - 1] if depth == 0 else text


def _unwrap(text: str) -> str:
    for left, right in _WRAPS:
        inner = text[len(left) : -len(right)]
        if (
            len(text) > len(left) + len(right)
            and text.startswith(left)
            and text.endswith(right)
            and left not in inner
        ):
            return inner.strip()  # "$x$ and $y$" or "'a' or 'b'" are two spans, not one wrapped
    return text


def clean_answer(text: str) -> str:
    """An answer without its dress: answer tags, markdown emphasis, ``\\boxed``/``\\text``, math delimiters,
    quotes, lead-ins ("The answer is", "Answer:", "Final answer:") and a trailing full stop,
    until none is left.

    Every reader of answers (option letters, numbers, yes/no, text) starts here, so one form is never read
    two ways.

    Args:
        text (`str`): an answer as written (``<answer>`` content, a ``solution`` field, a stated conclusion).

    Example:
        >>> [
        ...     clean_answer(a)
        ...     for a in (
        ...         "**C. a red umbrella**",
        ...         "The answer is $\\\\boxed{C}$.",
        ...         "<answer> C </answer>",
        ...         "\\\\boxed{\\\\text{red}}",
        ...         "*yes*",
        ...         "Final answer: **42**.",
        ...         "$3.50",
        ...     )
        ... ]
        ['C. a red umbrella', 'C', 'C', 'red', 'yes', '42', '$3.50']
    """
    text, previous = text.translate(_WIDE), None
    while text != previous:
        previous = text
        text = _ANSWER_TAGS.sub(" ", text).replace("**", "").replace("`", "")
        text = _LATEX_TEXT.sub(r"\1", _unbox(text))
        text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
        text = strip_answer_prefix(_unwrap(text.strip()))
    return " ".join(text.split())


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end < 0 else end


def _starts_line(text: str, at: int) -> bool:
    return not text[text.rfind("\n", 0, at) + 1 : at].strip()


def _next_line_end(text: str, at: int) -> int:
    """End of the first non-blank line after the line holding ``at`` (where a one-per-line option may be)."""
    end = _line_end(text, at)
    while end < len(text) and not text[end + 1 : _line_end(text, end + 1)].strip():
        end = _line_end(text, end + 1)
    return _line_end(text, end + 1) if end < len(text) else end


def _run_from(question: str, marks: list[re.Match], first: int) -> list[re.Match]:
    """The markers A, B, C, ... from ``marks[first]``: each on the line of the previous one or starting
    the next."""
    run = [marks[first]]
    limit = _next_line_end(question, run[0].start())
    for mark in marks[first + 1 :]:
        if mark.start() > limit or len(run) == len(LETTERS):
            break
        same_line = "\n" not in question[run[-1].end() : mark.start()]
        placed = same_line or _starts_line(question, mark.start())
        if (mark.group(1) or mark.group(2)) == LETTERS[len(run)] and placed:
            run.append(mark)
            limit = _next_line_end(question, mark.start())
    return run


def _options(question: str) -> list[tuple[int, int, str]]:
    """``(start, end, text)`` of each option of the question's last run of lettered options, or ``[]``.

    A run needs at least A and B; its A starts a line or follows a question mark, colon or ``Options``
    header, unless the run has three or more letters (inline options in the middle of a sentence).
    """
    question = question.translate(_WIDE)
    marks = list(_MARKER.finditer(question))
    found: list[tuple[int, int, str]] = []
    for index, mark in enumerate(marks):
        if (mark.group(1) or mark.group(2)) != "A":
            continue
        run = _run_from(question, marks, index)
        placed = _starts_line(question, mark.start()) or _HEADER.search(
            question[question.rfind("\n", 0, mark.start()) + 1 : mark.start()]
        )
        if len(run) < 2 or not (placed or len(run) >= 3):
            continue
        options = []
        for here, after in zip(run, [*run[1:], None], strict=True):
            if after is not None and "\n" not in question[here.end() : after.start()]:
                end = after.start()  # the next option is on the same line
            else:
                end = _line_end(question, here.end())
            text = question[here.end() : end].strip()
            # "C. green. Please answer with the letter.": the sentence's stop goes too
            cut = _TRAILER.sub("", text)
            text = (cut.removesuffix(".") if cut != text else text).rstrip(",;，；").strip()
            options.append((here.start(), here.end() + len(question[here.end() : end].rstrip()), text))
        if all(text for _, _, text in options):
            found = options
    return found


def choices_from_question(question: str) -> tuple[str, ...]:
    """Option texts listed in the question, in letter order; ``()`` when it lists none.

    Args:
        question (`str`): a question, possibly with lettered options (one per line or inline, any
            marker style).

    Example:
        >>> choices_from_question("Question: Which?\\nOptions:\\nA. red\\nB. blue\\nPlease select.")
        ('red', 'blue')
        >>> choices_from_question("Which colour? Options: (A) red (B) blue (C) green")
        ('red', 'blue', 'green')
        >>> choices_from_question("What is 5 x 3?"), choices_from_question("Is the A. cat on the left?")
        ((), ())
    """
    return tuple(text for _, _, text in _options(question))


def question_stem(question: str) -> str:
    """The question without its list of options (what the question itself states).

    Example:
        >>> question_stem("Which colour is the car?\\nA. red\\nB. blue\\nAnswer with the letter.")
        'Which colour is the car?\\n\\nAnswer with the letter.'
    """
    options = _options(question)
    if not options:
        return question
    question = question.translate(_WIDE)
    return question[: options[0][0]] + question[options[-1][1] :]
