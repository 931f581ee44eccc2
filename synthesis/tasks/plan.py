"""Expand ``count`` + ``mix`` + ``base_seed`` into the (family, seed) list a run generates.

Task ``i`` gets seed ``base_seed + i`` and the family whose share is furthest behind its weight after the
first ``i`` tasks (a smooth weighted round-robin). Every prefix therefore matches the mix to within one task
per family, the plan depends only on the index, and raising ``count`` only appends tasks.
"""

from __future__ import annotations

from synthesis.tasks.config import FAMILIES, TasksConfig

__all__ = ["plan_tasks"]


def plan_tasks(cfg: TasksConfig) -> list[tuple[str, int]]:
    """The (family, seed) pairs for ``cfg.count`` tasks.

    Args:
        cfg (`TasksConfig`): uses ``count``, ``base_seed`` and ``mix``.

    Example:
        >>> plan_tasks(TasksConfig(count=4, base_seed=10, mix={"crop": 1, "rotate": 1}))
        [('crop', 10), ('rotate', 11), ('crop', 12), ('rotate', 13)]
    """
    families = [f for f in FAMILIES if cfg.mix.get(f, 0) > 0]
    total = sum(cfg.mix[f] for f in families)
    share = {f: cfg.mix[f] / total for f in families}
    done = dict.fromkeys(families, 0)
    plan = []
    for i in range(cfg.count):
        family = max(families, key=lambda f: (i + 1) * share[f] - done[f])  # ties: FAMILIES order
        done[family] += 1
        plan.append((family, cfg.base_seed + i))
    return plan
