"""Every hand-written record of the corpus, gathered from the per-theme modules in a fixed order."""

from __future__ import annotations

import importlib

from .spec import Spec

__all__ = ["MODULES", "all_specs"]

MODULES = (
    "rec_single_open",
    "rec_single_choice",
    "rec_fixups",
    "rec_two_round",
    "rec_computation",
    "rec_rejects",
)


def all_specs() -> list[Spec]:
    """The specs of every module in :data:`MODULES`, made fresh (a factory may return one spec or a tuple)."""
    specs: list[Spec] = []
    for name in MODULES:
        for make in importlib.import_module(f"{__package__}.{name}").SPECS:
            made = make()
            specs.extend(made if isinstance(made, tuple) else (made,))
    return specs
