"""Images check: one test per reason on small synthetic records (pure: no sandbox)."""

import io

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import ImagesCheckConfig
from validators.images import block_images, check_images


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _input(w=800, h=600):
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC
    )


def _record(family, original, blocks, target=None, params=None):
    """``blocks``: (code, [produced images]) pairs."""
    segments, images = [fmt.Text("Let me look closer.")], [_png(original)]
    for code, produced in blocks:
        segments += [fmt.Code(code), fmt.SandboxOutput(len(produced), "" if produced else "42")]
        images += [_png(p) for p in produced]
    response = fmt.render(fmt.Trajectory(tuple(segments), " ", "x"))
    task_params = {"target": target, "params": params or {}}
    return SftRecord(
        id="t",
        images=tuple(images),
        question="q",
        image_size=original.size,
        response=response,
        answer="x",
        answer_type="text",
        family=family,
        task_params=task_params,
    )


CROP = "x1, y1, x2, y2 = {}, {}, {}, {}\ncrop = img.crop((x1, y1, x2, y2))"
TARGET = [420, 250, 470, 280]


def _crop(box, zoom=2, original=None):
    original = original or _input()
    w, h = box[2] - box[0], box[3] - box[1]
    return original.crop(box).resize((w * zoom, h * zoom))


def test_good_crop_passes():
    box = (400, 230, 500, 300)
    assert check_images(_record("crop", _input(), [(CROP.format(*box), [_crop(box)])], TARGET)).passed


def test_block_images_maps_placeholders():
    box = (400, 230, 500, 300)
    rec = _record(
        "multi_round",
        _input(),
        [(CROP.format(*box), [_crop(box)]), ("print(1)", []), (CROP.format(*box), [_crop(box), _crop(box)])],
        TARGET,
    )
    assert [indices for _, indices in block_images(rec)] == [[1], [], [2, 3]]


def test_undecodable():
    rec = _record(
        "crop", _input(), [(CROP.format(400, 230, 500, 300), [_crop((400, 230, 500, 300))])], TARGET
    )
    broken = SftRecord(
        **{**{f: getattr(rec, f) for f in rec.__slots__}, "images": (rec.images[0], b"\x89PNG junk")}
    )
    assert check_images(broken).reason == "images_undecodable"


@pytest.mark.parametrize(
    "size, reason", [((40, 200), "images_too_small"), ((20000, 100), "images_too_large")]
)
def test_size_limits(size, reason):
    big = Image.new("RGB", size, "white")
    big.putpixel((0, 0), (0, 0, 0))
    assert check_images(_record("crop", _input(), [("print(p)", [big])], TARGET)).reason == reason


def test_bad_aspect():
    wide = _input(9000, 64)
    cfg = ImagesCheckConfig(max_aspect=100)
    assert (
        check_images(_record("crop", _input(), [("print(p)", [wide])], TARGET), cfg).reason
        == "images_bad_aspect"
    )


def test_blank():
    blank = Image.new("RGB", (200, 200), (250, 250, 250))
    assert check_images(_record("crop", _input(), [("print(p)", [blank])], TARGET)).reason == "images_blank"


def test_missing_image_for_an_image_family():
    assert check_images(_record("rotate", _input(), [("print(1)", [])])).reason == "images_missing"
    assert check_images(_record("compute", _input(), [("print(1)", [])])).passed


def test_crop_out_of_bounds():
    box = (700, 230, 900, 300)
    rec = _record("crop", _input(), [(CROP.format(*box), [_crop(box)])], TARGET)
    assert check_images(rec).reason == "images_crop_out_of_bounds"


def test_crop_misses_target():
    box = (10, 10, 110, 80)
    rec = _record("crop", _input(), [(CROP.format(*box), [_crop(box)])], TARGET)
    verdict = check_images(rec)
    assert verdict.reason == "images_crop_misses_target" and "0%" in verdict.detail


def test_only_the_last_crop_must_hold_the_target():
    wrong, right = (10, 10, 110, 80), (400, 230, 500, 300)
    rec = _record(
        "multi_round",
        _input(),
        [(CROP.format(*wrong), [_crop(wrong)]), (CROP.format(*right), [_crop(right)])],
        TARGET,
    )
    assert check_images(rec).passed


def test_crop_located_by_template_matching_when_code_has_no_literal_box():
    code = "box = compute_box()\ncrop = img.crop(box)"
    assert check_images(
        _record("crop", _input(), [(code, [_crop((400, 230, 500, 300), zoom=3)])], TARGET)
    ).passed
    assert (
        check_images(_record("crop", _input(), [(code, [_crop((50, 50, 150, 120))])], TARGET)).reason
        == "images_crop_misses_target"
    )
    other = Image.fromarray(np.random.default_rng(5).integers(0, 255, (80, 100, 3), dtype=np.uint8)).resize(
        (200, 160)
    )
    assert (
        check_images(_record("crop", _input(), [(code, [other])], TARGET)).reason == "images_crop_not_found"
    )


def test_no_target():
    box = (400, 230, 500, 300)
    rec = _record("crop", _input(), [(CROP.format(*box), [_crop(box)])], None)
    assert check_images(rec).passed
    assert check_images(rec, ImagesCheckConfig(require_target=True)).reason == "images_no_target"


def _document():
    img = Image.new("RGB", (400, 260), "white")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for i in range(5):
        draw.rectangle((30, 30 + 40 * i, 200 + 30 * i, 50 + 40 * i), fill="black")
    return img


def test_rotation_upright_and_not():
    turned = _document().rotate(120, expand=True, fillcolor="white")
    params = {"rotation": 120, "correction": 240}
    good = turned.rotate(240, expand=True, fillcolor="white")
    assert check_images(_record("rotate", turned, [("angle = 240", [good])], params=params)).passed
    bad = turned.rotate(60, expand=True, fillcolor="white")
    verdict = check_images(_record("rotate", turned, [("angle = 60", [bad])], params=params))
    assert verdict.reason == "images_not_upright" and "60" in verdict.detail


def test_contrast_raised_and_not():
    faint = ImageEnhance.Contrast(_document()).enhance(0.25)
    assert check_images(
        _record("contrast", faint, [("enhance", [ImageEnhance.Contrast(faint).enhance(4)])])
    ).passed
    verdict = check_images(
        _record("contrast", faint, [("enhance", [ImageEnhance.Contrast(faint).enhance(1.02)])])
    )
    assert verdict.reason == "images_contrast_not_raised"
