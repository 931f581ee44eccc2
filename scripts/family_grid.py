"""Render docs/families.png: one task per family, its input (target box in red) and what the teacher's code produced.

Usage: .venv/bin/python scripts/family_grid.py [OUT.png]
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sandbox import Sandbox, SandboxConfig
from synthesis.tasks import FAMILIES, TasksConfig, generate_task
from synthesis.teacher import teach

CELL = 360


def _fit(img: Image.Image, box=None) -> Image.Image:
    img = img.convert("RGB")
    if box:
        draw = ImageDraw.Draw(img)
        draw.rectangle(box, outline=(255, 0, 0), width=max(3, img.width // 300))
    img.thumbnail((CELL, CELL))
    canvas = Image.new("RGB", (CELL, CELL), (245, 245, 245))
    canvas.paste(img, ((CELL - img.width) // 2, (CELL - img.height) // 2))
    return canvas


def main(out: str = "docs/families.png") -> None:
    cfg = TasksConfig()
    rows = []
    with Sandbox(SandboxConfig(workers=1)) as sb:
        for family in FAMILIES:
            task = generate_task(family, 11, cfg)
            rollout = teach(task, sb)
            images = [Image.open(io.BytesIO(b)) for b in rollout.conversation.all_images]
            cells = [_fit(images[0], task.target)] + [_fit(im) for im in images[1:3]]
            rows.append((family, task.question.splitlines()[0][:70], cells))
    width, label_h = CELL * 3, 40
    grid = Image.new("RGB", (width, len(rows) * (CELL + label_h)), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default(size=16)
    for r, (family, question, cells) in enumerate(rows):
        y = r * (CELL + label_h)
        draw.text((8, y + 10), f"{family}: {question}", fill="black", font=font)
        for c, cell in enumerate(cells):
            grid.paste(cell, (c * CELL, y + label_h))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    grid.save(out, optimize=True)
    print(f"wrote {out} ({grid.width}x{grid.height})")


if __name__ == "__main__":
    main(*sys.argv[1:])
