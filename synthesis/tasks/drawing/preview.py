"""Render one sample of each family into a grid PNG, with its target box drawn, for eyeballing.

Usage: ``python -m synthesis.tasks.drawing.preview OUT.png [--seed N] [--tile 512]``. Red is the target box;
for multi-round tasks blue is the first (too wide or wrong) box.
"""

from __future__ import annotations

import argparse
import textwrap

from PIL import Image, ImageDraw

from synthesis.tasks import FAMILIES, generate_task
from synthesis.tasks.drawing.encode import decode_image
from synthesis.tasks.drawing.fonts import load_font
from synthesis.tasks.task import Task

__all__ = ["fit", "grid", "main", "render_tile"]


def render_tile(task: Task, tile: int) -> Image.Image:
    """The task's image fitted in a ``tile`` x ``tile`` square, boxes drawn, with its question and
    answer below.

    Example:
        >>> render_tile(generate_task("no_code", 0), 128).size
        (128, 208)
    """
    img = decode_image(task.image)
    s = tile / max(img.size)
    out = fit(img, tile, tile + 80)
    draw = ImageDraw.Draw(out)
    ox = (tile - round(img.width * s)) // 2
    boxes = [(task.target, (255, 0, 0))] if task.target else []
    if "first_box" in task.params:
        boxes.append((task.params["first_box"], (0, 90, 255)))
    for box, color in boxes:
        x1, y1, x2, y2 = (v * s for v in box)
        draw.rectangle((ox + x1 - 3, y1 - 3, ox + x2 + 3, y2 + 3), outline=color, width=2)
    question = task.question.split("\n")[0].removeprefix("Question: ")
    caption = f"[{task.family}] {question} -> {task.answer}"
    font = load_font("DejaVuSans", 11)
    for i, line in enumerate(textwrap.wrap(caption, width=max(20, tile // 7))[:5]):
        draw.text((4, tile + 4 + 14 * i), line, font=font, fill=(0, 0, 0))
    return out


def fit(img: Image.Image, tile: int, height: int | None = None) -> Image.Image:
    """``img`` scaled to fit a ``tile``-wide square, centred at the top of a white
    ``tile`` x ``height`` canvas.

    Example:
        >>> (
        ...     fit(Image.new("RGB", (400, 100)), 100).size,
        ...     fit(Image.new("RGB", (400, 100)), 100).getpixel((50, 10)),
        ... )
        ((100, 100), (0, 0, 0))
    """
    s = tile / max(img.size)
    small = img.convert("RGB").resize(
        (max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS
    )
    out = Image.new("RGB", (tile, height or tile), "white")
    out.paste(small, ((tile - small.width) // 2, 0))
    return out


def grid(rows: list[list[Image.Image]]) -> Image.Image:
    """Tiles of one size pasted row by row into one image.

    Example:
        >>> grid([[Image.new("RGB", (4, 3))] * 2] * 3).size
        (8, 9)
    """
    tw, th = rows[0][0].size
    out = Image.new("RGB", (tw * max(len(r) for r in rows), th * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            out.paste(tile, (c * tw, r * th))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the preview grid; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output PNG path")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the first row (rows use seed, seed+1, ...)"
    )
    parser.add_argument("--rows", type=int, default=1, help="samples per family")
    parser.add_argument("--tile", type=int, default=512, help="tile side in pixels")
    args = parser.parse_args(argv)
    tiles = [
        [render_tile(generate_task(f, args.seed + r), args.tile) for f in FAMILIES] for r in range(args.rows)
    ]
    grid(tiles).save(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
