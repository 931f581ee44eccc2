"""Known-answer task generators: one module per operation family of Thyme's data.

Each family module exposes ``generate(seed, cfg) -> Task``; the same seed and config always give the same
task, byte for byte. :func:`plan_tasks` turns a :class:`TasksConfig` into the (family, seed) list of a run and
:func:`generate_task` makes one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthesis.tasks import compute, contrast, crop, multi_round, no_code, rotate
from synthesis.tasks.config import FAMILIES, TasksConfig
from synthesis.tasks.plan import plan_tasks
from synthesis.tasks.task import Task

__all__ = ["FAMILIES", "GENERATORS", "Task", "TasksConfig", "generate_task", "plan_tasks"]

GENERATORS: dict[str, Callable[..., Task]] = {
    "crop": crop.generate,
    "rotate": rotate.generate,
    "contrast": contrast.generate,
    "compute": compute.generate,
    "multi_round": multi_round.generate,
    "no_code": no_code.generate,
}
"""Family name -> ``generate(seed, cfg)``."""


def generate_task(family: str, seed: int, cfg: TasksConfig | Any | None = None) -> Task:
    """Generate one task of ``family``.

    Args:
        family (`str`): one of :data:`FAMILIES`.
        seed (`int`): the task seed.
        cfg (`TasksConfig` or the family's config, *optional*): settings; the family's section is taken from a
            ``TasksConfig``; defaults apply when omitted.

    Example:
        >>> generate_task("no_code", 7).family
        'no_code'
    """
    if family not in GENERATORS:
        raise ValueError(f"unknown family {family!r}; use one of {list(FAMILIES)}")
    if isinstance(cfg, TasksConfig):
        cfg = cfg.family_config(family)
    return GENERATORS[family](seed, cfg)
