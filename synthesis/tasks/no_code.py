"""No-code family: a simple picture (a few large shapes, or one big word) with an easy question.

Thyme keeps ~100K samples whose right response writes no code; these teach the model not to process an image
that is already easy to read. Shapes are large (a fifth of the image or more) on a plain or gradient
background, and each question has one obvious answer.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from synthesis.tasks.assemble import assemble
from synthesis.tasks.config import NoCodeConfig
from synthesis.tasks.drawing.backgrounds import make_background
from synthesis.tasks.drawing.colors import NAMED_COLORS, TARGET_COLORS, ink_for
from synthesis.tasks.drawing.fonts import font_names, load_font
from synthesis.tasks.drawing.geometry import Box, find_free_spot
from synthesis.tasks.drawing.rand import chance, make_rng, pick, randint, sample
from synthesis.tasks.drawing.shapes import SHAPES, draw_shape
from synthesis.tasks.drawing.text import random_word
from synthesis.tasks.questions import LETTERS, format_choice, format_open, format_yes_no
from synthesis.tasks.task import Task

__all__ = ["generate"]


def generate(seed: int, cfg: NoCodeConfig | None = None) -> Task:
    """Make the no-code task for ``seed``.

    Args:
        seed (`int`): the task seed; the same seed and config give an identical task.
        cfg (`NoCodeConfig`, *optional*): settings; defaults to ``NoCodeConfig()``.

    Example:
        >>> generate(0).target is None
        True
    """
    cfg = cfg or NoCodeConfig()
    rng = make_rng(seed, "no_code")
    long = randint(rng, *cfg.side_range)
    w, h = (long, int(long * pick(rng, (0.75, 1.0)))) if chance(rng, 0.7) else (int(long * 0.75), long)
    img = make_background(rng, w, h, pick(rng, ("gradient", "gradient", "texture")), grain=1.0)
    kind = pick(rng, cfg.kinds)
    if kind == "word":
        word = random_word(rng, pick(rng, ("upper", "title")))
        _big_word(rng, img, word)
        question, answer, atype, choices = format_open("What word is written in the image?"), word, "text", ()
        params = {"kind": kind, "content": word}
    else:
        placed = _shapes(rng, img, randint(rng, *cfg.shapes_range))
        question, answer, atype, choices, params = _ask(rng, kind, placed)
    return assemble("no_code", seed, cfg, img, question, answer, atype, params, choices, None, 0.0)


def _shapes(rng, img: Image.Image, n: int) -> list[tuple[str, str]]:
    """Draw ``n`` large non-overlapping shapes; returns their (shape, colour name) pairs."""
    draw = ImageDraw.Draw(img)
    side = min(img.size)
    placed: list[tuple[str, str]] = []
    boxes: list[Box] = []
    for shape, color in zip(sample(rng, SHAPES, n), sample(rng, TARGET_COLORS, n), strict=False):
        s = randint(rng, side // 5, side // 3)
        box = find_free_spot(rng, (s, s), img.size, boxes, pad=side // 20, border=side // 25)
        if box is None:
            continue
        draw_shape(draw, shape, box, fill=NAMED_COLORS[color], outline=ink_for(NAMED_COLORS[color]), width=2)
        placed.append((shape, color))
        boxes.append(box)
    return placed


def _ask(rng, kind: str, placed: list[tuple[str, str]]):
    shape, color = pick(rng, placed)
    params = {"kind": kind, "shapes": [list(p) for p in placed]}
    if kind == "color":
        options = tuple(sample(rng, [color] + sample(rng, [c for c in TARGET_COLORS if c != color], 3), 4))
        q = format_choice(f"What color is the large {shape}?", options)
        return q, LETTERS[options.index(color)], "choice", options, params | {"content": color}
    if kind == "count":
        return (
            format_open("How many shapes are in the image?"),
            str(len(placed)),
            "number",
            (),
            params | {"content": len(placed)},
        )
    present = chance(rng, 0.5)
    if not present:
        absent = [
            (s, c)
            for s in SHAPES
            for c in TARGET_COLORS
            if (s, c) not in placed and s in {p[0] for p in placed}
        ]
        shape, color = pick(rng, absent)
    q = format_yes_no(f"Is there a {color} {shape} in the image?")
    return q, "yes" if present else "no", "yes_no", (), params | {"content": f"{color} {shape}"}


def _big_word(rng, img: Image.Image, word: str) -> None:
    draw = ImageDraw.Draw(img)
    font = load_font(pick(rng, font_names("Bold")), img.width // max(6, len(word) + 2))
    color = pick(rng, TARGET_COLORS)
    draw.text(
        (img.width // 2, img.height // 2),
        word,
        font=font,
        fill=NAMED_COLORS[color],
        anchor="mm",
        stroke_width=max(1, font.size // 25),
        stroke_fill=ink_for(NAMED_COLORS[color]),
    )
