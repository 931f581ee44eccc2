"""The Thyme protocol, rendered and parsed in one place: prompts, trajectories, grammar check, answers.

A complete assistant message (thyme.md §2.1) is ``<think>BODY</think>SEP<answer>ANSWER</answer>``: BODY is
free text with code blocks, each immediately followed by the sandbox's output; SEP is exactly one whitespace
character; nothing may follow ``</answer>``. :func:`check` lists every violation with its character offset
(the format reward and the format filter call it), :func:`parse` turns a valid message into a
:class:`Trajectory` and :func:`render` turns it back, byte for byte.

Decisions on points the reference leaves open (all strict; the agent loop produces exactly this form):

* Tags are the exact, case-sensitive strings below; tags are recognised anywhere, also inside code, sandbox
  output and the answer, so any protocol tag out of place is a violation (``format_nested_tag``,
  ``format_tag_outside_think``, duplicates).
* Nothing may precede ``<think>``. ``</code>`` must be immediately followed by ``<sandbox_output>``: the
  harness inserts it with no newline (§2.5), so even whitespace in between is a violation.
* A code block's content is ``WS "```python\\n" SOURCE "\\n```" WS`` (WS: any whitespace, kept verbatim so
  rendering is byte-exact). The fence language must be exactly ``python``; SOURCE must not be blank.
* A sandbox output holds either ``<image>`` placeholders only (no text, not even whitespace, between them)
  or text only (printed output or an error message); an empty output is allowed.
* The answer must not be blank. Placeholders map in order to the sample's images after the input image(s).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

from sandbox.layout import VIRTUAL_OUTPUT_DIR
from synthesis.prompts import SYSTEM_PROMPT, USER_TEMPLATE

__all__ = [
    "ANSWER_CLOSE",
    "ANSWER_OPEN",
    "CODE_CLOSE",
    "CODE_OPEN",
    "IMAGE_PLACEHOLDER",
    "IMAGE_SIZE_UNKNOWN",
    "NO_ANSWER",
    "OUTPUT_CLOSE",
    "OUTPUT_OPEN",
    "SYSTEM_PROMPT",
    "TAGS",
    "THINK_CLOSE",
    "THINK_OPEN",
    "VIOLATION_CODES",
    "VIRTUAL_OUTPUT_DIR",
    "Code",
    "FormatError",
    "ImageCountError",
    "SandboxOutput",
    "Segment",
    "Text",
    "Trajectory",
    "UserPrompt",
    "Violation",
    "check",
    "code_blocks",
    "count_images",
    "ends_with_code",
    "extract_answer",
    "has_answer",
    "image_slots",
    "last_code_block",
    "line_col",
    "parse",
    "parse_user_prompt",
    "render",
    "render_code",
    "render_sandbox_output",
    "render_user_prompt",
]

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
CODE_OPEN, CODE_CLOSE = "<code>", "</code>"
OUTPUT_OPEN, OUTPUT_CLOSE = "<sandbox_output>", "</sandbox_output>"
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
IMAGE_PLACEHOLDER = "<image>"
TAGS = (
    THINK_OPEN,
    THINK_CLOSE,
    CODE_OPEN,
    CODE_CLOSE,
    OUTPUT_OPEN,
    OUTPUT_CLOSE,
    ANSWER_OPEN,
    ANSWER_CLOSE,
    IMAGE_PLACEHOLDER,
)
NO_ANSWER = "No answer tag found in the final output."
IMAGE_SIZE_UNKNOWN = "Unable to determine (error reading image)"
VIOLATION_CODES = (  # every reason code check() can return
    "format_missing_think_open",
    "format_missing_think_close",
    "format_missing_answer_open",
    "format_missing_answer_close",
    "format_duplicate_think_open",
    "format_duplicate_think_close",
    "format_duplicate_answer_open",
    "format_duplicate_answer_close",
    "format_text_before_think",
    "format_tag_order",
    "format_text_between_think_and_answer",
    "format_separator_not_single_whitespace",
    "format_empty_answer",
    "format_text_after_answer",
    "format_tag_outside_think",
    "format_unmatched_code_close",
    "format_unmatched_sandbox_output_close",
    "format_image_outside_sandbox_output",
    "format_sandbox_output_without_code",
    "format_code_not_followed_by_sandbox_output",
    "format_whitespace_before_sandbox_output",
    "format_nested_tag",
    "format_unclosed_code",
    "format_unclosed_sandbox_output",
    "format_empty_code",
    "format_code_without_fence",
    "format_bad_fence_language",
    "format_code_missing_closing_fence",
    "format_mixed_images_and_text_in_output",
)

_USER_RE = re.compile(
    re.escape(USER_TEMPLATE)
    .replace(r"\{question\}", "(?P<question>.*)")
    .replace(r"\{path\}", "(?P<path>[^\n]*)")
    .replace(r"\{size\}", "(?P<size>[^\n]*)"),
    re.DOTALL,
)
_TAG_RE = re.compile("|".join(re.escape(t) for t in TAGS))
_FENCED_RE = re.compile(r"(\s*)```python\n(?:(.*)\n)?```(\s*)", re.DOTALL)
_WS1_RE = re.compile(r"\s")
_WS_RE = re.compile(r"\s*")
_ANSWER_RE = re.compile(re.escape(ANSWER_OPEN) + "(.*?)" + re.escape(ANSWER_CLOSE), re.DOTALL)
_BOXED = "\\boxed{"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Violation:
    """One grammar violation: a ``format_*`` reason code, a human message and a character offset."""

    code: str
    message: str
    position: int

    def describe(self, text: str) -> str:
        """``line:col: code: message`` for the ``text`` that was checked (1-based line and column)."""
        line, col = line_col(text, self.position)
        return f"{line}:{col}: {self.code}: {self.message}"


class FormatError(ValueError):
    """A text is not a valid complete trajectory; ``violations`` lists every reason."""

    def __init__(self, violations: Sequence[Violation]):
        self.violations = list(violations)
        shown = "; ".join(f"{v.code} at {v.position}" for v in self.violations[:5])
        more = f" (+{len(self.violations) - 5} more)" if len(self.violations) > 5 else ""
        super().__init__(f"invalid trajectory: {shown}{more}")


class ImageCountError(ValueError):
    """The number of ``<image>`` placeholders and the number of the sample's images disagree."""


