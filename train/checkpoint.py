"""Checkpoints that resume exactly: weights, tokenizer, optimizer, scheduler, step, RNG states, data position.

A stage writes ``<stage_dir>/step-NNNNNN/`` (a loadable model folder plus ``trainer_state.pt``) and then
points ``<stage_dir>/latest`` at it, so a run killed mid-save resumes from the previous complete checkpoint.
Restoring the optimizer moments, the scheduler, the RNGs and the number of examples consumed makes the next
step of a resumed run compute the same loss as the uninterrupted run.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

__all__ = ["latest_checkpoint", "load_state", "resume_from", "save_checkpoint"]

STATE_FILE = "trainer_state.pt"
LATEST = "latest"


def save_checkpoint(
    stage_dir: str | Path, step: int, policy, optimizer, scheduler, extra: dict[str, Any]
) -> Path:
    """Write a checkpoint of ``policy`` and the trainer state, then mark it as the latest.

    Args:
        stage_dir (`str | Path`): the stage's folder (``<output_dir>/sft`` or ``<output_dir>/grpo``).
        step (`int`): optimizer steps done.
        policy (`train.policy.Policy`): the model, tokenizer and image processor to save.
        optimizer (`torch.optim.Optimizer`): its moments are needed for an identical next step.
        scheduler: the learning-rate scheduler (or None).
        extra (`dict`): stage-specific state, e.g. the number of examples consumed.
    """
    import numpy as np
    import torch

    folder = Path(stage_dir) / f"step-{step:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    policy.model.save_pretrained(folder)
    policy.tokenizer.save_pretrained(folder)
    policy.vision.image_processor.save_pretrained(folder)
    state = {
        "step": step,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
        "extra": extra,
    }
    torch.save(state, folder / STATE_FILE)
    tmp = Path(stage_dir) / f".{LATEST}.tmp"
    tmp.write_text(folder.name)
    tmp.replace(Path(stage_dir) / LATEST)
    return folder


def latest_checkpoint(stage_dir: str | Path) -> Path | None:
    """The folder ``latest`` points at, or None when the stage has no complete checkpoint yet."""
    pointer = Path(stage_dir) / LATEST
    if not pointer.exists():
        return None
    folder = Path(stage_dir) / pointer.read_text().strip()
    return folder if (folder / STATE_FILE).exists() else None


def load_state(folder: str | Path, optimizer, scheduler) -> dict[str, Any]:
    """Restore optimizer, scheduler and RNGs from a checkpoint; returns ``{"step": ..., "extra": ...}``."""
    import numpy as np
    import torch

    state = torch.load(Path(folder) / STATE_FILE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["rng"]["python"])
    np.random.set_state(state["rng"]["numpy"])
    torch.set_rng_state(state["rng"]["torch"])
    return {"step": state["step"], "extra": state["extra"]}


def resume_from(stage_dir: str | Path, base: str | Path) -> Path | str:
    """The policy a stage loads: its latest checkpoint, else ``base`` (the previous stage's output)."""
    return latest_checkpoint(stage_dir) or base
