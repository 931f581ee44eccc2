"""Unit tests of the pure fix-up rewrites (thyme.md section 3.3)."""

from __future__ import annotations

import doctest

import pytest

from sandbox import clamp, fixups
from sandbox.fixups import (
    FixContext,
    apply_fixups,
    clamp_box,
    clamp_crop_boxes,
    clamp_numpy_slices,
    fix_cv_aliases,
    fix_image_path,
    output_subdirs,
    remap_output_dir,
    repair_indentation,
    widen_precision,
)

CTX = FixContext(
    image_path="/mnt/data/input/cat.jpg", input_paths=("/mnt/data/input/cat.jpg",), image_size=(640, 480)
)


def test_doctests() -> None:
    assert doctest.testmod(fixups).failed == 0
    assert doctest.testmod(clamp).failed == 0


@pytest.mark.parametrize(
    ("box", "size", "expected"),
    [
        ((10, 20, 300, 400), (640, 480), (10, 20, 300, 400)),  # inside: unchanged
        ((300, 400, 10, 20), (640, 480), (10, 20, 300, 400)),  # reversed corners are ordered
        ((-50, -5, 700, 900), (640, 480), (0, 0, 640, 480)),  # clipped to the image
        ((100, 100, 110, 120), (640, 480), (100, 100, 164, 164)),  # widened to the 64 px minimum
        ((630, 470, 640, 480), (640, 480), (576, 416, 640, 480)),  # widened at the border: shifted inward
        ((5, 5, 10, 10), (40, 30), (0, 0, 40, 30)),  # image smaller than the minimum: full extent
        ((700, 500, 800, 600), (640, 480), (576, 416, 640, 480)),  # entirely outside
        ((10.6, 20.2, 300.4, 400.5), (640, 480), (11, 20, 300, 400)),  # rounded
    ],
)
def test_clamp_box(box, size, expected) -> None:
    assert clamp_box(box, size, 64) == expected


def test_clamp_tuple_unpacking_keeps_comments() -> None:
    code = "# crop the sign\nx1, y1, x2, y2 = 600, 10, 9999, 20  # top right\n"
    assert (
        clamp_crop_boxes(code, (640, 480))
        == "# crop the sign\nx1, y1, x2, y2 = 576, 10, 640, 74  # top right\n"
    )


def test_clamp_named_box_and_crop_call() -> None:
    assert clamp_crop_boxes("bbox = [0, 0, 1000, 1000]", (640, 480)) == "bbox = [0, 0, 640, 480]"
    assert clamp_crop_boxes("out = img.crop((-1, 0, 50, 50))", (640, 480)) == "out = img.crop((0, 0, 64, 64))"


def test_clamp_leaves_computed_and_unrelated_tuples() -> None:
    for code in ("x1, y1, x2, y2 = a, 0, 10, 10", "rgb = (300, 0, 0, 0)", "a, b, c, d = 0, 0, 9999, 9999"):
        assert clamp_crop_boxes(code, (640, 480)) == code
    assert clamp_crop_boxes("bbox = (0, 0, 9999, 9999)", None) == "bbox = (0, 0, 9999, 9999)"


def test_clamp_numpy_slices_on_python_311() -> None:
    assert clamp_numpy_slices("c = img[400:9000, -3:20]", (640, 480)) == "c = img[400:480, 0:64]"
    assert clamp_numpy_slices("c = img[0:10, 0:100, :]", (640, 480)) == "c = img[0:64, 0:100, :]"
    for code in ("c = arr[0:10, 0:10]", "c = img[a:b, 0:10]", "c = img[0:100]"):
        assert clamp_numpy_slices(code, (640, 480)) == code


def test_image_path_repair() -> None:
    assert (
        fix_image_path('image_path = "/data/x.jpg"', CTX.image_path)
        == "image_path = '/mnt/data/input/cat.jpg'"
    )
    for keep in (
        'image_path = "/mnt/data/input/cat.jpg"',
        'image_path = "/mnt/data/temp_processed_images/c.png"',
    ):
        assert fix_image_path(keep, CTX.image_path, CTX.input_paths) == keep
    assert fix_image_path("image_path = other", CTX.image_path) == "image_path = other"


def test_cv_aliases() -> None:
    assert fix_cv_aliases("a = cv.resize(b, None, fx=2, interpolation=cv4.INTER_CUBIC)") == (
        "a = cv2.resize(b, None, fx=2, interpolation=cv2.INTER_CUBIC)"
    )
    assert fix_cv_aliases("cv = 1\nprint(cv)") == "cv = 1\nprint(cv)"


def test_precision_widening() -> None:
    assert widen_precision('print(f"{a:.2f}", "{:.0f}".format(b), f"{c:.10f}")') == (
        'print(f"{a:.8f}", "{:.8f}".format(b), f"{c:.10f}")'
    )


def test_indentation_repair_only_when_needed() -> None:
    assert repair_indentation("    a = 1\n    print(a)") == "a = 1\nprint(a)"
    assert repair_indentation("import os\n    print(os.sep)") == "import os\nprint(os.sep)"
    good = "if True:\n    x = 1"
    assert repair_indentation(good) == good
    broken = "def f(:\n  pass"
    assert repair_indentation(broken) == broken


def test_output_subdirs_and_remap() -> None:
    code = 'a = "/mnt/data/temp_processed_images/crops/a.png"\nb = f"/mnt/data/temp_processed_images/{n}.png"'
    assert output_subdirs(code) == ("crops",)
    assert output_subdirs('p = "/mnt/data/temp_processed_images/../../etc/x.png"') == ()
    assert remap_output_dir(code, "/s/out/").count("/s/out/") == 2


def test_apply_fixups_records_each_fix_in_order() -> None:
    code = (
        "  import cv2\n  image_path = '/home/me/cat.jpg'\n  img = cv.imread(image_path)\n"
        "  crop = img[0:5, 0:5]\n  print(f'{crop.mean():.2f}')\n"
        "  cv.imwrite('/mnt/data/temp_processed_images/sub/c.png', crop)"
    )
    fixed = apply_fixups(code, CTX)
    assert fixed.fixes == (
        "fix_indent", "fix_image_path", "fix_slice_clamp", "fix_cv_alias", "fix_precision",
        "fix_output_subdirs",
    )  # fmt: skip
    assert fixed.output_subdirs == ("sub",)
    assert "img[0:64, 0:64]" in fixed.code and ":.8f}" in fixed.code and "cv.imread" not in fixed.code


def test_apply_fixups_no_change_no_fix() -> None:
    code = "print(1 + 1)  # comment kept"
    assert apply_fixups(code, CTX) == fixups.FixedCode(code)


def test_unicode_source_offsets() -> None:
    code = "t = 'é→'; x1, y1, x2, y2 = 0, 0, 9000, 10"
    assert clamp_crop_boxes(code, (640, 480)) == "t = 'é→'; x1, y1, x2, y2 = 0, 0, 640, 64"


def test_clamp_box_properties() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    coord = st.integers(min_value=-5000, max_value=5000)

    @given(
        st.tuples(coord, coord, coord, coord), st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 128)
    )
    def check(box, width, height, min_side) -> None:
        x1, y1, x2, y2 = clamp_box(box, (width, height), min_side)
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert x2 - x1 >= min(min_side, width) and y2 - y1 >= min(min_side, height)
        assert clamp_box((x1, y1, x2, y2), (width, height), min_side) == (x1, y1, x2, y2)  # idempotent

    check()
