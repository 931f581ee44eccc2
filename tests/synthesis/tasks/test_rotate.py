import functools

import cv2
import pytest
from PIL import Image
from tasks_measure import center_crop, correlation, gray

from synthesis.tasks.config import RotateConfig
from synthesis.tasks.drawing.encode import decode_image
from synthesis.tasks.drawing.rand import make_rng
from synthesis.tasks.rotate import draw_angle, generate, render

_task = functools.lru_cache(maxsize=None)(generate)  # read-only checks share one generation per seed

SEEDS = range(12)
SLOW_SEEDS = range(12, 62)


def test_same_seed_same_task_and_bytes():
    a, b = generate(4), generate(4)
    assert a == b and a.image == b.image


def test_different_seeds_differ():
    assert len({generate(s).image for s in range(5)}) == 5


@pytest.mark.parametrize("seed", SEEDS)
def test_rotation_plus_correction_is_360_and_in_range(seed):
    p = _task(seed).params
    assert p["rotation"] + p["correction"] == 360
    assert 30 <= p["rotation"] <= 335


def test_angle_ranges_are_respected():
    cfg = RotateConfig(angle_ranges=[(40, 50), (300, 310)], right_angle_prob=0.0)
    angles = {draw_angle(make_rng(s), cfg) for s in range(200)}
    assert all(40 <= a <= 50 or 300 <= a <= 310 for a in angles)
    assert any(a <= 50 for a in angles) and any(a >= 300 for a in angles)


def test_target_is_the_content_inside_the_image():
    for seed in SEEDS:
        t = _task(seed)
        x1, y1, x2, y2 = t.target
        assert 0 <= x1 < x2 <= t.width and 0 <= y1 < y2 <= t.height


def test_choice_answers_map_to_the_content():
    for seed in range(30):
        t = _task(seed)
        if t.answer_type == "choice":
            assert t.choices["ABCD".index(t.answer)] == t.params["content"]
        else:
            assert t.answer == t.params["content"]


def _edges(a):
    return cv2.GaussianBlur(cv2.Laplacian(cv2.GaussianBlur(a, (0, 0), 1.5), cv2.CV_32F), (0, 0), 2.0)


def _restores_upright(seed):
    t = _task(seed)
    scene = render(seed, RotateConfig())
    up = gray(scene.content.image)
    h, w = up.shape
    img = decode_image(t.image)
    fixed = gray(img.rotate(t.params["correction"], resample=Image.Resampling.BICUBIC, expand=True))
    unfixed = gray(img)
    if unfixed.shape[0] < h or unfixed.shape[1] < w:  # pad so an uncorrected window of the same size exists
        unfixed = cv2.copyMakeBorder(unfixed, h, h, w, w, cv2.BORDER_REFLECT)
    after = correlation(_edges(center_crop(fixed, w, h)), _edges(up))
    before = correlation(_edges(center_crop(unfixed, w, h)), _edges(up))
    return before, after


@pytest.mark.parametrize("seed", SEEDS)
def test_correction_restores_the_upright_content(seed):
    before, after = _restores_upright(seed)
    assert after > 0.8, (before, after)
    assert before < 0.5, (before, after)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_correction_restores_the_upright_content_many_seeds(seed):
    before, after = _restores_upright(seed)
    assert after > 0.8 and before < 0.5, (before, after)
