"""Turn a rendered image and its question into a :class:`Task` (encoding, id, plain-data params)."""

from __future__ import annotations

import dataclasses
from typing import Any

from PIL import Image

from synthesis.tasks.drawing.encode import encode_image
from synthesis.tasks.task import Task, make_task_id

__all__ = ["assemble", "id_config"]


def id_config(cfg: Any) -> Any:
    """``cfg`` as plain data for the task id: ``dataclasses.asdict`` less the fields marked ``ID_KEY`` that
    hold their default, at any depth, so a new option leaves the ids of every config without it unchanged.

    Example:
        >>> from synthesis.tasks.config import CropConfig
        >>> "layout" in id_config(CropConfig()), id_config(CropConfig(layout="grid"))["layout"]
        (False, 'grid')
    """
    from synthesis.tasks.config import ID_KEY

    out: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get(ID_KEY) and value == _default(f):
            continue
        out[f.name] = _plain(value)
    return out


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _plain(value: Any) -> Any:
    """What ``dataclasses.asdict`` makes of a field value (nested dataclasses, lists, tuples, dicts)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return id_config(value)
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def assemble(
    family: str,
    seed: int,
    cfg: Any,
    image: Image.Image,
    question: str,
    answer: str,
    answer_type: str,
    params: dict[str, Any],
    choices: tuple[str, ...] = (),
    target: tuple[int, int, int, int] | None = None,
    difficulty: float = 0.0,
) -> Task:
    """Encode ``image`` with the family's format settings and build the task with its stable id.

    Args:
        family (`str`): the family name.
        seed (`int`): the task seed.
        cfg (`dataclass`): the family config; needs ``image_format`` and ``jpeg_quality``
            (or a nested ``crop``).
        image (`PIL.Image.Image`): the RGB image.
        question (`str`): formatted question.
        answer (`str`): ground truth.
        answer_type (`str`): ``choice``, ``number``, ``text`` or ``yes_no``.
        params (`dict`): JSON-serialisable teacher facts.
        choices (`tuple[str, ...]`, *optional*, defaults to `()`): option texts.
        target (`tuple | None`, *optional*, defaults to `None`): the region to inspect.
        difficulty (`float`, *optional*, defaults to `0.0`): family-specific hardness.

    Example:
        >>> from synthesis.tasks.config import NoCodeConfig
        >>> t = assemble("no_code", 1, NoCodeConfig(), Image.new("RGB", (8, 8)), "q", "a", "text", {})
        >>> t.id.startswith("no_code-000001-"), t.image_format
        (True, 'png')
    """
    fmt_cfg = getattr(cfg, "crop", cfg)
    data = encode_image(image, fmt_cfg.image_format, fmt_cfg.jpeg_quality)
    config = id_config(cfg)
    int_target: tuple[int, int, int, int] | None = None
    if target is not None:
        x1, y1, x2, y2 = target
        int_target = (int(x1), int(y1), int(x2), int(y2))
    return Task(
        id=make_task_id(family, seed, config, params),
        family=family,
        seed=seed,
        image=data,
        image_format=fmt_cfg.image_format,
        width=image.width,
        height=image.height,
        question=question,
        answer=answer,
        answer_type=answer_type,
        choices=tuple(choices),
        target=int_target,
        difficulty=float(difficulty),
        params=params,
    )
