"""Simple geometric shapes drawn into a box: targets, distractors, clutter and no-code scenes."""

from __future__ import annotations

import math

from PIL import ImageDraw

from synthesis.tasks.drawing.geometry import Box

__all__ = ["SHAPES", "draw_shape", "shape_points"]

SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon")
"""Shape names a question may use; each is distinct even when drawn small."""


def shape_points(shape: str, box: Box) -> list[tuple[float, float]]:
    """Polygon vertices of ``shape`` inscribed in ``box`` (a circle is approximated by 48 points).

    Example:
        >>> shape_points("square", (0, 0, 10, 10))
        [(0, 0), (10, 0), (10, 10), (0, 10)]
    """
    x1, y1, x2, y2 = box
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
    if shape == "square":
        return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    if shape == "triangle":
        return [(cx, y1), (x2, y2), (x1, y2)]
    if shape == "diamond":
        return [(cx, y1), (x2, cy), (cx, y2), (x1, cy)]
    if shape in ("hexagon", "circle"):
        n, phase = (6, 0.0) if shape == "hexagon" else (48, 0.0)
        return [
            (cx + rx * math.cos(phase + 2 * math.pi * k / n), cy + ry * math.sin(2 * math.pi * k / n))
            for k in range(n)
        ]
    if shape == "star":
        pts = []
        for k in range(10):
            r = 1.0 if k % 2 == 0 else 0.42
            a = -math.pi / 2 + math.pi * k / 5
            pts.append((cx + rx * r * math.cos(a), cy + ry * r * math.sin(a)))
        return pts
    raise ValueError(f"unknown shape {shape!r}; use one of {SHAPES}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: Box, fill, outline=None, width: int = 0) -> None:
    """Draw ``shape`` filling ``box``.

    Args:
        draw (`PIL.ImageDraw.ImageDraw`): where to draw.
        shape (`str`): one of :data:`SHAPES`.
        box (`Box`): the bounding box.
        fill: fill colour.
        outline (*optional*, defaults to `None`): outline colour.
        width (`int`, *optional*, defaults to `0`): outline width in pixels.

    Example:
        >>> from PIL import Image
        >>> im = Image.new("RGB", (20, 20))
        >>> draw_shape(ImageDraw.Draw(im), "circle", (0, 0, 20, 20), "red")
        >>> im.getpixel((10, 10))
        (255, 0, 0)
    """
    if shape == "circle":
        draw.ellipse(box, fill=fill, outline=outline, width=width)
    else:
        draw.polygon(shape_points(shape, box), fill=fill, outline=outline, width=width)
