"""Render docs/families.png: a task per family, its input (target in red) and what the teacher's code made.

Usage: .venv/bin/python scripts/family_grid.py [OUT.png]
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image

from sandbox import Sandbox, SandboxConfig
from synthesis.tasks import FAMILIES, TasksConfig, generate_task
from synthesis.tasks.drawing.preview import fit, grid, render_tile
from synthesis.teacher import teach

CELL = 360


def main(out: str = "docs/families.png") -> None:
    """One row per family: the task as previewed, then the first two images its teacher's code made."""
    cfg = TasksConfig()
    rows = []
    with Sandbox(SandboxConfig(workers=1)) as sb:
        for family in FAMILIES:
            task = generate_task(family, 11, cfg)
            made = [Image.open(io.BytesIO(b)) for b in teach(task, sb).conversation.all_images[1:3]]
            rows.append([render_tile(task, CELL)] + [fit(im, CELL, CELL + 80) for im in made])
    image = grid(rows)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    image.save(out, optimize=True)
    print(f"wrote {out} ({image.width}x{image.height})")


if __name__ == "__main__":
    main(*sys.argv[1:])
