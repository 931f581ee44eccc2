"""High-resolution cluttered scenes with one small target and look-alike distractors (crop and multi-round).

The target's size is chosen from the image size so that, once the image is downscaled to the model's input
side (448 px by default), its glyphs are at most a few pixels tall and cannot be read, while in the original
pixels they are at least ``min_font_px`` tall and read easily from a crop. The target's colour is chosen to
stand out from the background under it; distractors share the target's kind and size but not its colour
(or, for objects asked by shape, not its shape), so the question's colour/shape and position words pick
exactly one item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.config import CropConfig
from synthesis.tasks.drawing.backgrounds import add_grain, make_background
from synthesis.tasks.drawing.clutter import add_clutter
from synthesis.tasks.drawing.colors import NAMED_COLORS, RGB, TARGET_COLORS, farthest_color, ink_for
from synthesis.tasks.drawing.fonts import font_names, load_font
from synthesis.tasks.drawing.geometry import Box, area_fraction, find_free_spot, int_box
from synthesis.tasks.drawing.rand import chance, pick, randint, sample, uniform
from synthesis.tasks.drawing.shapes import SHAPES, draw_shape
from synthesis.tasks.drawing.text import random_code, random_number, random_word

__all__ = ["CropScene", "Item", "build_scene"]


@dataclass(frozen=True)
class Item:
    """One drawn target or distractor: what it shows, where, and in which colours."""

    kind: str
    box: Box
    text: str
    color: str
    shape: str
    ink: RGB
    font: str
    size_px: int


@dataclass
class CropScene:
    """A rendered scene: the image, its target, the distractors and how they were sized."""

    image: Image.Image
    target: Item
    distractors: list[Item]
    kind: str
    mode: str
    size_px: int
    background: str


def build_scene(rng: np.random.Generator, cfg: CropConfig) -> CropScene:
    """Render a scene for ``cfg``; the same generator state gives the same pixels.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        cfg (`CropConfig`): sizes, kinds and clutter settings.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> s = build_scene(make_rng(0), CropConfig(long_side_range=(2048, 2048)))
        >>> max(s.image.size)
        2048
    """
    long = randint(rng, *cfg.long_side_range)
    w, h = long, max(64, round(long / pick(rng, cfg.aspect_ratios)))
    if chance(rng, cfg.portrait_prob):
        w, h = h, w
    background = pick(rng, cfg.background_kinds)
    img = make_background(rng, w, h, background, grain=0)
    kind = pick(rng, cfg.target_kinds)
    mode = pick(rng, ("ask_shape", "ask_color")) if kind == "object" else "read"
    ceiling = int(cfg.max_glyph_px_at_model_side * long / cfg.model_side)
    lo = cfg.min_object_px if kind == "object" else cfg.min_font_px
    size_px = randint(rng, lo, max(lo, ceiling if kind == "object" else min(ceiling, cfg.max_font_px)))
    target = _place_target(rng, img, kind, size_px, cfg)
    distractors = _place_distractors(rng, img, target, mode, cfg)
    avoid = [target.box] + [d.box for d in distractors]
    for item in [target] + distractors:
        _draw_item(ImageDraw.Draw(img), item)
    count = int(w * h / 1e6 * uniform(rng, *cfg.clutter_per_megapixel))
    avoid_colors = [target.ink, NAMED_COLORS[target.color]]
    shapes = tuple(s for s in SHAPES if s != target.shape) if mode == "ask_color" else SHAPES
    add_clutter(
        img,
        rng,
        count,
        avoid,
        pad=max(24, 2 * size_px),
        font_px=(size_px, 5 * size_px),
        shape_px=(2 * size_px, 10 * size_px),
        avoid_colors=avoid_colors,
        shapes=shapes,
    )
    img = Image.fromarray(add_grain(np.asarray(img), rng, cfg.grain))
    return CropScene(img, target, distractors, kind, mode, target.size_px, background)


def _content(rng: np.random.Generator, kind: str) -> str:
    if kind == "digits":
        return random_number(rng, 3, 6)
    if kind == "sign":
        return pick(rng, (random_word(rng, "upper"), random_code(rng)))
    if kind == "text":
        return pick(rng, (random_word(rng), random_code(rng)))
    return ""


def _footprint(item_kind: str, text: str, font: str, size_px: int) -> tuple[int, int]:
    if item_kind == "object":
        return size_px, size_px
    x1, y1, x2, y2 = int_box(load_font(font, size_px).getbbox(text))
    pad = _pad(item_kind, size_px)
    return x2 - x1 + 2 * pad, y2 - y1 + 2 * pad


def _pad(kind: str, size_px: int) -> int:
    return max(3, size_px // 3) if kind == "sign" else 2


def _make_item(rng, img, kind, size_px, taken, colors, shape) -> Item | None:
    """Choose content and a free spot; the colour is the candidate farthest from the background there."""
    text = _content(rng, kind)
    font = pick(rng, font_names("Bold" if kind == "sign" else ""))
    fw, fh = _footprint(kind, text, font, size_px)
    box = find_free_spot(rng, (fw, fh), img.size, taken, pad=max(24, 3 * size_px), border=max(8, size_px))
    if box is None:
        return None
    color, _ = farthest_color(colors, np.asarray(img.crop(box))[::2, ::2])
    ink = ink_for(NAMED_COLORS[color]) if kind == "sign" else NAMED_COLORS[color]
    return Item(kind, box, text, color, shape, ink, font, size_px)


def _place_target(rng, img, kind, size_px, cfg: CropConfig) -> Item:
    limit = cfg.max_target_fraction * img.width * img.height
    for _ in range(60):
        shape = pick(rng, SHAPES) if kind == "object" else ""
        item = _make_item(rng, img, kind, size_px, [], sample(rng, TARGET_COLORS, 4), shape)
        if item is not None and area_fraction(item.box, *img.size) * img.width * img.height <= limit:
            return item
        size_px = max(6, int(size_px * 0.9))
    raise ValueError("no room for a target under max_target_fraction; raise it or long_side_range")


def _place_distractors(rng, img, target: Item, mode: str, cfg: CropConfig) -> list[Item]:
    """Look-alikes: same kind and size; never the target's colour (or, when asking colour, its shape)."""
    out: list[Item] = []
    taken = [target.box]
    other_colors = [c for c in TARGET_COLORS if c != target.color]
    for _ in range(randint(rng, *cfg.distractors_range)):
        shape = ""
        colors = other_colors
        if target.kind == "object":
            shapes = [s for s in SHAPES if s != target.shape] if mode == "ask_color" else list(SHAPES)
            shape = pick(rng, shapes)
            colors = list(TARGET_COLORS) if mode == "ask_color" else other_colors
        item = _make_item(rng, img, target.kind, target.size_px, taken, sample(rng, colors, 3), shape)
        if item is not None:
            out.append(item)
            taken.append(item.box)
    return out


def _draw_item(draw: ImageDraw.ImageDraw, item: Item) -> None:
    x1, y1, x2, y2 = item.box
    if item.kind == "object":
        draw_shape(draw, item.shape, item.box, fill=item.ink)
        return
    font = load_font(item.font, item.size_px)
    if item.kind == "sign":
        plate = NAMED_COLORS[item.color]
        post_w = max(2, item.size_px // 5)
        cx = (x1 + x2) // 2
        draw.rectangle((cx - post_w // 2, y2, cx + post_w // 2, y2 + (y2 - y1)), fill=(110, 110, 110))
        edge = tuple(max(0, v - 70) for v in plate)
        draw.rectangle(item.box, fill=plate, outline=edge, width=max(1, item.size_px // 10))
    bx1, by1, _, _ = font.getbbox(item.text)
    pad = _pad(item.kind, item.size_px)
    draw.text((x1 + pad - bx1, y1 + pad - by1), item.text, font=font, fill=item.ink)
