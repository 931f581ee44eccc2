"""Pure text pieces of the released-data importer: the question's path block, path rewriting,
output comparison."""

from __future__ import annotations

import math
import re

from synthesis import format as fmt

__all__ = ["outputs_agree", "released_question", "rewrite_paths"]

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_NO_OUTPUT = re.compile(r"(Sandbox for .*: )?No output captured\.?", re.DOTALL)
_LOOSE_PATH = re.compile(r'### User Image Path:\*\* "([^"\n]*)"\n### User Image Size:\*\* "([^"\n]*)"')


def released_question(text: str) -> fmt.UserPrompt:
    """The question, path and size of a released record's question; raises ValueError when there is no block.

    The exact §2.3 layout is parsed with :func:`synthesis.format.parse_user_prompt`; failing that, the path
    and size lines are found anywhere and the question is the text before them
    (minus the leading ``<image>``).

    Args:
        text (`str`): the record's ``question``.

    Example:
        >>> released_question(
        ...     '<image>\\nQ?\\n\\n### User Image Path:** "/a/x.jpg"\\n### User Image Size:** "4x3"'
        ... )
        UserPrompt(question='Q?', image_path='/a/x.jpg', image_size=(4, 3))
    """
    try:
        return fmt.parse_user_prompt(text)
    except ValueError:
        match = _LOOSE_PATH.search(text)
        if match is None:
            raise ValueError("no '### User Image Path/Size' block in the question") from None
    dims = re.fullmatch(r"(\d+)x(\d+)", match[2])
    question = text[: match.start()].removeprefix(fmt.IMAGE_PLACEHOLDER).strip("\n")
    return fmt.UserPrompt(question, match[1], (int(dims[1]), int(dims[2])) if dims else None)


def rewrite_paths(traj: fmt.Trajectory, original_path: str, new_path: str) -> fmt.Trajectory:
    """Point a trajectory at ``new_path``: the exact path everywhere, and in code every string literal
    ending with the original file name (``"x.jpg"``, ``"/other/dir/x.jpg"``).

    Args:
        traj (`Trajectory`): the parsed response.
        original_path (`str`): the authors' absolute path of the input image.
        new_path (`str`): where the sandbox serves the input.

    Example:
        >>> t = fmt.Trajectory((fmt.Code("p = '/d/x.jpg'\\nq = 'b/x.jpg'"), fmt.SandboxOutput(1)), " ", "A")
        >>> rewrite_paths(t, "/a/x.jpg", "/in/x.jpg").segments[0].code
        "p = '/in/x.jpg'\\nq = '/in/x.jpg'"
    """
    name = original_path.rsplit("/", 1)[-1]

    def literal(match: re.Match) -> str:
        body = match[2]
        if body == name or body.endswith(("/" + name, "\\" + name)):
            return f"{match[1]}{new_path}{match[1]}"
        return match[0]

    def code(source: str) -> str:
        source = source.replace(original_path, new_path)
        for quote in ('"', "'"):
            source = re.sub(f"({quote})([^{quote}\\n]*){quote}", literal, source)
        return source

    segments = tuple(
        fmt.Code(code(s.code), s.lead, s.trail)
        if isinstance(s, fmt.Code)
        else fmt.Text(s.text.replace(original_path, new_path))
        if isinstance(s, fmt.Text)
        else s
        for s in traj.segments
    )
    return fmt.Trajectory(segments, traj.separator, traj.answer.replace(original_path, new_path))


def outputs_agree(claimed: str, printed: str, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    """Whether a record's text sandbox output matches what the code prints now.

    Numbers must agree within the tolerances, the rest after whitespace normalisation; an empty output and
    "No output captured." are the same thing.

    Args:
        claimed (`str`): the text inside the record's ``<sandbox_output>``.
        printed (`str`): the feedback of our run.
        rel_tol (`float`, *optional*, defaults to `1e-6`): relative tolerance for numbers.
        abs_tol (`float`, *optional*, defaults to `1e-6`): absolute tolerance for numbers.

    Example:
        >>> outputs_agree("area: 12.5", "area:  12.50000000"), outputs_agree("12", "13")
        (True, False)
    """
    if all(not t.strip() or _NO_OUTPUT.fullmatch(t.strip()) for t in (claimed, printed)):
        return True
    a, b = _NUMBER.findall(claimed), _NUMBER.findall(printed)
    if " ".join(_NUMBER.sub(" 0 ", claimed).split()) != " ".join(_NUMBER.sub(" 0 ", printed).split()):
        return False
    return len(a) == len(b) and all(
        math.isclose(float(x), float(y), rel_tol=rel_tol, abs_tol=abs_tol) for x, y in zip(a, b, strict=True)
    )
