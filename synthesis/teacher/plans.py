"""What the programmatic teacher will write for a task: its rounds of reasoning + code, and its conclusion.

A :class:`Script` is decided from the task alone (its known target, angle, factor or expression) and a RNG
seeded by the task, so the same task always gets the same trajectory. The conclusion may quote the sandbox's
printed output (``{output}``), which the policy fills in from the real execution.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from synthesis.tasks import Task
from synthesis.teacher.code import compute_code, contrast_code, crop_code, rotate_code
from synthesis.teacher.phrases import say

__all__ = ["Round", "Script", "plan_script", "task_rng"]


@dataclass(frozen=True, slots=True)
class Round:
    """Reasoning text followed by one code block."""

    text: str
    code: str


@dataclass(frozen=True, slots=True)
class Script:
    """A whole trajectory before execution: rounds of code, then a conclusion and the answer."""

    rounds: tuple[Round, ...]
    conclusion: str  # may contain "{output}": the text the last block printed
    answer: str
    separator: str  # the single whitespace between </think> and <answer>


def task_rng(task: Task, salt: str = "teacher") -> random.Random:
    """A RNG seeded by the task id, independent of the generator's own streams.

    Example:
        >>> from synthesis.tasks import Task
        >>> t = Task("x", "no_code", 0, b"", "png", 1, 1, "q", "a", "text")
        >>> task_rng(t).random() == task_rng(t).random()
        True
    """
    digest = hashlib.sha256(f"{salt}:{task.id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _what(params: dict) -> str:
    kind = params.get("target_kind", "")
    if kind == "object":
        return (
            f"{params['shape']}"
            if params.get("question_mode") == "ask_color"
            else f"{params['color']} object"
        )
    return {"text": "text", "digits": "number", "sign": "sign"}.get(kind, "target")


def _observation(task: Task) -> str:
    p = task.params
    if p.get("target_kind") == "object":
        return f"it is a {p['color']} {p['shape']}"
    if "content" in p and task.family in ("crop", "multi_round", "contrast"):
        return f'it reads "{p["content"]}"'
    if task.family == "rotate":
        return f'the answer is "{p["content"]}"'
    return f"the answer is {task.answer}"


def _conclusion(rng: random.Random, task: Task) -> str:
    if task.answer_type == "choice":
        letter = task.answer
        text = task.choices[ord(letter) - ord("A")]
        return say(rng, "conclude_choice", answer=f"{letter} ({text})")
    return say(rng, "conclude_open", answer=task.answer)


def _crop_rounds(rng: random.Random, task: Task, path: str) -> list[Round]:
    p, what = task.params, _what(task.params)
    box, zoom = tuple(p["crop_box"]), int(p.get("zoom", 2))
    if task.family == "crop":
        return [
            Round(
                say(rng, "crop_intro", what=what, where=p["position"]),
                crop_code(rng, path, box, zoom, f"Region around the {what} {p['position']}"),
            )
        ]
    intro, again = ("wide_intro", "wide_again") if p["mode"] == "zoom_in" else ("wrong_intro", "wrong_again")
    first = tuple(p["first_box"])
    return [
        Round(
            say(rng, intro, what=what, where=p["position"]),
            crop_code(rng, path, first, 1 if p["mode"] == "zoom_in" else zoom, f"First look at the {what}"),
        ),
        Round(
            say(rng, again, what=what, where=p["position"]),
            crop_code(rng, path, box, zoom, f"Tighter crop around the {what} {p['position']}"),
        ),
    ]


def _rounds(rng: random.Random, task: Task, path: str) -> list[Round]:
    p = task.params
    if task.family in ("crop", "multi_round"):
        return _crop_rounds(rng, task, path)
    if task.family == "rotate":
        return [Round(say(rng, "rotate_intro", what="content"), rotate_code(rng, path, int(p["correction"])))]
    if task.family == "contrast":
        state = "washed-out" if p["degradation"]["kind"] == "low_contrast" else "dark"
        fix = p["fix"]
        return [
            Round(
                say(rng, "contrast_intro", what="text", state=state),
                contrast_code(rng, path, fix["enhancer"], float(fix["factor"])),
            )
        ]
    if task.family == "compute":
        values = ", ".join(f"{k} = {p['values'][k]}" for k in p["used"])
        kind = {"bar_chart": "bar chart", "figure": "figure"}.get(p["kind"], p["kind"])
        return [
            Round(
                say(rng, "compute_intro", kind=kind, values=values),
                compute_code(p["variables"], p["formula"], f"{p['operation']} of the values"),
            )
        ]
    return []


def plan_script(task: Task, image_path: str) -> Script:
    """The script for ``task``, whose input image the sandbox shows at ``image_path``.

    Args:
        task (`Task`): a generated task with its known answer and params.
        image_path (`str`): the path of the input image inside the sandbox (also given in the user prompt).
    """
    rng = task_rng(task)
    rounds = _rounds(rng, task, image_path)
    obs = _observation(task)
    if not rounds:
        seen = say(rng, "no_code", observation=obs[0].upper() + obs[1:])
    elif task.family == "compute":
        seen = say(rng, "compute_seen", output="{output}")
    else:
        moment = {"rotate": "rotate_seen", "contrast": "contrast_seen"}.get(task.family, "crop_seen")
        seen = say(rng, moment, what=_what(task.params) if moment == "crop_seen" else "text", observation=obs)
    conclusion = f"{seen} {_conclusion(rng, task)}"
    return Script(tuple(rounds), conclusion, task.answer, rng.choice(("\n", " ")))
