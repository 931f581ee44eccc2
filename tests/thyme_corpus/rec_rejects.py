"""Records with one real defect each, and the stage and reason they must be turned away with.

Import-stage defects: a processed image of the wrong size, one image more or fewer than the ``<image>``
placeholders, code that raises, broken tags (an unclosed ``<code>``, a stray ``</code>``, two ``<answer>``, no
``</think>``, two whitespace characters before ``<answer>``), an empty answer, undecodable or truncated
images, a question whose stated size disagrees with the image, and printed text that differs from what the
code prints. Validate-stage defects: reasoning that concludes another option or another number than the
answer, a host path in the prose, and a repetition loop.
"""

from __future__ import annotations

import base64
import io
import re

from PIL import Image

from .code_styles import OUT, PATH, cv2_cubic, pil_refine, pil_terse, pil_zoom
from .palette import BLACK, BLUE, GREEN, ORANGE, RED, WHITE, YELLOW
from .scenes import Scene, ell, line, poly, rect, text
from .spec import CLAIM_CROP, Block, Spec, authors_path, reject

__all__ = ["SPECS"]

FORMAT = "import_bad_format"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _resized(k: int):
    """Replace processed image ``k`` (1-based in ``image``) by the same picture 24 px wider."""

    def tamper(row: dict, info: dict) -> dict:
        with Image.open(io.BytesIO(info["produced"][k - 1])) as image:
            wider = image.convert("RGB").resize((image.width + 24, image.height))
        buf = io.BytesIO()
        wider.save(buf, "JPEG", quality=95)
        row["image"] = [*row["image"][:k], _b64(buf.getvalue()), *row["image"][k + 1 :]]
        return row

    return tamper


def _extra_image(row: dict, info: dict) -> dict:
    row["image"] = [*row["image"], row["image"][1]]
    return row


def _drop_last_image(row: dict, info: dict) -> dict:
    row["image"] = row["image"][:-1]
    return row


def _corrupt_first_processed(row: dict, info: dict) -> dict:
    text_ = row["image"][1]
    row["image"] = [row["image"][0], text_[:200] + "%%\u00e9\u00e9" + text_[204:], *row["image"][2:]]
    return row


