"""The :class:`Task` record every generator returns and every later stage reads.

A task is an image with a question whose answer is known by construction, plus the ``params`` a programmatic
teacher needs to write a trajectory for it (the box to crop, the angle to undo, the factor to enhance by,
the expression to compute).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ANSWER_TYPES", "Task", "make_task_id"]

ANSWER_TYPES = ("choice", "number", "text", "yes_no")


def make_task_id(family: str, seed: int, config: dict[str, Any], params: dict[str, Any]) -> str:
    """Stable id ``<family>-<seed:06d>-<8 hex>``; the hex is a hash of the generator config and task params.

    The same seed under two configs gives two ids, so tasks from differently configured runs never collide.

    Args:
        family (`str`): the family name.
        seed (`int`): the task seed.
        config (`dict`): the generator config as plain data.
        params (`dict`): the task params.

    Example:
        >>> make_task_id("crop", 123, {}, {})
        'crop-000123-...'
    """
    blob = json.dumps(
        {"config": config, "params": params}, sort_keys=True, separators=(",", ":"), default=list
    )
    return f"{family}-{seed:06d}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


@dataclass(frozen=True, slots=True)
class Task:
    """One synthesised task with a known answer.

    Args:
        id (`str`): stable id from :func:`make_task_id`.
        family (`str`): ``crop``, ``rotate``, ``contrast``, ``compute``, ``multi_round`` or ``no_code``.
        seed (`int`): the seed it was generated from.
        image (`bytes`): the encoded image (PNG or JPEG); identical for the same seed and config.
        image_format (`str`): ``"png"`` or ``"jpeg"``.
        width (`int`): image width in pixels.
        height (`int`): image height in pixels.
        question (`str`): the question text, already formatted (options listed for multiple choice).
        answer (`str`): the ground truth (the option letter for ``choice``).
        answer_type (`str`): ``choice``, ``number``, ``text`` or ``yes_no``.
        choices (`tuple[str, ...]`): option texts in order A, B, ...; empty unless multiple choice.
        target (`tuple[int, int, int, int] | None`): ``(x1, y1, x2, y2)`` of the region that must
            be inspected.
        difficulty (`float`): family-specific hardness (e.g. the target's area fraction for crop).
        params (`dict`): JSON-serialisable facts the teacher needs (boxes, angles, factors, values).
    """

    id: str
    family: str
    seed: int
    image: bytes = field(repr=False)
    image_format: str
    width: int
    height: int
    question: str
    answer: str
    answer_type: str
    choices: tuple[str, ...] = ()
    target: tuple[int, int, int, int] | None = None
    difficulty: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(f"answer_type must be one of {ANSWER_TYPES}, got {self.answer_type!r}")
        if self.image_format not in ("png", "jpeg"):
            raise ValueError(f"image_format must be 'png' or 'jpeg', got {self.image_format!r}")
        if (self.answer_type == "choice") != bool(self.choices):
            raise ValueError("choices must be given exactly when answer_type is 'choice'")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (tuples as lists, image bytes as is) for JSON-like sinks.

        Example:
            >>> t = Task("x", "no_code", 0, b"", "png", 1, 1, "q", "a", "text")
            >>> Task.from_dict(t.to_dict()) == t
            True
        """
        return {
            "id": self.id,
            "family": self.family,
            "seed": self.seed,
            "image": self.image,
            "image_format": self.image_format,
            "width": self.width,
            "height": self.height,
            "question": self.question,
            "answer": self.answer,
            "answer_type": self.answer_type,
            "choices": list(self.choices),
            "target": None if self.target is None else list(self.target),
            "difficulty": self.difficulty,
            "params": json.loads(json.dumps(self.params)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["choices"] = tuple(values.get("choices") or ())
        target = values.get("target")
        values["target"] = None if target is None else tuple(int(v) for v in target)
        return cls(**values)
