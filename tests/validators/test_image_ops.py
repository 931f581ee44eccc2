"""Image measurements: literal crop boxes, crop location by template matching, uprightness, contrast."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance

from validators.image_ops import coverage, crop_box_from_code, locate_crop, rms_contrast, upright_angle


@pytest.mark.parametrize(
    "code, box",
    [
        ("x1, y1, x2, y2 = 1, 2, 30, 40\ncrop = img.crop((x1, y1, x2, y2))", (1, 2, 30, 40)),
        ("crop = img.crop((5, 6, 70, 80))", (5, 6, 70, 80)),
        ("roi = image[10:90, 20:120]", (20, 10, 120, 90)),
        ("x1, y1, x2, y2 = (3, 4, 50, 60)", (3, 4, 50, 60)),
        ("a = img.crop((0, 0, 9, 9))\nb = img.crop((10, 10, 99, 99))", (10, 10, 99, 99)),
        ("left = 4\ncrop = img.crop((left, 0, 20, 20))", None),
    ],
)
def test_crop_box_from_code(code, box):
    assert crop_box_from_code(code) == box


def test_coverage():
    assert coverage((0, 0, 100, 100), (10, 10, 20, 20)) == 1.0
    assert coverage((0, 0, 100, 100), (200, 200, 220, 220)) == 0.0


def _textured(w=900, h=600, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)


@pytest.mark.parametrize("zoom", [1, 2, 3])
def test_locate_crop_at_unknown_zoom(zoom):
    img = _textured()
    box = (400, 220, 520, 310)
    crop = img.crop(box).resize((120 * zoom, 90 * zoom), Image.Resampling.LANCZOS)
    found, score = locate_crop(img, crop)
    assert score > 0.8 and all(abs(a - b) <= 3 for a, b in zip(found, box, strict=True))


def test_locate_crop_of_another_image_scores_low():
    crop = _textured(seed=1).crop((100, 100, 300, 250))
    assert locate_crop(_textured(seed=0), crop)[1] < 0.6


def _arrow():
    img = Image.new("RGB", (300, 200), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 80, 200, 120), fill="black")
    draw.polygon([(200, 50), (270, 100), (200, 150)], fill="black")
    draw.text((50, 20), "UPRIGHT TEXT", fill="black")
    return img


@pytest.mark.parametrize("rotation", [37, 90, 135, 200, 300])
def test_upright_angle_finds_the_correction(rotation):
    upright = _arrow()
    turned = upright.rotate(rotation, expand=True, fillcolor="white")
    correction = (360 - rotation) % 360
    fixed = turned.rotate(correction, expand=True, fillcolor="white")
    candidates = (correction, (correction + 90) % 360, (correction + 180) % 360, (correction + 270) % 360, 0)
    assert upright_angle(turned, fixed, candidates) == correction
    wrong = turned.rotate(rotation, expand=True, fillcolor="white")
    assert upright_angle(turned, wrong, candidates) != correction


def test_rms_contrast_rises_with_enhancement():
    img = ImageEnhance.Contrast(_arrow()).enhance(0.3)
    assert rms_contrast(ImageEnhance.Contrast(img).enhance(3.0)) > 1.5 * rms_contrast(img)