def _truncate_original(row: dict, info: dict) -> dict:
    row["image"] = [_b64(info["original"][: len(info["original"]) // 2]), *row["image"][1:]]
    return row


def _wrong_stated_size(row: dict, info: dict) -> dict:
    width, height = info["size"]
    row["question"] = row["question"].replace(f'"{width}x{height}"', f'"{width + 80}x{height + 60}"')
    return row


def _response_edit(old: str, new: str, count: int = 1):
    def tamper(row: dict, info: dict) -> dict:
        if old not in row["response"]:
            raise AssertionError(f"{old!r} not in the response")
        row["response"] = row["response"].replace(old, new, count)
        return row

    return tamper


def _duplicate_answer(row: dict, info: dict) -> dict:
    answer = re.search(r"<answer>.*?</answer>", row["response"], re.DOTALL)[0]
    row["response"] = row["response"] + "\n" + answer
    return row


def _street(seed: int, items: tuple, size=(1280, 960), fmt="jpeg", clear=()) -> Scene:
    return Scene(size, fmt, (175, 195, 215), bg2=(105, 105, 110), seed=seed, items=items, keep_clear=clear)


def _mailbox() -> Spec:
    box = (300, 380, 560, 560)
    scene = _street(
        61,
        (
            rect("", (330, 400, 530, 540), BLUE),
            text("n", (430, 470), "221", 48, WHITE, anchor="mm"),
            line("", [(430, 540), (430, 800)], BLACK, 12),
        ),
        clear=((290, 370, 570, 570),),
    )
    return Spec(
        "rj_wrong_size",
        "single_round",
        scene,
        authors_path("vstar", "sa_12001.jpg"),
        "What number is painted on the mailbox?",
        (
            "The mailbox is on the left; I'll zoom in on it.\n",
            Block(pil_zoom(box, "the mailbox"), (box,), ("n",)),
            "\nThe mailbox shows the number 221.\n",
        ),
        "221",
        reject("import", "import_image_size_mismatch", "the processed image is 24 px wider than made"),
        tamper=_resized(1),
    )


def _boat_name() -> Spec:
    box = (700, 560, 1100, 700)
    scene = Scene(
        (1400, 900),
        "jpeg",
        (150, 190, 230),
        bg2=(40, 90, 150),
        seed=62,
        items=(
            poly("", [(650, 600), (1150, 600), (1080, 720), (720, 720)], WHITE),
            text("name", (900, 650), "MARLIN", 34, BLUE, anchor="mm"),
        ),
        keep_clear=((640, 550, 1160, 730),),
    )
    return Spec(
        "rj_extra_image",
        "single_round",
        scene,
        authors_path("hr", "hr_4k_2010.jpg"),
        "What name is painted on the side of the boat?",
        (
            "The boat's name is small. Crop the hull and enlarge it.\n",
            Block(cv2_cubic(box, "the hull of the boat", scale=2), (box,), ("name",)),
            "\nThe hull reads MARLIN.\n",
        ),
        "MARLIN",
        reject("import", "import_image_count_mismatch", "two processed images for one <image> placeholder"),
        tamper=_extra_image,
    )


_RAISES = f'''from PIL import Image
import random

image_path = "{PATH}"
img = Image.open(image_path)
# crop the kite and its tail
x1, y1, x2, y2 = 900, 120, 1200, 420
crop = img.crop(x1, y1, x2, y2)
crop = crop.resize((crop.width * 2, crop.height * 2))
processed_path = f"{OUT}kite_{{random.randint(1000, 9999)}}.jpg"
crop.save(processed_path)
print(processed_path)'''


def _kite() -> Spec:
    scene = _street(
        63,
        (
            poly("", [(1050, 150), (1120, 230), (1050, 310), (980, 230)], RED),
            line("tail", [(1050, 310), (1020, 360), (1070, 400)], ORANGE, 8),
        ),
        size=(1280, 960),
    )
    return Spec(
        "rj_code_raises",
        "single_round",
        scene,
        authors_path("vstar", "sa_12003.jpg"),
        "What colour is the kite's tail?",
        (
            "The kite is small in the upper right. Let me crop it.\n",
            Block(_RAISES, ((900, 120, 1200, 420),), ("",), claimed=CLAIM_CROP),
            "\nThe kite's tail is orange.\n",
        ),
        "orange",
        reject("import", "import_exec_failed", "Image.crop called with four arguments raises TypeError"),
    )


def _plain_crop(key: str, seed: int, label: str, question: str, answer: str, verdict: dict, **kwargs) -> Spec:
    box = (520, 330, 780, 470)
    sign = (rect("", (550, 360, 750, 440), GREEN), text("t", (650, 400), label, 36, WHITE, anchor="mm"))
    scene = _street(seed, sign, clear=((510, 320, 790, 480),))
    return Spec(
        key,
        "single_round",
        scene,
        authors_path("mmb", f"00140{seed:03d}.jpg"),
        question,
        (
            "The sign in the centre is small; zoom in.\n",
            Block(pil_terse(box, zoom=2), (box,), ("t",)),
            f"\nThe green sign reads {label}.\n",
        ),
        answer,
        verdict,
        **kwargs,
    )


def _format_rejects() -> tuple[Spec, ...]:
    return (
        _plain_crop(
            "rj_missing_code_close",
            64,
            "PARK",
            "What word is on the green sign?",
            "PARK",
            reject("import", FORMAT, "a <code> block without </code>"),
            tamper=_response_edit("```\n</code>", "```\n"),
        ),
        _plain_crop(
            "rj_two_answers",
            65,
            "MAIN ST",
            "What street name is on the green sign?",
            "MAIN ST",
            reject("import", FORMAT, "two <answer> blocks"),
            tamper=_duplicate_answer,
        ),
        _plain_crop(
            "rj_double_separator",
            66,
            "PLATFORM 3",
            "What is written on the green sign?",
            "PLATFORM 3",
            reject("import", FORMAT, "two whitespace characters between </think> and <answer>"),
            separator="\n\n",
        ),
        _plain_crop(
            "rj_bad_base64",
            67,
            "HOTEL",
            "What word is on the green sign?",
            "HOTEL",
            reject("import", "import_bad_image", "the processed image is not valid base64"),
            tamper=_corrupt_first_processed,
        ),
        _plain_crop(
            "rj_stated_size",
            68,
            "TICKETS",
            "What is written on the green sign?",
            "TICKETS",
            reject("import", "import_image_size_mismatch", "the question states another image size"),
            tamper=_wrong_stated_size,
        ),
        _plain_crop(
            "rj_truncated_original",
            69,
            "MUSEUM",
            "What word is on the green sign?",
            "MUSEUM",
            reject("import", "import_bad_image", "the original JPEG is cut off halfway"),
            tamper=_truncate_original,
        ),
        _plain_crop(
            "rj_empty_answer",
            70,
            "LIBRARY",
            "What word is on the green sign?",
            "",
            reject("import", FORMAT, "an empty <answer>"),
        ),
    )


def _contradiction() -> Spec:
    box = (180, 560, 420, 720)
    sign = (rect("", (200, 580, 400, 700), YELLOW), text("t", (300, 640), "SCHOOL", 32, BLACK, anchor="mm"))
    scene = _street(71, sign, clear=((170, 550, 430, 730),))
    return Spec(
        "rj_contradiction",
        "single_round",
        scene,
        authors_path("mmb", "00150071.jpg"),
        "Which word is on the yellow sign?\nA. SLOW\nB. STOP\nC. SCHOOL\nD. SHOP",
        (
            "The yellow sign is in the lower left. Zoom in.\n",
            Block(pil_zoom(box, "the yellow sign"), (box,), ("t",)),
            "\nThe sign starts with S and is short, so the answer is B.\n",
        ),
        "C",
        reject(
            "validate", "consistency_reasoning_contradicted", "the reasoning concludes B, the answer is C"
        ),
    )


def _leaked_path() -> Spec:
    box = (860, 200, 1120, 340)
    scene = _street(
        72,
        (rect("", (880, 220, 1100, 320), RED), text("t", (990, 270), "CAFE", 40, WHITE, anchor="mm")),
        clear=((850, 190, 1130, 350),),
    )
    return Spec(
        "rj_leaked_path",
        "single_round",
        scene,
        authors_path("vstar", "sa_12072.jpg"),
        "What word is on the red awning?",
        (
            "I downloaded this photo to /home/alice/thyme_raw/streets/IMG_2031.jpg earlier; the awning is in "
            "the upper right. Crop it.\n",
            Block(pil_zoom(box, "the red awning"), (box,), ("t",)),
            "\nThe awning reads CAFE.\n",
        ),
        "CAFE",
        reject("validate", "hygiene_leaked_path", "a host path in the reasoning"),
    )


def _two_round(key: str, seed: int, label: str, verdict: dict, tail: str = "", **kwargs) -> Spec:
    broad = (100, 100, 600, 500)
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (200, 215, 225),
        bg2=(120, 130, 140),
        seed=seed,
        items=(
            rect("sign", (250, 250, 430, 320), (40, 40, 120)),
            text("t", (340, 285), label, 26, WHITE, anchor="mm"),
        ),
        keep_clear=((90, 90, 610, 510),),
    )
    return Spec(
        key,
        "two_round",
        scene,
        authors_path("hr", f"hr_4k_3{seed:03d}.jpg"),
        "What is written on the dark blue sign?",
        (
            "First crop the upper-left area where the sign is.\n",
            Block(pil_zoom(broad, "the upper-left area"), (broad,), ("sign",)),
            "\nThe sign is there but still small. Zoom into it in the crop.\n",
            Block(pil_refine((260, 260, 700, 480), "the dark blue sign"), ((230, 230, 450, 340),), ("t",)),
            f"\nThe sign reads {label}.{tail}\n",
        ),
        label,
        verdict,
        **kwargs,
    )


def _two_round_rejects() -> tuple[Spec, ...]:
    loop = " Wait, let me look at the sign again." * 14
    return (
        _two_round(
            "rj2_missing_image",
            81,
            "PIER 4",
            reject("import", "import_image_count_mismatch", "two <image> placeholders, one processed image"),
            tamper=_drop_last_image,
        ),
        _two_round(
            "rj2_no_think_close",
            82,
            "GATE B",
            reject("import", FORMAT, "no </think>"),
            tamper=_response_edit("</think>", ""),
        ),
        _two_round(
            "rj2_repetition",
            83,
            "DOCK 7",
            reject("validate", "hygiene_repetition", "a repetition loop"),
            tail=loop,
        ),
        _two_round(
            "rj2_second_size",
            84,
            "BAY 12",
            reject("import", "import_image_size_mismatch", "the second processed image has the wrong size"),
            tamper=_resized(2),
        ),
    )


def _figure(seed: int, a: str, b: str) -> Scene:
    return Scene(
        (900, 700),
        "png",
        (255, 255, 255),
        clutter=0,
        items=(
            rect("", (150, 200, 750, 500), None, outline=BLACK, width=4),
            text("", (450, 540), a, 32, BLACK, font="DejaVuSans", anchor="mm"),
            text("", (800, 350), b, 32, BLACK, font="DejaVuSans", anchor="mm"),
            ell("", (440 + seed % 7, 340, 460 + seed % 7, 360), RED),
        ),
    )


def _computation(
    key: str,
    seed: int,
    labels: tuple[str, str],
    question: str,
    code: str,
    after: str,
    answer: str,
    verdict: dict,
    claimed: str | None = None,
    **kwargs,
) -> Spec:
    return Spec(
        key,
        "computation",
        _figure(seed, *labels),
        authors_path("geo", f"geo_9{seed:03d}.png"),
        question,
        ("Read the side lengths from the figure and compute.\n", Block(code, claimed=claimed), after),
        answer,
        verdict,
        **kwargs,
    )


def _computation_rejects() -> tuple[Spec, ...]:
    return (
        _computation(
            "rjc_output_mismatch",
            91,
            ("8", "6"),
            "What is the area of the rectangle?",
            "length = 8\nwidth = 6\nprint(length * width)",
            "\nThe area is 52.\n",
            "52",
            reject("import", "import_output_mismatch", "the record shows 52, the code prints 48"),
            claimed="52",
        ),
        _computation(
            "rjc_zero_division",
            92,
            ("7", "2"),
            "What is the ratio of the length to the width?",
            "length = 7\nwidth = 0  # misread\nprint(length / width)",
            "\nThe ratio is 3.5.\n",
            "3.5",
            reject("import", "import_exec_failed", "ZeroDivisionError"),
            claimed="3.5",
        ),
        _computation(
            "rjc_output_contradicted",
            93,
            ("9", "12"),
            "What is the perimeter of the rectangle?",
            "length = 12\nwidth = 9\nprint(2 * (length + width))",
            "\nSo the perimeter is 40.\n",
            "40",
            reject("validate", "consistency_output_contradicted", "the code printed 42, the answer is 40"),
        ),
        _computation(
            "rjc_stray_code_close",
            94,
            ("5", "4"),
            "What is the area of the rectangle?",
            "print(5 * 4)",
            "\nThe area is 20.</code>\n",
            "20",
            reject("import", FORMAT, "a stray </code> after the output"),
        ),
    )


def all_rejects() -> tuple[Spec, ...]:
    """Every reject spec, in a fixed order."""
    return (
        _mailbox(),
        _boat_name(),
        _kite(),
        *_format_rejects(),
        _contradiction(),
        _leaked_path(),
        *_two_round_rejects(),
        *_computation_rejects(),
    )


SPECS = (all_rejects,)
