"""Contrast/brightness family: a document made faint (low contrast) or dark (under-exposed).

The degradation is applied with PIL's ``ImageEnhance`` so the teacher can undo it with the same tool:
``params["fix"]`` names the enhancer and a factor (the inverse of the one applied, rounded to 0.1), which is
what Thyme's lighting/contrast data do (``ImageEnhance.Contrast(img).enhance(k)``). A little grain is added
after the degradation, as a real dim or washed-out photo would have.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

from synthesis.tasks.assemble import assemble
from synthesis.tasks.config import ContrastConfig
from synthesis.tasks.drawing.backgrounds import add_grain, make_background
from synthesis.tasks.drawing.documents import render_content
from synthesis.tasks.drawing.rand import make_rng, pick, randint, uniform
from synthesis.tasks.questions import format_open
from synthesis.tasks.task import Task

__all__ = ["ENHANCERS", "apply_fix", "generate"]

ENHANCERS = {"contrast": ImageEnhance.Contrast, "brightness": ImageEnhance.Brightness}
"""The PIL enhancers a degradation or a fix may name."""


def apply_fix(img: Image.Image, fix: dict) -> Image.Image:
    """Apply ``params["fix"]`` (``{"enhancer": ..., "factor": ...}``) the way a teacher's code would.

    Example:
        >>> apply_fix(
        ...     Image.new("RGB", (2, 2), (10, 10, 10)), {"enhancer": "brightness", "factor": 2.0}
        ... ).getpixel((0, 0))
        (20, 20, 20)
    """
    return ENHANCERS[fix["enhancer"]](img).enhance(fix["factor"])


def generate(seed: int, cfg: ContrastConfig | None = None) -> Task:
    """Make the contrast/brightness task for ``seed``.

    Args:
        seed (`int`): the task seed; the same seed and config give an identical task.
        cfg (`ContrastConfig`, *optional*): settings; defaults to ``ContrastConfig()``.

    Example:
        >>> t = generate(0)
        >>> t.params["fix"]["enhancer"] in ("contrast", "brightness")
        True
    """
    cfg = cfg or ContrastConfig()
    rng = make_rng(seed, "contrast")
    long = randint(rng, *cfg.long_side_range)
    w, h = long, int(long * uniform(rng, 0.62, 0.85))
    background = pick(rng, cfg.background_kinds)
    img = make_background(rng, w, h, background, grain=0)
    content = render_content(rng, pick(rng, ("card", "text_lines")), int(long * uniform(rng, 0.55, 0.85)))
    cw, ch = content.image.size
    if ch > h * 0.92:  # keep the document inside the frame
        content.image = content.image.resize((int(cw * h * 0.9 / ch), int(h * 0.9)), Image.Resampling.LANCZOS)
        scale = content.image.height / ch
        bx1, by1, bx2, by2 = (int(round(v * scale)) for v in content.answer_box)
        content.answer_box = (bx1, by1, bx2, by2)
        cw, ch = content.image.size
    ox, oy = randint(rng, 0, w - cw), randint(rng, 0, h - ch)
    img.paste(content.image, (ox, oy))
    kind = pick(rng, cfg.kinds)
    enhancer = "contrast" if kind == "low_contrast" else "brightness"
    factor = round(
        uniform(rng, *(cfg.contrast_factor_range if kind == "low_contrast" else cfg.brightness_factor_range)),
        3,
    )
    degraded = ENHANCERS[enhancer](img).enhance(factor)
    degraded = Image.fromarray(add_grain(np.asarray(degraded), rng, cfg.noise))
    x1, y1, x2, y2 = content.answer_box
    target = (ox + x1, oy + y1, ox + x2, oy + y2)
    params = {
        "degradation": {"kind": kind, "enhancer": enhancer, "factor": factor},
        "fix": {"enhancer": enhancer, "factor": round(1.0 / factor, 1)},
        "document_box": [ox, oy, ox + cw, oy + ch],
        "content": content.answer,
        "background": background,
    }
    return assemble(
        "contrast",
        seed,
        cfg,
        degraded,
        format_open(content.question),
        content.answer,
        content.answer_type,
        params,
        (),
        target,
        1.0 - factor,
    )
