"""The crop family's grid layout: deterministic, consistent, illegible at 64 px and legible once cropped."""

import argparse
import dataclasses
import functools
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthesis.tasks import TasksConfig, generate_task
from synthesis.tasks.assemble import id_config
from synthesis.tasks.config import CropConfig, MultiRoundConfig
from synthesis.tasks.crop import generate
from synthesis.tasks.drawing.grid import build_grid, cell_box
from synthesis.tasks.drawing.rand import make_rng

GRID = CropConfig(layout="grid", grain=0.0)
_task = functools.lru_cache(maxsize=None)(lambda seed: generate(seed, GRID))


def test_same_seed_same_grid_task_and_bytes():
    a, b = generate(5, GRID), generate(5, GRID)
    assert a == b and a.image == b.image
    assert len({_task(s).image for s in range(4)}) == 4


@pytest.mark.parametrize("seed", range(12))
def test_question_answer_and_crop_box_agree(seed):
    t = _task(seed)
    row, col = map(
        int, re.match(r"What digit is in row (\d+), column (\d+) of the grid\?", t.question).groups()
    )
    n, cell = GRID.grid_cells, GRID.grid_cell_px
    assert 1 <= row <= n and 1 <= col <= n and (t.width, t.height) == (n * cell, n * cell)
    assert t.answer_type == "number" and t.answer in "0123456789" and len(t.answer) == 1
    assert t.answer == t.params["content"] and (t.params["row"], t.params["column"]) == (row, col)
    assert tuple(t.params["crop_box"]) == cell_box(row - 1, col - 1, cell)
    cx1, cy1, cx2, cy2 = t.params["crop_box"]
    x1, y1, x2, y2 = t.target
    assert cx1 <= x1 < x2 <= cx2 and cy1 <= y1 < y2 <= cy2
    assert t.params["position"] in t.question.replace("What digit is ", "")


def test_grid_digits_are_the_drawn_answer():
    g = build_grid(make_rng(3, "crop"), GRID)
    t = _task(3)
    assert t.answer == g.digits[g.row][g.col] and (t.width, t.height) == g.image.size


def test_eval_long_side_override_leaves_the_grid_alone():
    from train.config import EvalConfig
    from train.evaluate import build_benchmark

    tasks = TasksConfig(count=3, mix={"crop": 1.0}, crop=GRID)
    prompts = build_benchmark(EvalConfig(count=3), tasks)
    assert all(
        p.image_size == (1200, 1200) and p.question.startswith("What digit is in row") for p in prompts
    )


def test_eval_glyph_override_draws_smaller_digits_for_the_same_questions():
    """``train.eval.grid_glyph_range`` makes held-out digits smaller than training's: measured as dark pixels
    of the whole canvas, not read back from the task parameters."""
    import io

    from train.config import EvalConfig
    from train.evaluate import build_benchmark

    trained = dataclasses.replace(GRID, grid_glyph_range=(0.75, 0.75))
    tasks = TasksConfig(count=3, mix={"crop": 1.0}, crop=trained)
    same = build_benchmark(EvalConfig(count=3), tasks)
    small = build_benchmark(EvalConfig(count=3, grid_glyph_range=[0.4, 0.4]), tasks)

    def ink(p) -> int:
        return int((np.asarray(Image.open(io.BytesIO(p.image)).convert("L")) < 96).sum())

    assert [p.question for p in small] == [p.question for p in same]
    assert all(ink(s) < 0.5 * ink(p) for s, p in zip(small, same, strict=True))
    with pytest.raises(ValueError, match="grid_glyph_range"):
        EvalConfig(grid_glyph_range=[0.4])
    from runconfig.typed import ConfigError
    from train.run import load

    miniature = str(Path(__file__).resolve().parents[3] / "configs" / "miniature.yaml")
    args = dict(config=miniature, sft_data="", rl_data="", output_dir="", model="")

    def refused(*overrides: str) -> str:
        with pytest.raises(ConfigError, match="grid_glyph_range") as err:  # at load, before any work
            load(argparse.Namespace(**args, overrides=list(overrides)))
        return str(err.value)

    refused("train.eval.grid_glyph_range=[0.1,0.1]")  # out of the crop config's bounds
    assert "layout 'scene'" in refused("tasks.crop.layout=scene")  # no task would draw it: not ignored
    assert "mix" in refused("tasks.mix={rotate: 1.0}")
    assert load(argparse.Namespace(**args, overrides=[]))[0].eval.grid_glyph_range == [0.65, 0.65]


