"""Two-round records: a first code block finds the region, a second refines it (all accepted).

The second block zooms further into the first block's saved crop (``processed_path`` carries over between
blocks, as in Thyme's sessions), crops the original again with a tighter box, rotates, enhances, or computes
from what the first crop showed. Boxes of a refinement are given in original-image pixels for the builder's
coverage check only.
"""

from __future__ import annotations

from .code_styles import OUT, cv2_cubic, np_pil, pil_crop_box, pil_refine, pil_rotate, pil_terse, pil_zoom
from .palette import BLACK, BLUE, GREEN, RED, WHITE
from .scenes import Scene, ell, rect, text
from .spec import Block, Spec, authors_path, reject

__all__ = ["SPECS"]

S = "two_round"

_ENHANCE = f'''from PIL import Image, ImageEnhance
import random

# The text in the crop is still faint; boost the contrast of the previous result
img2 = Image.open(processed_path)
img2 = ImageEnhance.Contrast(img2).enhance(3.0)
processed_path = f"{OUT}enhanced_{{random.randint(1000, 9999)}}.jpg"
img2.save(processed_path)
print(processed_path)'''

_SUM = """# numbers read from the zoomed crop
left_block = 4
right_block = 9
total = left_block + right_block
print(total)"""


def _shop_hours() -> Spec:
    door = (550, 500, 1000, 900)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (200, 200, 205),
        bg2=(130, 130, 130),
        seed=41,
        items=(
            rect("shop", (300, 300, 1300, 1100), (120, 60, 50)),
            rect("door", (650, 600, 900, 1100), (70, 40, 30)),
            rect("card", (700, 680, 850, 740), WHITE),
            text("card_text", (775, 710), "8:00-18:00", 18, BLACK, anchor="mm"),
        ),
        keep_clear=((290, 290, 1310, 1110),),
    )
    return Spec(
        "tr_shop_hours",
        S,
        scene,
        authors_path("vstar", "sa_10220.jpg"),
        "What opening hours are written on the small card on the shop door?",
        (
            "The card is on the door in the middle of the shop front. First I will crop the door area to "
            "locate it.\n",
            Block(pil_zoom(door, "the shop door"), (door,), ("card",)),
            "\nThe door is visible now and there is a small white card near its top, but the text on it is "
            "still tiny. I will zoom further into the card in this crop.\n",
            Block(
                pil_refine((270, 330, 630, 510), "the white card"), ((685, 665, 865, 755),), ("card_text",)
            ),
            "\nThe card now reads clearly: 8:00-18:00.\n",
        ),
        "8:00-18:00",
    )


def _tallest_month() -> Spec:
    chart, label = (150, 300, 1250, 900), (700, 840, 850, 910)
    values = (("Jan", 30), ("Feb", 45), ("Mar", 62), ("Apr", 38))
    items = [rect("", (150, 849, 1250, 852), BLACK)]
    for k, (month, value) in enumerate(values):
        x = 200 + 250 * k
        items += [
            rect("", (x, 850 - 8 * value, x + 150, 850), (90, 140, 90)),
            text(f"label_{month}", (x + 75, 878), month, 14, BLACK, font="DejaVuSans", anchor="mm"),
        ]
    scene = Scene((1400, 1000), "png", (255, 255, 255), clutter=0, items=tuple(items))
    return Spec(
        "tr_tallest_month",
        S,
        scene,
        authors_path("chart", "chartqa_train_05521.png"),
        "Which month has the tallest bar in the chart?\nA. Jan\nB. Feb\nC. Mar\nD. Apr",
        (
            "Let me first crop the plotting area of the chart.\n",
            Block(pil_crop_box(chart, "the plotting area", zoom=1.5, var="coords"), (chart,), ("label_Mar",)),
            "\nThe third bar from the left is clearly the tallest, but the month labels under the bars are "
            "very small. I will crop the label under the third bar from the original image and upscale it.\n",
            Block(cv2_cubic(label, "the label under the third bar"), (label,), ("label_Mar",)),
            "\nThe label under the tallest bar reads Mar. So the answer is C.\n",
        ),
        "**C. Mar**",
    )


def _faint_lot() -> Spec:
    box = (860, 170, 1140, 310)
    scene = Scene(
        (1280, 960),
        "jpeg",
        (60, 62, 70),
        bg2=(40, 40, 45),
        seed=43,
        items=(
            rect("sign", (900, 200, 1100, 280), (110, 110, 115)),
            text("sign_text", (1000, 240), "LOT 17", 30, (128, 128, 134), anchor="mm"),
        ),
        keep_clear=((850, 160, 1150, 320),),
    )
    return Spec(
        "tr_faint_lot",
        S,
        scene,
        authors_path("hr", "hr_4k_1310.jpg"),
        "What is written on the dark parking sign in the upper right?",
        (
            "Crop the parking sign first.\n",
            Block(pil_zoom(box, "the dark parking sign"), (box,), ("sign_text",)),
            "\nThe sign is found, but its text is dark grey on grey. Enhance contrast.\n",
            Block(_ENHANCE),
            "\nAfter enhancement the sign reads LOT 17.\n",
        ),
        "LOT 17",
    )


