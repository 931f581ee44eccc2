"""Multi-round family: a crop scene plus a first box that is too wide or wrong, then the true box.

Thyme's two-round data come in two kinds: "further enhancement" (round 1 crops a larger box that contains the
target, round 2 crops the target) and "error correction" (round 1 crops a wrong region, round 2 notices and
fixes it). Here ``zoom_in`` is the first and ``wrong`` the second; the wrong box is placed on a look-alike
distractor, so the first round is a plausible mistake, and it never touches the true box.
"""

from __future__ import annotations

import numpy as np

from synthesis.tasks.assemble import assemble
from synthesis.tasks.config import MultiRoundConfig
from synthesis.tasks.crop import question_for, scene_params
from synthesis.tasks.drawing.geometry import Box, area_fraction, crop_box_around, intersects
from synthesis.tasks.drawing.rand import make_rng, pick, uniform
from synthesis.tasks.drawing.scene import build_scene
from synthesis.tasks.task import Task

__all__ = ["generate", "wide_box"]


def generate(seed: int, cfg: MultiRoundConfig | None = None) -> Task:
    """Make the two-round task for ``seed``.

    Args:
        seed (`int`): the task seed; the same seed and config give an identical task.
        cfg (`MultiRoundConfig`, *optional*): settings; defaults to ``MultiRoundConfig()``.

    Example:
        >>> from synthesis.tasks.config import CropConfig
        >>> t = generate(5, MultiRoundConfig(crop=CropConfig(long_side_range=(2048, 2048))))
        >>> t.params["mode"] in ("zoom_in", "wrong")
        True
    """
    cfg = cfg or MultiRoundConfig()
    rng = make_rng(seed, "multi_round")
    scene = build_scene(rng, cfg.crop)
    question, answer, answer_type, choices = question_for(rng, scene)
    w, h = scene.image.size
    true_box = crop_box_around(scene.target.box, w, h)
    decoys = [crop_box_around(d.box, w, h) for d in scene.distractors]
    decoys = [d for d in decoys if not intersects(d, scene.target.box, pad=8)]
    mode = pick(rng, cfg.modes)
    if mode == "wrong" and not decoys:
        mode = "zoom_in"
    first = (
        pick(rng, decoys) if mode == "wrong" else wide_box(rng, scene.target.box, w, h, cfg.wide_scale_range)
    )
    params = scene_params(scene) | {"mode": mode, "first_box": list(first), "true_box": list(true_box)}
    return assemble(
        "multi_round",
        seed,
        cfg,
        scene.image,
        question,
        answer,
        answer_type,
        params,
        choices,
        scene.target.box,
        area_fraction(scene.target.box, w, h),
    )


def wide_box(
    rng: np.random.Generator, target: Box, width: int, height: int, scale: tuple[float, float]
) -> Box:
    """A box ``scale`` times the target's size that contains it, off-centre, clipped to the image.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        target (`Box`): the target box.
        width (`int`): image width.
        height (`int`): image height.
        scale (`tuple[float, float]`): range of the side ratio to the target's crop box.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> b = wide_box(make_rng(0), (100, 100, 120, 110), 1000, 1000, (4.0, 4.0))
        >>> b[0] <= 100 and b[1] <= 100 and b[2] >= 120 and b[3] >= 110
        True
    """
    x1, y1, x2, y2 = crop_box_around(target, width, height)
    s = uniform(rng, *scale)
    bw, bh = int((x2 - x1) * s), int((y2 - y1) * s)
    left = int(uniform(rng, 0.15, 0.85) * (bw - (x2 - x1)))
    top = int(uniform(rng, 0.15, 0.85) * (bh - (y2 - y1)))
    return (max(0, x1 - left), max(0, y1 - top), min(width, x1 - left + bw), min(height, y1 - top + bh))
