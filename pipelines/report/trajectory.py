"""A response as turns for the report: reasoning text, the code block, what the sandbox ran and returned.

Parsing happens here, once, with the project's own grammar (:mod:`synthesis.format`), so the page script only
lays out what it is given and a response the grammar rejects is shown raw with the reason.
"""

from __future__ import annotations

from typing import Any

from synthesis.format import Code, FormatError, SandboxOutput, Text, parse

__all__ = ["turns_of"]


def turns_of(response: str, executions: list[dict[str, Any]], input_images: int = 1) -> dict[str, Any]:
    """The turns of ``response``: ``{"turns": [...], "answer": str}``, or ``{"raw", "error"}`` when it does
    not parse.

    Each turn is ``{"text", "code", "output", "images", "exec"}``: ``images`` are positions in the record's
    image list (placeholders take the images after the ``input_images`` in order), ``exec`` the matching entry
    of ``executions`` (the i-th code block ran as the i-th execution) or None.

    Example:
        >>> code = "<code>\\n```python\\nx = 1\\n```\\n</code><sandbox_output><image></sandbox_output>"
        >>> turns_of(f"<think>Crop.{code}Done.</think>\\n<answer>A</answer>", [])["turns"][0]["images"]
        [1]
    """
    try:
        traj = parse(response)
    except FormatError as err:
        return {"raw": response, "error": str(err)}
    turns: list[dict[str, Any]] = []
    turn = _turn()
    next_image, blocks = input_images, 0
    for segment in traj.segments:
        if isinstance(segment, Text):
            turn["text"] = segment.text
        elif isinstance(segment, Code):
            turn["code"] = segment.code
            turn["exec"] = executions[blocks] if blocks < len(executions) else None
            blocks += 1
        elif isinstance(segment, SandboxOutput):
            turn["output"] = segment.text
            turn["images"] = list(range(next_image, next_image + segment.images))
            next_image += segment.images
            turns.append(turn)
            turn = _turn()
    if turn["text"]:
        turns.append(turn)
    return {"turns": turns, "answer": traj.answer}


def _turn() -> dict[str, Any]:
    return {"text": "", "code": None, "output": "", "images": [], "exec": None}
