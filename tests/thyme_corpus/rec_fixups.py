"""Single-round records whose code reproduces its recorded image only with Thyme's fix-ups (all accepted).

Each needs one fix-up the original sandbox applied while the data was made: a crop box partly outside the
image (clamped), a box side under 64 px (widened), a negative box corner, a numpy slice with a negative bound,
and a block indented as a whole (dedented). With fix-ups off each of them makes an image of another size or
fails.
"""

from __future__ import annotations

from .code_styles import cv2_cubic, cv2_literal_slice, pil_crop_box, pil_terse, pil_zoom
from .palette import BLACK, GREEN, GREY, RED, WHITE, YELLOW
from .scenes import Scene, ell, line, rect, text
from .spec import Block, Spec, authors_path, reject

__all__ = ["SPECS"]

S = "single_round"
SIZE_MISMATCH = reject("import", "import_image_size_mismatch", "with fix-ups off the crop has another size")
EXEC_FAILED = reject("import", "import_exec_failed", "with fix-ups off the block fails")


def _edge_sign() -> Spec:
    box = (1480, 380, 1700, 490)  # x2 past the 1600-px edge: clamped to 1600
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (160, 190, 215),
        bg2=(100, 100, 105),
        seed=33,
        items=(
            rect("", (1500, 400, 1600, 470), RED),
            text("edge_text", (1550, 435), "72", 40, WHITE, anchor="mm"),
        ),
        keep_clear=((1450, 360, 1600, 500),),
    )
    return Spec(
        "fx_edge_sign",
        S,
        scene,
        authors_path("vstar", "sa_09001.jpg"),
        "What number is shown on the small red sign cut off at the right edge of the photo?",
        (
            "The red sign is at the very right edge of the image and is partly cut off. I'll crop generously "
            "around it and zoom in.\n",
            Block(pil_zoom(box, "the red sign at the right edge"), (box,), ("edge_text",)),
            "\nThe crop shows the visible part of the red sign with the white number 72 on it.\n",
        ),
        "72",
        needs_fixups=True,
        strict=SIZE_MISMATCH,
    )


def _backpack_tag() -> Spec:
    box = (805, 440, 850, 478)  # 45x38 px: widened to 64x64
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (200, 195, 185),
        bg2=(150, 145, 140),
        seed=34,
        items=(
            rect("backpack", (700, 300, 900, 560), (60, 90, 60)),
            line("", [(827, 400), (827, 446)], BLACK, 3),
            rect("tag", (812, 446, 842, 474), WHITE),
            text("tag_text", (827, 460), "5", 20, BLACK, anchor="mm"),
        ),
        keep_clear=((690, 290, 910, 570),),
    )
    return Spec(
        "fx_backpack_tag",
        S,
        scene,
        authors_path("hr", "hr_4k_1044.jpg"),
        "What digit is written on the small white tag hanging from the backpack?",
        (
            "The tag hanging from the backpack is tiny, only about 30 pixels wide. I will crop exactly the "
            "tag and upscale it 4x with bicubic interpolation.\n",
            Block(cv2_cubic(box, "the small white tag", scale=4), (box,), ("tag_text",)),
            "\nIn the upscaled crop the tag shows a single black digit, 5.\n",
        ),
        "5",
        needs_fixups=True,
        strict=SIZE_MISMATCH,
    )


def _left_exit() -> Spec:
    box = (-20, 500, 300, 640)  # a negative corner: clamped to 0
    scene = Scene(
        (1280, 960),
        "jpeg",
        (190, 190, 180),
        bg2=(140, 140, 130),
        seed=35,
        items=(
            rect("sign", (0, 520, 160, 600), GREEN),
            text("sign_text", (80, 560), "EXIT", 36, WHITE, anchor="mm"),
        ),
        keep_clear=((0, 490, 320, 650),),
    )
    return Spec(
        "fx_left_exit",
        S,
        scene,
        authors_path("mmb", "00110021.jpg"),
        "What word is on the green sign at the left edge of the image?",
        (
            "The green sign touches the left border. Let me crop that part of the image and enlarge it.\n",
            Block(pil_crop_box(box, "the green sign on the left border"), (box,), ("sign_text",)),
            "\nThe enlarged crop shows the green sign with the white word EXIT.\n",
        ),
        "EXIT",
        needs_fixups=True,
        strict=SIZE_MISMATCH,
    )


