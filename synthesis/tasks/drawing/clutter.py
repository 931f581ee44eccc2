"""Clutter: distractor shapes, lines and words scattered over a background, clear of the targets.

Clutter makes the image busy (so a target cannot be spotted by its colour alone) and adds text the model
must not confuse with the target. Its colours stay far from the colours the question names, so the question
remains unambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.drawing.colors import NAMED_COLORS, RGB, color_distance, random_palette
from synthesis.tasks.drawing.fonts import pick_font
from synthesis.tasks.drawing.geometry import Box, int_box, intersects
from synthesis.tasks.drawing.rand import pick, randint
from synthesis.tasks.drawing.shapes import SHAPES, draw_shape
from synthesis.tasks.drawing.text import random_code, random_number, random_word

__all__ = ["add_clutter"]


def add_clutter(
    img: Image.Image,
    rng: np.random.Generator,
    count: int,
    avoid: list[Box],
    pad: int,
    font_px: tuple[int, int],
    shape_px: tuple[int, int],
    avoid_colors: Sequence[RGB] = (),
    shapes: tuple[str, ...] = SHAPES,
) -> int:
    """Draw up to ``count`` clutter items onto ``img`` in place; returns how many were drawn.

    Args:
        img (`PIL.Image.Image`): the RGB image to draw on.
        rng (`numpy.random.Generator`): the task's generator.
        count (`int`): items to attempt.
        avoid (`list[Box]`): boxes (targets, distractors) that clutter must keep clear of.
        pad (`int`): minimum gap between clutter and the avoided boxes.
        font_px (`tuple[int, int]`): range of font sizes for clutter words.
        shape_px (`tuple[int, int]`): range of sizes for clutter shapes.
        avoid_colors (`Sequence[RGB]`, *optional*, defaults to `()`): colours clutter must not resemble.
        shapes (`tuple[str, ...]`, *optional*, defaults to all shapes): shapes clutter may use.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> im = Image.new("RGB", (200, 200), "gray")
        >>> add_clutter(im, make_rng(0), 5, [], 0, (10, 20), (10, 30)) <= 5
        True
    """
    draw = ImageDraw.Draw(img)
    colors = _clutter_colors(rng, list(avoid_colors))
    drawn = 0
    for _ in range(count):
        item = pick(rng, ("shape", "shape", "word", "word", "line", "number"))
        color = pick(rng, colors)
        if item == "shape":
            s = randint(rng, *shape_px)
            x, y = randint(rng, 0, img.width - 1), randint(rng, 0, img.height - 1)
            box: Box = (x, y, x + s, y + s)
            if not any(intersects(box, a, pad) for a in avoid):
                draw_shape(draw, pick(rng, shapes), box, fill=color)
                drawn += 1
        elif item == "line":
            x, y = randint(rng, 0, img.width - 1), randint(rng, 0, img.height - 1)
            x2, y2 = (
                x + randint(rng, -shape_px[1] * 3, shape_px[1] * 3),
                y + randint(rng, -shape_px[1], shape_px[1]),
            )
            box = (min(x, x2), min(y, y2), max(x, x2) + 1, max(y, y2) + 1)
            if not any(intersects(box, a, pad) for a in avoid):
                draw.line((x, y, x2, y2), fill=color, width=randint(rng, 1, max(1, shape_px[0] // 4)))
                drawn += 1
        else:
            text = random_word(rng) if item == "word" else pick(rng, (random_number(rng), random_code(rng)))
            font = pick_font(rng, randint(rng, *font_px))
            x, y = randint(rng, 0, img.width - 1), randint(rng, 0, img.height - 1)
            box = int_box(draw.textbbox((x, y), text, font=font))
            if not any(intersects(box, a, pad) for a in avoid):
                draw.text((x, y), text, font=font, fill=color)
                drawn += 1
    return drawn


def _clutter_colors(rng: np.random.Generator, avoid: list[RGB]) -> list[RGB]:
    """A random palette plus the named colours, minus anything within 110 RGB units of ``avoid``."""
    candidates = random_palette(rng, 6) + random_palette(rng, 4, "vivid") + list(NAMED_COLORS.values())
    kept = [c for c in candidates if all(color_distance(c, a) >= 110 for a in avoid)]
    return kept or [(128, 128, 128)]
