"""Drawings for the computation family: tables, bar charts and labelled geometric figures (PIL only)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.drawing.colors import ink_for, random_palette
from synthesis.tasks.drawing.fonts import font_names, load_font
from synthesis.tasks.drawing.rand import chance, pick, randint

__all__ = ["Rendered", "render_bar_chart", "render_figure", "render_table"]

_NOUNS = (
    ("Monthly sales", "sales"),
    ("Stock count", "count"),
    ("Test scores", "score"),
    ("Rainfall (mm)", "rainfall"),
    ("Visitors", "number of visitors"),
    ("Weight (kg)", "weight"),
)


@dataclass
class Rendered:
    """An image with the values it shows; the question fields are filled by the caller when generic."""

    image: Image.Image
    box: tuple[int, int, int, int]
    values: dict
    noun: str = ""
    question: str = ""
    formula: str = ""  # Python over width/height/radius (figures) or the list ``values`` (tables)
    used: list[str] = field(default_factory=list)


def _page(rng: np.random.Generator, w: int, h: int) -> tuple[Image.Image, ImageDraw.ImageDraw, tuple]:
    paper = random_palette(rng, 1, "light")[0] if chance(rng, 0.8) else (255, 255, 255)
    img = Image.new("RGB", (w, h), paper)
    return img, ImageDraw.Draw(img), ink_for(paper)


def render_table(rng: np.random.Generator, long: int, labels: list[str], values: list[int]) -> Rendered:
    """A titled two-column table of ``labels`` and ``values``.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> render_table(make_rng(0), 800, ["A", "B"], [1, 2]).values
        {'A': 1, 'B': 2}
    """
    w, h = long, int(long * pick(rng, (0.6, 0.75, 0.9)))
    img, draw, ink = _page(rng, w, h)
    title, noun = pick(rng, _NOUNS)
    n = len(labels)
    row_h = min(h // (n + 3), long // 12)
    font = load_font(pick(rng, font_names()), int(row_h * 0.55))
    bold = load_font(pick(rng, font_names("Bold")), int(row_h * 0.6))
    tw = int(w * pick(rng, (0.6, 0.7, 0.8)))
    x0, y0 = (
        randint(rng, w // 20, w - tw - w // 20),
        randint(rng, row_h // 2, h - (n + 2) * row_h - row_h // 2),
    )
    draw.text((x0, y0), title, font=bold, fill=ink)
    header = random_palette(rng, 1, "vivid")[0]
    stripe = random_palette(rng, 1, "light")[0]
    y = y0 + row_h
    draw.rectangle((x0, y, x0 + tw, y + row_h), fill=header)
    draw.text((x0 + row_h // 3, y + row_h // 2), "Item", font=bold, fill=ink_for(header), anchor="lm")
    draw.text(
        (x0 + tw - row_h // 3, y + row_h // 2),
        noun.capitalize(),
        font=bold,
        fill=ink_for(header),
        anchor="rm",
    )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y += row_h
        if i % 2:
            draw.rectangle((x0, y, x0 + tw, y + row_h), fill=stripe)
        draw.text(
            (x0 + row_h // 3, y + row_h // 2),
            label,
            font=font,
            fill=(20, 20, 20) if i % 2 else ink,
            anchor="lm",
        )
        draw.text(
            (x0 + tw - row_h // 3, y + row_h // 2),
            str(value),
            font=font,
            fill=(20, 20, 20) if i % 2 else ink,
            anchor="rm",
        )
        draw.line((x0, y, x0 + tw, y), fill=(120, 120, 120), width=1)
    draw.rectangle((x0, y0 + row_h, x0 + tw, y + row_h), outline=(90, 90, 90), width=2)
    return Rendered(img, (x0, y0, x0 + tw, y + row_h), dict(zip(labels, values, strict=True)), noun)


def render_bar_chart(rng: np.random.Generator, long: int, labels: list[str], values: list[int]) -> Rendered:
    """A vertical bar chart with the value printed above each bar.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> render_bar_chart(make_rng(0), 800, ["A", "B"], [1, 2]).box[0] >= 0
        True
    """
    w, h = long, int(long * pick(rng, (0.62, 0.75)))
    img, draw, ink = _page(rng, w, h)
    title, noun = pick(rng, _NOUNS)
    n = len(labels)
    left, right, top, bottom = int(w * 0.1), int(w * 0.95), int(h * 0.14), int(h * 0.85)
    font = load_font(pick(rng, font_names()), max(11, min((right - left) // (n * 6), h // 28)))
    draw.text((left, int(h * 0.04)), title, font=load_font(pick(rng, font_names("Bold")), h // 20), fill=ink)
    draw.line((left, top, left, bottom), fill=ink, width=2)
    draw.line((left, bottom, right, bottom), fill=ink, width=2)
    vmax = max(values)
    slot = (right - left) / n
    colors = random_palette(rng, n, "vivid") if chance(rng, 0.5) else random_palette(rng, 1, "vivid") * n
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        cx = left + slot * (i + 0.5)
        bh = (bottom - top - font.size * 2) * value / vmax
        draw.rectangle((int(cx - slot * 0.3), int(bottom - bh), int(cx + slot * 0.3), bottom), fill=colors[i])
        draw.text((cx, bottom - bh - 4), str(value), font=font, fill=ink, anchor="mb")
        draw.text((cx, bottom + 6), label, font=font, fill=ink, anchor="mt")
    return Rendered(
        img,
        (left, int(h * 0.03), right, min(h, bottom + 2 * int(font.size) + 8)),
        dict(zip(labels, values, strict=True)),
        noun,
    )


def render_figure(rng: np.random.Generator, long: int, op: str, value_range: tuple[int, int]) -> Rendered:
    """A rectangle, right triangle or circle with labelled dimensions, and an area/perimeter question.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> render_figure(make_rng(0), 800, "area", (2, 30)).formula in (
        ...     "width * height",
        ...     "width * height / 2",
        ...     "math.pi * radius ** 2",
        ... )
        True
    """
    w, h = long, int(long * 0.75)
    img, draw, ink = _page(rng, w, h)
    font = load_font(pick(rng, font_names()), h // 18)
    fill = random_palette(rng, 1, "light")[0]
    unit = pick(rng, ("cm", "m", "mm"))
    lo, hi = value_range[0], max(value_range[0], min(value_range[1], 60))
    shape = pick(rng, ("rectangle", "triangle", "circle"))
    cx, cy, s = w // 2, h // 2, int(h * 0.3)
    if shape == "circle":
        r = randint(rng, lo, hi)
        draw.ellipse((cx - s, cy - s, cx + s, cy + s), fill=fill, outline=ink, width=3)
        draw.line((cx, cy, cx + s, cy), fill=ink, width=3)
        draw.text((cx + s // 2, cy - 6), f"r = {r} {unit}", font=font, fill=ink, anchor="mb")
        values = {"radius": r}
        formula = "math.pi * radius ** 2" if op == "area" else "2 * math.pi * radius"
    else:
        a, b = randint(rng, lo, hi), randint(rng, lo, hi)
        sx = int(s * 1.6 * a / max(a, b)) + s // 3
        sy = int(s * 1.6 * b / max(a, b)) // 1 + s // 3
        x1, y1, x2, y2 = cx - sx // 2, cy - sy // 2, cx + sx // 2, cy + sy // 2
        pts = (
            [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
            if shape == "rectangle"
            else [(x1, y1), (x1, y2), (x2, y2)]
        )
        draw.polygon(pts, fill=fill, outline=ink, width=3)
        draw.text(((x1 + x2) // 2, y2 + 10), f"{a} {unit}", font=font, fill=ink, anchor="mt")
        draw.text((x1 - 12, (y1 + y2) // 2), f"{b} {unit}", font=font, fill=ink, anchor="rm")
        values = {"width": a, "height": b}
        if shape == "rectangle":
            formula = "width * height" if op == "area" else "2 * (width + height)"
        else:
            formula = (
                "width * height / 2"
                if op == "area"
                else "width + height + math.sqrt(width ** 2 + height ** 2)"
            )
    name = {"rectangle": "rectangle", "triangle": "right triangle", "circle": "circle"}[shape]
    what = "area" if op == "area" else ("circumference" if shape == "circle" else "perimeter")
    units = f"square {unit}" if op == "area" else unit
    q = f"What is the {what} of the {name} in {units}? Round to 2 decimal places if needed."
    return Rendered(
        img,
        (cx - int(s * 1.4), cy - int(s * 1.4), cx + int(s * 1.4), cy + int(s * 1.4)),
        values,
        what,
        q,
        formula,
        list(values),
    )