def _route_sign() -> Spec:
    broad, tight = (1350, 250, 1530, 850), (1390, 290, 1490, 810)
    scene = Scene(
        (1600, 1000),
        "jpeg",
        (170, 200, 230),
        bg2=(100, 110, 100),
        seed=44,
        items=(
            rect("sign", (1400, 300, 1480, 800), BLUE),
            text("route_text", (1418, 380), "ROUTE 9", 44, WHITE, angle=-90),
        ),
        keep_clear=((1340, 240, 1540, 860),),
    )
    return Spec(
        "tr_route_sign",
        S,
        scene,
        authors_path("vstar", "sa_10588.jpg"),
        "What does the blue vertical sign on the right say?",
        (
            "I'll zoom into the right side of the image where the blue sign stands.\n",
            Block(pil_terse(broad, zoom=2), (broad,), ("route_text",)),
            "\nThe sign's text runs from top to bottom, so it is rotated. I'll crop the sign again and turn "
            "it 90 degrees counter-clockwise to make the text horizontal.\n",
            Block(pil_rotate(tight, "The sign text", angle=90), (tight,), ("route_text",)),
            "\nThe rotated sign reads ROUTE 9.\n",
        ),
        "ROUTE 9",
    )


def _keypad_key() -> Spec:
    pad, key = (680, 280, 1020, 720), (895, 605, 945, 655)  # the key box is 50x50: widened to 64x64
    labels = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
    items = [rect("pad", (700, 300, 1000, 700), (50, 50, 55))]
    for k, label in enumerate(labels):
        x, y = 730 + 80 * (k % 3), 330 + 90 * (k // 3)
        items += [
            rect("", (x, y, x + 60, y + 60), (90, 90, 95)),
            text(f"key_{k}", (x + 30, y + 30), label, 28, WHITE, anchor="mm"),
        ]
    scene = Scene(
        (1200, 900), "jpeg", (215, 210, 200), seed=45, items=tuple(items), keep_clear=((690, 290, 1010, 710),)
    )
    return Spec(
        "tr_keypad_key",
        S,
        scene,
        authors_path("mmb", "00120077.jpg"),
        "What symbol is printed on the bottom-right key of the keypad?",
        (
            "First crop the keypad to see its layout.\n",
            Block(pil_zoom(pad, "the keypad"), (pad,), ("pad",)),
            "\nThe keypad has four rows of three keys. The bottom-right key is small; crop just that key "
            "from the original and upscale it.\n",
            Block(cv2_cubic(key, "the bottom-right key"), (key,), ("key_11",)),
            "\nThe bottom-right key shows the # symbol.\n",
        ),
        "#",
        needs_fixups=True,
        strict=reject("import", "import_image_size_mismatch", "with fix-ups off the key crop is 50x50"),
    )


def _blue_number_zh() -> Spec:
    box = (120, 80, 520, 320)
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (225, 230, 235),
        bg2=(160, 165, 170),
        seed=46,
        items=(
            rect("sign", (200, 150, 360, 230), BLUE),
            text("sign_text", (280, 190), "318", 40, WHITE, anchor="mm"),
        ),
        keep_clear=((110, 70, 530, 330),),
    )
    return Spec(
        "tr_blue_number_zh",
        S,
        scene,
        authors_path("zh", "street_2231.jpg"),
        "请问蓝色指示牌上的数字是多少？",
        (
            "蓝色指示牌位于图像左上方，先裁剪这一区域。\n",
            Block(pil_zoom(box, "the blue sign in the upper left"), (box,), ("sign",)),
            "\n已经找到指示牌，但数字还不够清晰，在上一步的裁剪结果中进一步放大。\n",
            Block(pil_refine((140, 120, 500, 320), "the blue sign"), ((190, 140, 370, 240),), ("sign_text",)),
            "\n放大后可以看到指示牌上的数字是 318。\n",
        ),
        "318",
    )


def _speed_limit() -> Spec:
    broad, tight = (1000, 150, 1400, 500), (1080, 230, 1240, 390)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (165, 195, 225),
        bg2=(90, 90, 90),
        seed=47,
        items=(
            rect("", (1155, 370, 1165, 900), (120, 120, 120)),
            ell("sign", (1100, 250, 1220, 370), WHITE, outline=RED, width=10),
            text("sign_text", (1160, 310), "60", 44, BLACK, anchor="mm"),
        ),
        keep_clear=((990, 140, 1410, 510),),
    )
    return Spec(
        "tr_speed_limit",
        S,
        scene,
        authors_path("vstar", "sa_11002.jpg"),
        "What speed limit is shown on the round road sign?",
        (
            "Step 1: locate the round sign on the right side of the road and crop that area.\n",
            Block(cv2_cubic(broad, "the round road sign", scale=2), (broad,), ("sign",)),
            "\nStep 2: the sign is found; crop tightly around it in the original image for a sharper view.\n",
            Block(pil_zoom(tight, "the round sign", zoom=3), (tight,), ("sign_text",)),
            "\nThe sign is a white disc with a red ring and the number 60 in the middle, so the speed limit "
            "is 60.\n",
        ),
        "\\boxed{60}",
    )


