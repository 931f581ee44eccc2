"""Rotation family: content turned by an arbitrary angle (Thyme used 30-335 degrees) that must be set upright.

Angles follow PIL's and OpenCV's convention: positive is counter-clockwise. The image shows content rotated
by ``params["rotation"]``; rotating it by ``params["correction"] = 360 - rotation`` (PIL
``Image.rotate(correction, expand=True)``) restores it, and the two always sum to 360, never to +-180 (the
reference's rule for the rotation data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from synthesis.tasks.assemble import assemble
from synthesis.tasks.config import RotateConfig
from synthesis.tasks.drawing.backgrounds import make_background
from synthesis.tasks.drawing.documents import Content, render_content
from synthesis.tasks.drawing.rand import chance, make_rng, pick, randint, uniform
from synthesis.tasks.questions import LETTERS, format_choice, format_open
from synthesis.tasks.task import Task

__all__ = ["RotateScene", "draw_angle", "generate", "render"]


@dataclass
class RotateScene:
    """The upright content, the final rotated image, and where the content lies in it."""

    content: Content
    image: Image.Image
    rotation: int
    content_box: tuple[int, int, int, int]
    content_kind: str
    background: str


def draw_angle(rng: np.random.Generator, cfg: RotateConfig) -> int:
    """A counter-clockwise rotation in whole degrees from ``cfg.angle_ranges`` (sometimes a right angle).

    Example:
        >>> 30 <= draw_angle(make_rng(0), RotateConfig()) <= 335
        True
    """
    rights = [a for a in (90, 180, 270) if any(lo <= a <= hi for lo, hi in cfg.angle_ranges)]
    if rights and chance(rng, cfg.right_angle_prob):
        return pick(rng, rights)
    widths = np.array([hi - lo + 1 for lo, hi in cfg.angle_ranges], np.float64)
    lo, hi = cfg.angle_ranges[int(rng.choice(len(widths), p=widths / widths.sum()))]
    return randint(rng, lo, hi)


def render(seed: int, cfg: RotateConfig) -> RotateScene:
    """Render the rotated scene for ``seed`` (the upright content is kept for checks and previews).

    Example:
        >>> render(0, RotateConfig()).rotation == generate(0).params["rotation"]
        True
    """
    rng = make_rng(seed, "rotate")
    kind = pick(rng, cfg.content_kinds)
    content = render_content(rng, kind, randint(rng, *cfg.content_side_range))
    rotation = draw_angle(rng, cfg)
    rgba = content.image.convert("RGBA")
    turned = rgba.rotate(rotation, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0, 0))
    mx = int(turned.width * uniform(rng, *cfg.margin_range))
    my = int(turned.height * uniform(rng, *cfg.margin_range))
    background = pick(rng, cfg.background_kinds)
    canvas = make_background(rng, turned.width + 2 * mx, turned.height + 2 * my, background, grain=2.0)
    canvas.paste(turned, (mx, my), turned)
    alpha = np.asarray(turned.getchannel("A")) > 0
    ys, xs = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    box = (mx + int(xs[0]), my + int(ys[0]), mx + int(xs[-1]) + 1, my + int(ys[-1]) + 1)
    return RotateScene(content, canvas, rotation, box, kind, background)


def generate(seed: int, cfg: RotateConfig | None = None) -> Task:
    """Make the rotation task for ``seed``.

    Args:
        seed (`int`): the task seed; the same seed and config give an identical task.
        cfg (`RotateConfig`, *optional*): settings; defaults to ``RotateConfig()``.

    Example:
        >>> p = generate(1).params
        >>> (p["rotation"] + p["correction"]) % 360
        0
    """
    cfg = cfg or RotateConfig()
    scene = render(seed, cfg)
    c = scene.content
    if c.answer_type == "choice":
        question, answer = format_choice(c.question, c.options), LETTERS[c.options.index(c.answer)]
    else:
        question, answer = format_open(c.question), c.answer
    params = {
        "rotation": scene.rotation,
        "correction": 360 - scene.rotation,
        "convention": "degrees counter-clockwise, as PIL Image.rotate(angle, expand=True)",
        "content_kind": scene.content_kind,
        "content_size": list(c.image.size),
        "content": c.answer,
        "background": scene.background,
    }
    difficulty = min(scene.rotation, 360 - scene.rotation) / 180.0
    return assemble(
        "rotate",
        seed,
        cfg,
        scene.image,
        question,
        answer,
        c.answer_type,
        params,
        c.options,
        scene.content_box,
        difficulty,
    )