def _plaque_year() -> Spec:
    box = (30, -20, 330, 110)  # img[-20:110, ...]: a negative slice bound, clamped to 0
    scene = Scene(
        (1200, 900),
        "png",
        (210, 205, 195),
        clutter=0,
        items=(
            rect("plaque", (40, 20, 300, 90), (120, 90, 40)),
            text("plaque_text", (170, 55), "1907", 40, (240, 220, 160), anchor="mm"),
            rect("", (200, 300, 1000, 800), GREY),
        ),
    )
    return Spec(
        "fx_plaque_year",
        S,
        scene,
        authors_path("doc", "plaque_0031.png"),
        "What year is engraved on the plaque in the top-left corner?",
        (
            "The plaque sits in the top-left corner. I will slice that region out with OpenCV and upscale "
            "it.\n",
            Block(cv2_literal_slice(box, "the plaque"), (box,), ("plaque_text",)),
            "\nThe upscaled plaque reads 1907.\n",
        ),
        "1907",
        needs_fixups=True,
        strict=EXEC_FAILED,
    )


def _taxi_indented() -> Spec:
    box = (690, 610, 910, 730)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (185, 185, 195),
        bg2=(95, 95, 100),
        seed=37,
        items=(
            rect("taxi", (500, 700, 1100, 950), YELLOW),
            rect("roof", (720, 640, 880, 700), WHITE),
            text("roof_text", (800, 670), "TAXI", 34, BLACK, anchor="mm"),
            ell("", (560, 900, 680, 1020), BLACK),
            ell("", (920, 900, 1040, 1020), BLACK),
        ),
        keep_clear=((490, 600, 1110, 1030),),
    )
    code = "\n".join("    " + row if row else row for row in pil_zoom(box, "the roof sign").split("\n"))
    return Spec(
        "fx_taxi_indented",
        S,
        scene,
        authors_path("vstar", "sa_09377.jpg"),
        "What word is on the roof sign of the yellow car?",
        (
            "The roof sign of the yellow car is small. I'll crop it and zoom in:\n",
            Block(code, (box,), ("roof_text",)),
            "\nThe zoomed roof sign reads TAXI in black letters.\n",
        ),
        "TAXI",
        needs_fixups=True,
        strict=EXEC_FAILED,
    )


def _page_number() -> Spec:
    box = (990, 740, 1030, 775)  # 40x35 px over the corner: clipped, then widened inwards to 64x64
    scene = Scene(
        (1024, 768),
        "png",
        (252, 250, 245),
        clutter=0,
        items=(
            *(
                rect("", (80, 90 + 44 * k, 940 - 37 * (k % 3), 106 + 44 * k), (200, 200, 205))
                for k in range(14)
            ),
            text("page", (1000, 748), "17", 16, BLACK, font="DejaVuSans"),
        ),
    )
    return Spec(
        "fx_page_number",
        S,
        scene,
        authors_path("doc", "scan_p017.png"),
        "What page number is printed in the bottom-right corner of the page?",
        (
            "The page number is tiny and sits right at the bottom-right corner, so I will crop that corner "
            "and magnify it 4x.\n",
            Block(pil_crop_box(box, "the page number", zoom=4, var="bbox"), (box,), ("page",)),
            "\nThe magnified corner shows the page number 17.\n",
        ),
        "17",
        needs_fixups=True,
        strict=SIZE_MISMATCH,
    )


def _ticket_seat() -> Spec:
    box = (580, 900, 840, 1080)  # inline .crop((...)) past the bottom edge: clamped to 1000
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (120, 100, 90),
        bg2=(90, 75, 65),
        seed=39,
        items=(
            rect("ticket", (600, 930, 820, 1000), WHITE),
            text("seat", (710, 962), "SEAT 14C", 26, BLACK, anchor="mm"),
        ),
        keep_clear=((570, 890, 850, 1000),),
    )
    return Spec(
        "fx_ticket_seat",
        S,
        scene,
        authors_path("hr", "hr_4k_1188.jpg"),
        "What seat is printed on the ticket lying at the bottom edge of the photo?",
        (
            "Zoom on the ticket at the bottom edge.\n",
            Block(pil_terse(box), (box,), ("seat",)),
            "\nTicket text: SEAT 14C.\n",
        ),
        "14C",
        needs_fixups=True,
        strict=SIZE_MISMATCH,
    )


SPECS = (_edge_sign, _backpack_tag, _left_exit, _plaque_year, _taxi_indented, _page_number, _ticket_seat)