def _price_below_ten() -> Spec:
    shelf = (450, 300, 900, 800)
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (235, 230, 220),
        bg2=(190, 185, 175),
        seed=48,
        items=(
            rect("bottle", (600, 400, 700, 680), GREEN),
            rect("", (630, 350, 670, 400), GREEN),
            rect("tag", (600, 700, 700, 740), WHITE),
            text("tag_text", (650, 720), "$8.99", 16, BLACK, anchor="mm"),
            rect("", (480, 690, 870, 700), (120, 90, 60)),
        ),
        keep_clear=((440, 290, 910, 810),),
    )
    return Spec(
        "tr_price_below_ten",
        S,
        scene,
        authors_path("hr", "hr_4k_1502.jpg"),
        "Is the price on the small tag below the green bottle lower than $10?",
        (
            "I need the price on the tag under the green bottle. Crop the shelf section first.\n",
            Block(pil_crop_box(shelf, "the green bottle and its tag", zoom=1.5), (shelf,), ("tag",)),
            "\nThe tag is below the bottle but the digits are small; zoom into the tag within this crop.\n",
            Block(pil_refine((200, 570, 400, 690), "the price tag"), ((583, 680, 717, 760),), ("tag_text",)),
            "\nThe tag reads $8.99, which is less than $10.\n",
        ),
        "Yes, it is $8.99.",
    )


def _flight_board() -> Spec:
    board, first = (280, 130, 1320, 420), (320, 180, 520, 240)
    rows = ("KL1742  AMSTERDAM  10:45", "LH0456  FRANKFURT  11:10", "AF1380  PARIS      11:35")
    items = [rect("board", (300, 150, 1300, 650), BLACK)]
    items += [
        text(f"row_{k}", (340, 190 + 70 * k), row, 22, (250, 210, 40), font="DejaVuSansMono-Bold")
        for k, row in enumerate(rows)
    ]
    scene = Scene(
        (1600, 1000),
        "jpeg",
        (200, 200, 200),
        bg2=(150, 150, 150),
        seed=49,
        items=tuple(items),
        keep_clear=((290, 140, 1310, 660),),
    )
    return Spec(
        "tr_flight_board",
        S,
        scene,
        authors_path("doc", "departures_0178.jpg"),
        "What is the flight number in the first row of the departure board?",
        (
            "The departure board has several rows of small yellow text. I'll crop its upper part first.\n",
            Block(cv2_cubic(board, "the top of the departure board", scale=2), (board,), ("row_0",)),
            "\nThe first row begins with a flight number followed by AMSTERDAM. Let me crop only the flight "
            "number of that row and enlarge it to read every character.\n",
            Block(np_pil(first, "第一行航班号", zoom=3), (first,), ("",)),
            "\nThe enlarged text reads KL1742.\n",
        ),
        "KL1742",
    )


def _block_sum() -> Spec:
    box = (400, 400, 1000, 700)
    scene = Scene(
        (1280, 960),
        "jpeg",
        (230, 225, 210),
        bg2=(180, 170, 150),
        seed=50,
        items=(
            rect("left", (450, 450, 600, 600), (200, 160, 110)),
            text("left_text", (525, 525), "4", 70, BLACK, anchor="mm"),
            rect("right", (800, 450, 950, 600), (200, 160, 110)),
            text("right_text", (875, 525), "9", 70, BLACK, anchor="mm"),
        ),
        keep_clear=((390, 390, 1010, 710),),
    )
    return Spec(
        "tr_block_sum",
        S,
        scene,
        authors_path("mmb", "00130145.jpg"),
        "What is the sum of the two numbers printed on the wooden blocks?",
        (
            "First crop the two wooden blocks to read their numbers.\n",
            Block(pil_zoom(box, "the two wooden blocks"), (box,), ("left",)),
            "\nThe left block shows 4 and the right block shows 9. Now compute the sum.\n",
            Block(_SUM),
            "\nThe sum of the two numbers is 13.\n",
        ),
        "13",
    )


SPECS = (
    _shop_hours,
    _tallest_month,
    _faint_lot,
    _route_sign,
    _keypad_key,
    _blue_number_zh,
    _speed_limit,
    _price_below_ten,
    _flight_board,
    _block_sum,
)