@dataclass(frozen=True, slots=True)
class Text:
    """Free reasoning text of the think body (never empty, never adjacent to another ``Text``)."""

    text: str

    def render(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Code:
    """A code block: ``code`` is the Python source the sandbox runs.

    ``lead`` and ``trail`` are the whitespace between ``<code>`` and the opening fence and between the closing
    fence and ``</code>``, kept so that rendering is byte-exact.
    """

    code: str
    lead: str = "\n"
    trail: str = "\n"

    def render(self) -> str:
        return f"{CODE_OPEN}{self.lead}```python\n{self.code}\n```{self.trail}{CODE_CLOSE}"


@dataclass(frozen=True, slots=True)
class SandboxOutput:
    """What the harness inserted after a code block: ``images`` placeholders or ``text``, never both."""

    images: int = 0
    text: str = ""

    def __post_init__(self):
        if self.images < 0 or (self.images and self.text):
            raise ValueError(f"a sandbox output holds images or text, not both: images={self.images}")

    def render(self) -> str:
        return f"{OUTPUT_OPEN}{IMAGE_PLACEHOLDER * self.images or self.text}{OUTPUT_CLOSE}"


Segment = Text | Code | SandboxOutput


@dataclass(frozen=True, slots=True)
class Trajectory:
    """A complete assistant message: think body segments, the separator and the raw (unstripped) answer.

    The constructor checks the segment structure (each ``Code`` directly followed by a ``SandboxOutput``, no
    empty or adjacent ``Text``) and the separator; tags inside texts are only caught by ``check(render(t))``.
    """

    segments: tuple[Segment, ...]
    separator: str
    answer: str

    def __post_init__(self) -> None:
        if not _WS1_RE.fullmatch(self.separator):
            raise ValueError(f"separator must be one whitespace character, got {self.separator!r}")
        previous: Segment | None = None
        for segment in (*self.segments, None):
            if isinstance(previous, Code) != isinstance(segment, SandboxOutput):
                raise ValueError("every Code must be directly followed by a SandboxOutput, and only a Code")
            if isinstance(segment, Text) and (not segment.text or isinstance(previous, Text)):
                raise ValueError("Text segments must be non-empty and never adjacent")
            previous = segment


@dataclass(frozen=True, slots=True)
class UserPrompt:
    """The fields of a §2.3 user prompt; ``image_size`` is None when the file could not be read."""

    question: str
    image_path: str
    image_size: tuple[int, int] | None


def line_col(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of a character offset.

    Args:
        text (`str`): the text the offset points into.
        position (`int`): a character offset, ``0 <= position <= len(text)``.

    Example:
        >>> line_col("ab\\ncd", 4)
        (2, 2)
    """
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def render_user_prompt(question: str, image_path: str, image_size: tuple[int, int] | None) -> str:
    """The §2.3 user turn: ``<image>``, the question, image path and size, and the output-format block.

    Args:
        question (`str`): the question, already formatted with options or hints.
        image_path (`str`): the input image path as the model's code should open it (no newline).
        image_size (`tuple[int, int]` or `None`): the original file's (width, height); None when unreadable.

    Example:
        >>> lines = render_user_prompt("How many?", "/mnt/data/input/a.png", (640, 480)).splitlines()
        >>> lines[:3]
        ['<image>', 'How many?', '']
        >>> lines[3:5]
        ['### User Image Path:** "/mnt/data/input/a.png"', '### User Image Size:** "640x480"']
    """
    if "\n" in image_path:
        raise ValueError(f"image path must be one line: {image_path!r}")
    size = IMAGE_SIZE_UNKNOWN if image_size is None else f"{image_size[0]}x{image_size[1]}"
    return USER_TEMPLATE.format(question=question, path=image_path, size=size)


def parse_user_prompt(text: str) -> UserPrompt:
    """Invert :func:`render_user_prompt`; raises ValueError when ``text`` is not in the §2.3 layout.

    Args:
        text (`str`): a user prompt.

    Example:
        >>> parse_user_prompt(render_user_prompt("Q?", "/x/a.png", None))
        UserPrompt(question='Q?', image_path='/x/a.png', image_size=None)
    """
    match = _USER_RE.fullmatch(text)
    if match is None:
        raise ValueError("not a Thyme user prompt (thyme.md §2.3 layout)")
    size = match["size"]
    if size == IMAGE_SIZE_UNKNOWN:
        return UserPrompt(match["question"], match["path"], None)
    dims = re.fullmatch(r"(\d+)x(\d+)", size)
    if dims is None:
        raise ValueError(f"bad image size {size!r} in user prompt")
    return UserPrompt(match["question"], match["path"], (int(dims[1]), int(dims[2])))


def render_code(code: str) -> str:
    """A code block in the canonical layout ``<code>\\n```python\\n{code}\\n```\\n</code>``.

    Args:
        code (`str`): the Python source.

    Example:
        >>> render_code("print(1)")
        '<code>\\n```python\\nprint(1)\\n```\\n</code>'
    """
    return Code(code).render()


def render_sandbox_output(images: int, text: str) -> str:
    """What the agent loop appends after ``</code>``: ``<image>`` placeholders or text, no newline added.

    Args:
        images (`int`): number of returned images; when positive, ``text`` must be empty.
        text (`str`): printed output or error message when no image was returned.

    Example:
        >>> render_sandbox_output(2, "")
        '<sandbox_output><image><image></sandbox_output>'
    """
    return SandboxOutput(images, text).render()


def render(traj: Trajectory) -> str:
    """The assistant message of a trajectory, byte-exact inverse of :func:`parse`.

    Args:
        traj (`Trajectory`): the trajectory.

    Example:
        >>> render(Trajectory((Text("Easy."),), " ", "B"))
        '<think>Easy.</think> <answer>B</answer>'
    """
    body = "".join(segment.render() for segment in traj.segments)
    return f"{THINK_OPEN}{body}{THINK_CLOSE}{traj.separator}{ANSWER_OPEN}{traj.answer}{ANSWER_CLOSE}"


def parse(text: str) -> Trajectory:
    """Parse a complete assistant message; raises :class:`FormatError` with every violation otherwise.

    Args:
        text (`str`): the assistant message.

    Example:
        >>> parse(
        ...     "<think>a"
        ...     + render_code("print(2)")
        ...     + "<sandbox_output>2</sandbox_output></think>\\n<answer>2</answer>"
        ... ).segments[1:]
        (Code(code='print(2)', lead='\\n', trail='\\n'), SandboxOutput(images=0, text='2'))
    """
    traj, violations = _scan(text)
    if traj is None:
        raise FormatError(violations)
    return traj


def check(text: str) -> list[Violation]:
    """Every grammar violation of a complete assistant message, in order of position; empty when valid.

    Args:
        text (`str`): the assistant message (any string: this never raises).

    Example:
        >>> [(v.code, v.position) for v in check("<think>x</think>\\n\\n<answer>1</answer>")]
        [('format_separator_not_single_whitespace', 16)]
    """
    return _scan(text)[1]


def code_blocks(traj: Trajectory) -> list[str]:
    """The Python source of every code block, in order.

    Args:
        traj (`Trajectory`): the trajectory.

    Example:
        >>> code_blocks(Trajectory((Code("x = 1"), SandboxOutput()), "\\n", "1"))
        ['x = 1']
    """
    return [s.code for s in traj.segments if isinstance(s, Code)]


def count_images(traj: Trajectory) -> int:
    """Number of ``<image>`` placeholders the sandbox outputs of a trajectory hold.

    Args:
        traj (`Trajectory`): the trajectory.

    Example:
        >>> count_images(Trajectory((Code("c"), SandboxOutput(2)), "\\n", "1"))
        2
    """
    return sum(s.images for s in traj.segments if isinstance(s, SandboxOutput))


def image_slots(traj: Trajectory, images: Sequence[_T], input_images: int = 1) -> list[tuple[int, _T]]:
    """Pair each ``<image>`` placeholder of the trajectory with its image, in order.

    The sample's image list is ``[input image(s)..., first returned image, second, ...]``: the user prompt's
    ``<image>`` takes the first ``input_images`` entries and the sandbox placeholders take the rest.

    Args:
        traj (`Trajectory`): the trajectory.
        images (`Sequence`): the sample's images, input image(s) first.
        input_images (`int`, *optional*, defaults to `1`): how many images belong to the user prompt.

    Returns:
        ``(offset of the placeholder in render(traj), image)`` for every placeholder; raises
        :class:`ImageCountError` when the counts disagree.

    Example:
        >>> image_slots(Trajectory((Code("c"), SandboxOutput(1)), "\\n", "1"), ["orig", "crop"])
        [(53, 'crop')]
    """
    expected = input_images + count_images(traj)
    if len(images) != expected:
        raise ImageCountError(
            f"trajectory has {count_images(traj)} <image> placeholders plus {input_images} "
            f"input image(s), so {expected} images are needed; got {len(images)}"
        )
    text, offsets = render(traj), []
    position = text.find(IMAGE_PLACEHOLDER)
    while position != -1:
        offsets.append(position)
        position = text.find(IMAGE_PLACEHOLDER, position + len(IMAGE_PLACEHOLDER))
    return list(zip(offsets, images[input_images:], strict=True))


def last_code_block(text: str, strict: bool = False) -> str | None:
    """Python source of the last ``<code>...</code>`` block of a partial message, None when there is none.

    Args:
        text (`str`): the assistant message so far (what the model generated, stopping after ``</code>``).
        strict (`bool`, *optional*, defaults to `False`): only accept the strict fenced layout. Otherwise a
            malformed block is read like the original harness does (optional fence and ``python`` tag), so
            the model still gets its code run; :func:`check` flags the trajectory later.

    Example:
        >>> last_code_block("<think>a<code>```py\\nprint(1)```</code>")
        'print(1)'
    """
    close = text.rfind(CODE_CLOSE)
    start = text.rfind(CODE_OPEN, 0, close) if close != -1 else -1
    if start == -1:
        return None
    content = text[start + len(CODE_OPEN) : close]
    match = _FENCED_RE.fullmatch(content)
    if match is not None or strict:
        return match[2] if match is not None and match[2] and match[2].strip() else None
    code = re.sub(r"^```(?:python|py)?", "", content.strip(), flags=re.IGNORECASE)
    code = code.removesuffix("```").strip("\n")
    return code if code.strip() else None


def ends_with_code(text: str) -> bool:
    """Whether a generation stopped right after a code block the loop should run.

    Args:
        text (`str`): the assistant message so far.

    Example:
        >>> ends_with_code("<think>a" + render_code("print(1)")), ends_with_code("<think>a</code>")
        (True, False)
    """
    return text.endswith(CODE_CLOSE) and last_code_block(text) is not None


def has_answer(text: str) -> bool:
    """Whether the text contains a closing answer tag (what ends a rollout, as in the original harness).

    Args:
        text (`str`): a generated segment or a whole message.

    Example:
        >>> has_answer("so</think>\\n<answer>4</answer>"), has_answer("<think>hmm")
        (True, False)
    """
    return ANSWER_CLOSE in text


def extract_answer(text: str) -> str | None:
    """The final answer (§2.7): first ``<answer>`` content, stripped, reduced to the last ``\\boxed{}``.

    Args:
        text (`str`): the final assistant text.

    Returns:
        The answer, or None when there is no answer tag (callers report :data:`NO_ANSWER`). An unbalanced
        last ``\\boxed{`` leaves the stripped answer unchanged.

    Example:
        >>> extract_answer("<answer> so \\\\boxed{1} or \\\\boxed{\\\\frac{1}{2}} </answer>")
        '\\\\frac{1}{2}'
    """
    match = _ANSWER_RE.search(text)
    if match is None:
        return None
    answer = match[1].strip()
    start = answer.rfind(_BOXED)
    if start == -1:
        return answer
    depth, begin = 1, start + len(_BOXED)
    for i in range(begin, len(answer)):
        depth += {"{": 1, "}": -1}.get(answer[i], 0)
        if depth == 0:
            return answer[begin:i].strip()
    return answer


# --- the scanner: tokens, envelope, think body, code content ------------------------------------------------

_ENVELOPE = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
_ENVELOPE_NAMES = dict(
    zip(_ENVELOPE, ("think_open", "think_close", "answer_open", "answer_close"), strict=True)
)


@dataclass(slots=True)
class _Envelope:
    body: tuple[int, int]  # the think body span
    separator: str | None  # set when the envelope is valid
    answer: str | None


def _scan(text: str) -> tuple[Trajectory | None, list[Violation]]:
    tokens = [(m.start(), m[0]) for m in _TAG_RE.finditer(text)]
    out: list[Violation] = []
    env = _scan_envelope(text, tokens, out)
    start, end = env.body
    for pos, tag in tokens:
        if tag not in _ENVELOPE and not start <= pos < end:
            out.append(Violation("format_tag_outside_think", f"{tag} outside <think>...</think>", pos))
    body = [(pos, tag) for pos, tag in tokens if start <= pos < end and tag not in _ENVELOPE]
    segments = _scan_body(text, body, start, end, out)
    out.sort(key=lambda v: v.position)
    if out or env.separator is None or env.answer is None:
        return None, out
    return Trajectory(tuple(segments), env.separator, env.answer), out


def _scan_envelope(text: str, tokens: list[tuple[int, str]], out: list[Violation]) -> _Envelope:
    """Counts, order and surroundings of the four envelope tags; returns the think body span."""
    first: dict[str, int] = {}
    for pos, tag in tokens:
        if tag in first and tag in _ENVELOPE:
            out.append(Violation(f"format_duplicate_{_ENVELOPE_NAMES[tag]}", f"second {tag}", pos))
        first.setdefault(tag, pos)
    t0, t1, a0, a1 = (first.get(tag) for tag in _ENVELOPE)
    start = 0 if t0 is None else t0 + len(THINK_OPEN)
    end = min((p for p in (t1, a0, a1) if p is not None and p >= start), default=len(text))
    missing = {
        THINK_OPEN: 0,
        THINK_CLOSE: a0 if a0 is not None else len(text),
        ANSWER_OPEN: len(text) if t1 is None else t1 + len(THINK_CLOSE),
        ANSWER_CLOSE: len(text),
    }
    for tag, pos in missing.items():
        if tag not in first:
            out.append(Violation(f"format_missing_{_ENVELOPE_NAMES[tag]}", f"no {tag}", pos))
    if t0 is not None and t0 > 0:
        out.append(Violation("format_text_before_think", "the message must start with <think>", 0))
    present = [(first[tag], tag) for tag in _ENVELOPE if tag in first]
    disordered = [(p, tag) for (q, _), (p, tag) in pairwise(present) if p < q]
    for pos, tag in disordered:
        out.append(
            Violation("format_tag_order", f"{tag} out of order (<think></think><answer></answer>)", pos)
        )
    # four present tags means t1, a0 and a1 are all set; the None tests only tell the type checker so
    if len(present) < 4 or disordered or t1 is None or a0 is None or a1 is None:
        return _Envelope((start, end), None, None)
    return _Envelope(
        (start, end),
        _check_separator(text, t1 + len(THINK_CLOSE), a0, out),
        _check_answer(text, a0 + len(ANSWER_OPEN), a1, out),
    )


def _check_separator(text: str, start: int, end: int, out: list[Violation]) -> str:
    separator = text[start:end]
    if not _WS_RE.fullmatch(separator):
        out.append(
            Violation("format_text_between_think_and_answer", "text between </think> and <answer>", start)
        )
    elif not _WS1_RE.fullmatch(separator):
        out.append(
            Violation(
                "format_separator_not_single_whitespace",
                f"</think> and <answer> must be separated by one whitespace, got {separator!r}",
                start,
            )
        )
    return separator


def _check_answer(text: str, start: int, end: int, out: list[Violation]) -> str:
    if not text[start:end].strip():
        out.append(Violation("format_empty_answer", "the answer is empty", start))
    tail = end + len(ANSWER_CLOSE)
    if tail < len(text):
        out.append(Violation("format_text_after_answer", "nothing may follow </answer>", tail))
    return text[start:end]


_STRAY = {
    CODE_CLOSE: ("format_unmatched_code_close", "</code> without <code>"),
    OUTPUT_CLOSE: ("format_unmatched_sandbox_output_close", "</sandbox_output> without <sandbox_output>"),
    IMAGE_PLACEHOLDER: ("format_image_outside_sandbox_output", "<image> outside <sandbox_output>"),
}


def _scan_body(
    text: str, tokens: list[tuple[int, str]], start: int, end: int, out: list[Violation]
) -> list[Segment]:
    """Walk the body's tags: text, then code blocks each directly followed by a sandbox output."""
    segments: list[Segment] = []
    cursor, i = start, 0
    while i < len(tokens):
        pos, tag = tokens[i]
        if tag in _STRAY:
            out.append(Violation(*_STRAY[tag], pos))
            i += 1
            continue
        if pos > cursor:
            segments.append(Text(text[cursor:pos]))
        if tag == OUTPUT_OPEN:
            out.append(
                Violation("format_sandbox_output_without_code", "<sandbox_output> not after </code>", pos)
            )
        else:
            i, closed = _scan_code(text, tokens, i, out, segments)
            if closed is None and i == len(tokens):  # unclosed up to the end of the body
                cursor = end
                continue
            if closed is not None and not _followed_by_output(text, tokens, i, closed, out):
                cursor = closed
                continue
            # here tokens[i] is the <sandbox_output> of this block (or the one an unclosed block ran into)
        i, cursor = _scan_output(text, tokens, i, end, out, segments)
    if cursor < end:
        segments.append(Text(text[cursor:end]))
    return segments


def _followed_by_output(
    text: str, tokens: list[tuple[int, str]], i: int, cursor: int, out: list[Violation]
) -> bool:
    """Whether ``tokens[i]`` is the ``<sandbox_output>`` of the code block ending at ``cursor``."""
    if i == len(tokens) or tokens[i][1] != OUTPUT_OPEN:
        out.append(
            Violation(
                "format_code_not_followed_by_sandbox_output",
                "</code> must be directly followed by <sandbox_output>",
                cursor,
            )
        )
        return False
    gap = text[cursor : tokens[i][0]]
    if gap.isspace():
        out.append(
            Violation(
                "format_whitespace_before_sandbox_output",
                f"{gap!r} between </code> and <sandbox_output>",
                cursor,
            )
        )
    elif gap:
        out.append(
            Violation(
                "format_code_not_followed_by_sandbox_output",
                "text between </code> and <sandbox_output>",
                cursor,
            )
        )
    return True


def _container(
    tokens: list[tuple[int, str]], i: int, close: str, stop: str, out: list[Violation]
) -> tuple[int, int | None]:
    """Index and offset of the tag closing the container opened at ``tokens[i]``.

    Any other tag inside is nested, except ``<image>`` in a sandbox output; reaching ``stop`` (the opening
    tag of the other container) or the end means the container is unclosed: offset None, index of ``stop``.
    """
    for j in range(i + 1, len(tokens)):
        pos, tag = tokens[j]
        if tag == close:
            return j, pos
        if tag == stop:
            return j, None
        if not (tag == IMAGE_PLACEHOLDER and close == OUTPUT_CLOSE):
            out.append(Violation("format_nested_tag", f"{tag} inside {tokens[i][1]}", pos))
    return len(tokens), None


def _scan_code(
    text: str, tokens: list[tuple[int, str]], i: int, out: list[Violation], segments: list[Segment]
) -> tuple[int, int | None]:
    """A ``<code>`` block: returns (index of the next token, offset after ``</code>`` or None if unclosed)."""
    open_pos = tokens[i][0]
    j, close_pos = _container(tokens, i, CODE_CLOSE, OUTPUT_OPEN, out)
    if close_pos is None:
        out.append(Violation("format_unclosed_code", "<code> without </code>", open_pos))
        return j, None
    start = open_pos + len(CODE_OPEN)
    code = _fenced(text[start:close_pos], start, out)
    if code is not None:
        segments.append(code)
    return j + 1, close_pos + len(CODE_CLOSE)


def _fenced(content: str, at: int, out: list[Violation]) -> Code | None:
    """The code block content: ``WS "```python\\n" SOURCE "\\n```" WS`` with a non-blank SOURCE."""
    match = _FENCED_RE.fullmatch(content)
    if match is not None and match[2] and match[2].strip():
        return Code(match[2], match[1], match[3])
    leading_ws = _WS_RE.match(content)
    assert leading_ws is not None  # ``\s*`` matches at the start of every string
    lead = len(leading_ws[0])
    if match is not None or not content.strip():
        out.append(Violation("format_empty_code", "the code block holds no code", at + lead))
    elif not content.startswith("```", lead):
        out.append(
            Violation("format_code_without_fence", "code must be wrapped in ```python ... ```", at + lead)
        )
    elif not content.startswith("```python\n", lead):
        line = content[lead:].split("\n", 1)[0]
        out.append(
            Violation(
                "format_bad_fence_language", f"opening fence must be ```python, got {line!r}", at + lead + 3
            )
        )
    else:
        out.append(
            Violation(
                "format_code_missing_closing_fence", "no closing ``` line before </code>", at + len(content)
            )
        )
    return None


def _scan_output(
    text: str, tokens: list[tuple[int, str]], i: int, end: int, out: list[Violation], segments: list[Segment]
) -> tuple[int, int]:
    """A ``<sandbox_output>``: only placeholders or only text; returns (next token index, offset after it)."""
    open_pos = tokens[i][0]
    j, close_pos = _container(tokens, i, OUTPUT_CLOSE, CODE_OPEN, out)
    if close_pos is None:
        out.append(
            Violation(
                "format_unclosed_sandbox_output", "<sandbox_output> without </sandbox_output>", open_pos
            )
        )
        return j, end if j == len(tokens) else tokens[j][0]
    start = open_pos + len(OUTPUT_OPEN)
    images = [pos for pos, tag in tokens[i + 1 : j] if tag == IMAGE_PLACEHOLDER]
    bounds = [start, *(b for p in images for b in (p, p + len(IMAGE_PLACEHOLDER))), close_pos]
    stray = [a for a, b in zip(bounds[::2], bounds[1::2], strict=True) if b > a]
    if images and stray:
        out.append(
            Violation(
                "format_mixed_images_and_text_in_output", "<image> placeholders mixed with text", stray[0]
            )
        )
    else:
        segments.append(SandboxOutput(len(images), "" if images else text[start:close_pos]))
    return j + 1, close_pos + len(OUTPUT_CLOSE)
