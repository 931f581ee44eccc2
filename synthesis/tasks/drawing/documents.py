"""Upright content to rotate or degrade: lines of text, document-like cards and labelled arrow diagrams.

Each renderer returns the content image, the (unformatted) question, its answer, the options for multiple
choice, and the box of the answer in content coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.drawing.colors import ink_for, random_palette
from synthesis.tasks.drawing.fonts import font_names, load_font
from synthesis.tasks.drawing.geometry import Box, int_box
from synthesis.tasks.drawing.rand import chance, pick, randint, sample
from synthesis.tasks.drawing.text import WORDS, random_code, random_name, random_number, random_word

__all__ = ["Content", "render_content"]

_TITLES = ("VISITOR PASS", "LIBRARY CARD", "SHIPPING LABEL", "PARKING PERMIT", "MEMBER CARD", "LAB SAMPLE")
_ORDINALS = ("first", "second", "third", "fourth", "fifth")


@dataclass
class Content:
    """Rendered upright content and the question about it."""

    image: Image.Image
    question: str
    answer: str
    answer_type: str
    options: tuple[str, ...]
    answer_box: tuple[int, int, int, int]


def render_content(rng: np.random.Generator, kind: str, long_side: int) -> Content:
    """Render ``kind`` (``text_lines``, ``card`` or ``arrow``) with its long side ``long_side`` px.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> c = render_content(make_rng(0), "card", 600)
        >>> max(c.image.size), c.answer_type in ("text", "number")
        (600, True)
    """
    return {"text_lines": _text_lines, "card": _card, "arrow": _arrow}[kind](rng, long_side)


def _paper(rng: np.random.Generator, w: int, h: int) -> tuple[Image.Image, tuple[int, int, int]]:
    color = random_palette(rng, 1, pick(rng, ("light", "light", "muted", "dark")))[0]
    return Image.new("RGB", (w, h), color), color


def _text_lines(rng: np.random.Generator, side: int) -> Content:
    w, h = side, int(side * pick(rng, (0.55, 0.7, 0.8)))
    img, paper = _paper(rng, w, h)
    draw = ImageDraw.Draw(img)
    n_lines = randint(rng, 3, 5)
    font = load_font(pick(rng, font_names()), max(12, h // (n_lines * 2 + 1)))
    ink = ink_for(paper)
    lines: list[list[str]] = []
    boxes: list[Box] = []
    y = font.size // 2
    for _ in range(n_lines):
        words = [random_word(rng, "lower") for _ in range(randint(rng, 1, 3))]
        while draw.textlength(" ".join(words), font=font) > w * 0.9 and len(words) > 1:
            words.pop()
        margin = int(font.size) // 3
        x = randint(rng, margin, max(margin, int(w - draw.textlength(" ".join(words), font=font)) - 4))
        draw.text((x, y), " ".join(words), font=font, fill=ink)
        lines.append(words)
        boxes.append(int_box(draw.textbbox((x, y), words[0], font=font)))
        y += int(font.size * 1.8)
    k = randint(rng, 0, n_lines - 1)
    q = f"What is the first word on the {_ORDINALS[k]} line of text?"
    return Content(img, q, lines[k][0], "text", (), boxes[k])


def _card(rng: np.random.Generator, side: int) -> Content:
    w, h = side, int(side * pick(rng, (0.6, 0.63, 0.7)))
    img, paper = _paper(rng, w, h)
    draw = ImageDraw.Draw(img)
    band = random_palette(rng, 1, "vivid")[0]
    draw.rectangle((0, 0, w, h // 5), fill=band)
    title = pick(rng, _TITLES)
    draw.text(
        (w // 20, h // 22), title, font=load_font(pick(rng, font_names("Bold")), h // 9), fill=ink_for(band)
    )
    fields = {
        "name": random_name(rng),
        "ID": random_code(rng),
        "date": f"20{randint(rng, 10, 29)}-{randint(rng, 1, 12):02d}-{randint(rng, 1, 28):02d}",
        "room number": random_number(rng, 2, 4),
    }
    font = load_font(pick(rng, font_names()), h // 12)
    boxes: dict[str, Box] = {}
    y = h // 5 + h // 14
    for key in sample(rng, list(fields), 4):
        label = {"room number": "Room", "name": "Name", "ID": "ID", "date": "Date"}[key] + ": "
        draw.text((w // 20, y), label, font=font, fill=ink_for(paper))
        x = w // 20 + int(draw.textlength(label, font=font))
        draw.text((x, y), fields[key], font=font, fill=ink_for(paper))
        boxes[key] = int_box(draw.textbbox((x, y), fields[key], font=font))
        y += int(font.size * 1.6)
    if chance(rng, 0.7):  # a barcode-like stripe block for realism
        x0 = int(w * 0.72)
        for i in range(0, int(w * 0.22), 3):
            if chance(rng, 0.6):
                draw.rectangle((x0 + i, int(h * 0.72), x0 + i + 1, int(h * 0.92)), fill=ink_for(paper))
    key = pick(rng, list(fields))
    answer_type = "number" if key == "room number" else "text"
    return Content(
        img, f"What is the {key} on the {title.lower()}?", fields[key], answer_type, (), boxes[key]
    )


def _arrow(rng: np.random.Generator, side: int) -> Content:
    img, paper = _paper(rng, side, side)
    draw = ImageDraw.Draw(img)
    ink = ink_for(paper)
    short = [w for w in WORDS if len(w) <= 7]
    labels = [w.upper() if chance(rng, 0.5) else w.title() for w in sample(rng, short, 4)]
    font = load_font(pick(rng, font_names()), side // 18)
    c, r = side // 2, int(side * 0.33)
    dirs = [(0, -1), (1, 0), (0, 1), (-1, 0)]  # N, E, S, W
    boxes: list[Box] = []
    for (dx, dy), label in zip(dirs, labels, strict=True):
        xy = (c + dx * r, c + dy * r)
        draw.text(xy, label, font=font, fill=ink, anchor="mm")
        boxes.append(int_box(draw.textbbox(xy, label, font=font, anchor="mm")))
    k = randint(rng, 0, 3)
    dx, dy = dirs[k]
    b = boxes[k]
    gap = side // 30
    reach = {0: c - b[3], 1: b[0] - c, 2: b[1] - c, 3: c - b[2]}[k] - gap
    t = max(3, side // 45)
    tip = (c + dx * reach, c + dy * reach)
    tail = (c - dx * reach // 2, c - dy * reach // 2)
    color = random_palette(rng, 1, "vivid")[0]
    draw.line((tail[0], tail[1], tip[0] - dx * 3 * t, tip[1] - dy * 3 * t), fill=color, width=2 * t)
    head = [
        tip,
        (tip[0] - dx * 4 * t - dy * 3 * t, tip[1] - dy * 4 * t - dx * 3 * t),
        (tip[0] - dx * 4 * t + dy * 3 * t, tip[1] - dy * 4 * t + dx * 3 * t),
    ]
    draw.polygon(head, fill=color)
    options = tuple(sample(rng, labels, 4))
    return Content(img, "Which word does the arrow point to?", labels[k], "choice", options, boxes[k])