def test_scene_layout_ids_and_bytes_unchanged():
    """The new grid keys are left out of the id hash at their defaults: existing configs keep their ids."""
    plain = dataclasses.asdict(CropConfig())
    new = {k for k in plain if k == "layout" or k.startswith("grid_")}
    assert len(new) == 8 and not new & set(id_config(CropConfig()))
    assert id_config(CropConfig()) == {k: v for k, v in plain.items() if k not in new}
    assert generate_task("crop", 0, TasksConfig()).id == "crop-000000-6e2a4935"
    assert generate_task("multi_round", 1, TasksConfig()).id.startswith("multi_round-000001-")
    assert "layout" not in id_config(MultiRoundConfig())["crop"]
    assert generate(0, GRID).id != generate(0, dataclasses.replace(GRID, grid_cells=11)).id


def _views(seed: int):
    """Each cell as the model would see it: in the 64 px view of the whole canvas (8 x 8 luminance samples
    of the cell's ~5 px) and in the 64 px view of the teacher's crop (cell, 2x zoom), 16 x 16 samples."""
    g = build_grid(make_rng(seed, "crop"), GRID)
    small, s, cell = g.image.resize((64, 64), Image.BICUBIC), 64 / g.image.width, GRID.grid_cell_px
    full, zoomed, labels = [], [], []
    for r in range(GRID.grid_cells):
        for c in range(GRID.grid_cells):
            box = cell_box(r, c, cell)
            view = small.resize((8, 8), Image.BILINEAR, box=tuple(v * s for v in box))
            full.append(np.asarray(view.convert("L"), float).ravel())
            crop = (
                g.image.crop(box).resize((2 * cell, 2 * cell), Image.LANCZOS).resize((64, 64), Image.BICUBIC)
            )
            zoomed.append(np.asarray(crop.convert("L").resize((16, 16), Image.BILINEAR), float).ravel())
            labels.append(int(g.digits[r][c]))
    return np.array(full), np.array(zoomed), np.array(labels)


def _nearest_neighbour_accuracy(train, test, which: int) -> float:
    x = np.concatenate([t[which] for t in train])
    y = np.concatenate([t[2] for t in train])
    xt = np.concatenate([t[which] for t in test])
    yt = np.concatenate([t[2] for t in test])
    x, xt = x - x.mean(1, keepdims=True), xt - xt.mean(1, keepdims=True)
    dist = (xt**2).sum(1)[:, None] - 2 * xt @ x.T + (x**2).sum(1)[None]
    return float((y[dist.argmin(1)] == yt).mean())


def test_digit_illegible_at_64px_and_legible_after_the_crop():
    """Measured from pixels: a 1-NN digit classifier with ~1,150 labelled cells of other grids, given the
    exact cell, reads under half the digits in the 64 px view of the canvas (chance 10 %; ink amount alone
    tells a 1 from an 8) and about twice as many in the 64 px view of the zoomed crop; the glyph is at most
    ~4 px tall in the first and ~35-50 px in the second."""
    train, test = [_views(s) for s in range(8)], [_views(s) for s in range(100, 102)]
    full, cropped = _nearest_neighbour_accuracy(train, test, 0), _nearest_neighbour_accuracy(train, test, 1)
    assert full < 0.5 and cropped > 0.75 and cropped > 1.7 * full
    t = _task(0)
    glyph_h = t.target[3] - t.target[1]
    assert glyph_h * 64 / t.height <= 5
    assert glyph_h * 64 / GRID.grid_cell_px >= 25


MINIATURE = CropConfig(
    layout="grid",
    grain=0.0,
    grid_glyph_range=(0.75, 0.75),
    grid_fonts=["DejaVuSans-Bold", "DejaVuSerif-Bold", "DejaVuSansMono-Bold"],
    grid_inks=["black"],
    grid_jitter=0.0,
)


def test_miniature_digits_are_centred_in_their_cell_and_fill_the_zoomed_view():
    """configs/miniature.yaml's grid: centred black digits, ~4 px tall at 64 px, ~48 px in the zoomed cell."""
    for seed in range(6):
        t = generate(seed, MINIATURE)
        x1, y1, x2, y2 = t.target
        cx1, cy1, cx2, cy2 = t.params["crop_box"]
        assert abs((x1 + x2) - (cx1 + cx2 + 2)) <= 3 and abs((y1 + y2) - (cy1 + cy2 + 2)) <= 3
        assert (y2 - y1) * 64 / t.height <= 5 and (y2 - y1) * 64 / (cy2 - cy1) >= 35


@pytest.mark.parametrize(
    "bad",
    [{"grid_inks": ["pink"]}, {"grid_jitter": 1.5}, {"grid_cells": 1}, {"grid_cell_px": 32}, {"layout": "x"}],
)
def test_bad_grid_settings_are_refused(bad):
    with pytest.raises(ValueError):
        CropConfig(**bad)
