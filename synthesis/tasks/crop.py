"""Crop/zoom family: ask about a small target in a large cluttered image (the V*-style crop data).

The question names the target by colour (or shape) and by a position phrase derived from its true location,
so it is answerable; look-alike distractors elsewhere make the colour alone or a glance insufficient. The
teacher's crop is given in ``params["crop_box"]`` (the target box plus a margin, at least 64 px a side).

``CropConfig.layout = "grid"`` draws an N x N grid of large digits instead (``drawing/grid.py``) and asks for
the digit in one row and column; the crop box is that cell, so the same teacher code crops and zooms it.
"""

from __future__ import annotations

import numpy as np

from synthesis.tasks.assemble import assemble
from synthesis.tasks.config import CropConfig
from synthesis.tasks.drawing.colors import TARGET_COLORS
from synthesis.tasks.drawing.geometry import area_fraction, crop_box_around, position_phrase
from synthesis.tasks.drawing.grid import GridScene, build_grid, cell_box
from synthesis.tasks.drawing.rand import make_rng, sample
from synthesis.tasks.drawing.scene import CropScene, build_scene
from synthesis.tasks.drawing.shapes import SHAPES
from synthesis.tasks.questions import LETTERS, format_choice, format_open
from synthesis.tasks.task import Task

__all__ = ["generate", "generate_grid", "grid_params", "question_for", "scene_params"]


def generate(seed: int, cfg: CropConfig | None = None) -> Task:
    """Make the crop task for ``seed``.

    Args:
        seed (`int`): the task seed; the same seed and config give an identical task.
        cfg (`CropConfig`, *optional*): settings; defaults to ``CropConfig()``.

    Example:
        >>> t = generate(3, CropConfig(long_side_range=(2048, 2048)))
        >>> t.family, max(t.width, t.height)
        ('crop', 2048)
    """
    cfg = cfg or CropConfig()
    rng = make_rng(seed, "crop")
    if cfg.layout == "grid":
        return generate_grid(rng, seed, cfg)
    scene = build_scene(rng, cfg)
    question, answer, answer_type, choices = question_for(rng, scene)
    w, h = scene.image.size
    return assemble(
        "crop",
        seed,
        cfg,
        scene.image,
        question,
        answer,
        answer_type,
        scene_params(scene),
        choices,
        scene.target.box,
        area_fraction(scene.target.box, w, h),
    )


def question_for(rng: np.random.Generator, scene: CropScene) -> tuple[str, str, str, tuple[str, ...]]:
    """The formatted question, answer, answer type and options for the scene's target.

    Args:
        rng (`numpy.random.Generator`): the task's generator (shuffles options).
        scene (`CropScene`): the rendered scene.
    """
    t = scene.target
    where = position_phrase(t.box, *scene.image.size)
    if t.kind == "object":
        pool: tuple[str, ...]
        if scene.mode == "ask_shape":
            truth, pool, q = t.shape, SHAPES, f"What shape is the small {t.color} object {where}?"
        else:
            truth, pool, q = t.color, TARGET_COLORS, f"What color is the small {t.shape} {where}?"
        options = tuple(sample(rng, [truth] + sample(rng, [p for p in pool if p != truth], 3), 4))
        return format_choice(q, options), LETTERS[options.index(truth)], "choice", options
    if t.kind == "sign":
        q = f"What is written on the small {t.color} sign {where}?"
    elif t.kind == "digits":
        q = f"What number is written in small {t.color} digits {where}?"
    else:
        noun = "code" if "-" in t.text else "word"
        symbols = "characters" if noun == "code" else "letters"
        q = f"What {noun} is written in small {t.color} {symbols} {where}?"
    return format_open(q), t.text, "number" if t.kind == "digits" else "text", ()


def scene_params(scene: CropScene) -> dict:
    """Teacher facts for a crop scene: the target, the suggested crop and zoom, and the distractors."""
    t = scene.target
    w, h = scene.image.size
    return {
        "target_kind": t.kind,
        "question_mode": scene.mode,
        "content": t.text or (t.shape if scene.mode == "ask_shape" else t.color),
        "color": t.color,
        "shape": t.shape,
        "ink_rgb": list(t.ink),
        "size_px": scene.size_px,
        "font": t.font if t.kind != "object" else "",
        "position": position_phrase(t.box, w, h),
        "background": scene.background,
        "crop_box": list(crop_box_around(t.box, w, h)),
        "zoom": 2,
        "distractor_boxes": [list(d.box) for d in scene.distractors],
    }


def generate_grid(rng: np.random.Generator, seed: int, cfg: CropConfig) -> Task:
    """The grid-layout crop task: "What digit is in row r, column c of the grid?" (number, one digit).

    Example:
        >>> t = generate(3, CropConfig(layout="grid", grid_cells=4, grid_cell_px=80))
        >>> t.question.splitlines()[0], t.answer_type, t.params["crop_box"], t.answer == t.params["content"]
        ('What digit is in row 3, column 4 of the grid?', 'number', [240, 160, 320, 240], True)
    """
    grid = build_grid(rng, cfg)
    params = grid_params(grid, cfg)
    question = format_open(f"What digit is in {params['position_words']}?")
    w, h = grid.image.size
    return assemble(
        "crop",
        seed,
        cfg,
        grid.image,
        question,
        grid.answer,
        "number",
        params,
        (),
        grid.glyph_box,
        area_fraction(grid.glyph_box, w, h),
    )


def grid_params(grid: GridScene, cfg: CropConfig) -> dict:
    """Teacher facts for a grid: the asked cell (1-based), its digit, the crop (the cell) and the zoom."""
    words = f"row {grid.row + 1}, column {grid.col + 1} of the grid"
    return {
        "layout": "grid",
        "target_kind": "digits",
        "question_mode": "read",
        "content": grid.answer,
        "row": grid.row + 1,
        "column": grid.col + 1,
        "position_words": words,
        "position": f"in {words}",
        "font": grid.font,
        "size_px": grid.glyph_px,
        "grid_cells": cfg.grid_cells,
        "cell_px": cfg.grid_cell_px,
        "crop_box": list(cell_box(grid.row, grid.col, cfg.grid_cell_px)),
        "zoom": 2,
    }
