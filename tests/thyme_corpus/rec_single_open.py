"""Single-round records with open answers: words, prices, lengths, angles, counts, yes/no (all accepted)."""

from __future__ import annotations

from .code_styles import (
    cv2_cubic,
    np_pil,
    pil_contrast,
    pil_crop_box,
    pil_rotate,
    pil_terse,
    pil_two_crops,
    pil_zoom,
)
from .palette import BLACK, BLUE, GREEN, GREY, ORANGE, RED, WHITE, YELLOW
from .scenes import Scene, ell, line, octagon, poly, rect, text, wedge
from .spec import Block, Spec, authors_path

__all__ = ["SPECS"]

S = "single_round"


def _stop_sign() -> Spec:
    box = (1180, 90, 1360, 270)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (150, 190, 230),
        bg2=(90, 90, 95),
        seed=1,
        clutter=14,
        items=(
            rect("building", (80, 480, 720, 1120), (170, 140, 110)),
            *(rect("", (140 + 150 * k, 560, 240 + 150 * k, 680), (90, 110, 140)) for k in range(4)),
            line("pole", [(1270, 250), (1270, 950)], GREY, 12),
            octagon("stop", (1270, 180), 70, RED),
            text("stop_text", (1270, 180), "STOP", 34, WHITE, anchor="mm"),
            rect("street_sign", (300, 200, 560, 270), GREEN),
            text("", (430, 235), "ELM ST", 40, WHITE, anchor="mm"),
        ),
        keep_clear=((1150, 60, 1400, 300),),
    )
    return Spec(
        "sr_stop_sign",
        S,
        scene,
        authors_path("vstar", "sa_00231.jpg"),
        "What word is written on the red octagonal sign in the upper right of the picture?",
        (
            "The question asks for the word on the red octagonal sign in the upper-right part of the image. "
            "The sign is small compared with the whole 1600x1200 picture, so I will crop the area around it "
            "and enlarge it to read the letters reliably.\n",
            Block(pil_zoom(box, "the red octagonal sign"), (box,), ("stop",)),
            "\nThe enlarged crop shows a red octagon with white capital letters. The letters clearly read "
            '"STOP", which also matches the usual shape of a stop sign.\n',
        ),
        "STOP",
    )


def _price_tag() -> Spec:
    box = (560, 540, 820, 660)
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (235, 228, 215),
        bg2=(200, 190, 175),
        seed=2,
        items=(
            rect("shelf", (80, 520, 1320, 560), (120, 80, 50)),
            rect("red_box", (150, 300, 400, 520), RED),
            rect("blue_box", (560, 280, 820, 520), BLUE),
            rect("yellow_box", (980, 320, 1220, 520), YELLOW),
            rect("", (215, 572, 335, 622), WHITE),
            text("", (275, 597), "$7.25", 22, BLACK, anchor="mm"),
            rect("tag", (630, 572, 750, 622), WHITE),
            text("tag_text", (690, 597), "$3.50", 22, BLACK, anchor="mm"),
            rect("", (1040, 572, 1160, 622), WHITE),
            text("", (1100, 597), "$5.80", 22, BLACK, anchor="mm"),
        ),
        keep_clear=((100, 260, 1300, 640),),
    )
    return Spec(
        "sr_price_tag",
        S,
        scene,
        authors_path("hr", "hr_4k_0173.jpg"),
        "What price is shown on the tag below the blue box?",
        (
            "I need to read the small price tag under the blue box on the shelf. Let me crop the shelf edge "
            "below the blue box and zoom in 3x.\n",
            Block(pil_zoom(box, "the price tag under the blue box", zoom=3), (box,), ("tag_text",)),
            "\nThe zoomed tag under the blue box reads $3.50. The tags under the other boxes show different "
            "prices, but the question is only about the blue one.\n",
        ),
        "$3.50",
    )


def _pie_percent() -> Spec:
    box = (700, 230, 980, 430)
    slices = (
        ("Solar", "12.5%", 0, 45, YELLOW),
        ("Wind", "30%", 45, 153, BLUE),
        ("Hydro", "22.5%", 153, 234, GREEN),
        ("Coal", "35%", 234, 360, GREY),
    )
    items = [wedge("", (80, 180, 520, 620), a, b, c) for _, _, a, b, c in slices]
    for k, (label, share, _, _, colour) in enumerate(slices):
        items += [
            rect("", (720, 260 + 40 * k, 744, 284 + 40 * k), colour),
            text(f"legend_{label}", (756, 260 + 40 * k), f"{label} {share}", 20, BLACK, font="DejaVuSans"),
        ]
    items.append(text("", (80, 60), "Energy mix 2023", 36, BLACK))
    scene = Scene((1000, 800), "png", (252, 252, 250), clutter=0, items=tuple(items))
    return Spec(
        "sr_pie_percent",
        S,
        scene,
        authors_path("chart", "chartqa_train_01234.png"),
        "According to the legend of the pie chart, what share of the energy mix is labelled for Solar?",
        (
            "Legend text is small. Crop legend, zoom.\n",
            Block(pil_terse(box, zoom=2, ext=".png"), (box,), ("legend_Solar",)),
            "\nLegend rows: Solar 12.5%, Wind 30%, Hydro 22.5%, Coal 35%. Solar = 12.5%.\n",
        ),
        "12.5%",
    )


def _segment_length() -> Spec:
    box = (460, 570, 700, 670)
    scene = Scene(
        (1200, 800),
        "jpeg",
        (245, 245, 240),
        bg2=(230, 230, 225),
        seed=4,
        clutter=6,
        items=(
            line("blue_seg", [(200, 600), (900, 600)], BLUE, 6),
            line("", [(200, 585), (200, 615)], BLUE, 4),
            line("", [(900, 585), (900, 615)], BLUE, 4),
            text("blue_label", (550, 618), "12 cm", 24, BLUE, font="DejaVuSans"),
            line("red_seg", [(300, 200), (700, 200)], RED, 6),
            text("", (460, 218), "8 cm", 24, RED, font="DejaVuSans"),
        ),
        keep_clear=((150, 150, 950, 680),),
    )
    return Spec(
        "sr_segment_length",
        S,
        scene,
        authors_path("mmb", "00041877.jpg"),
        "What length is written under the blue segment?",
        (
            "There are two segments in the figure, a red one near the top and a blue one lower down, each "
            "with a small label. To be sure I read the label of the blue one, I will crop just below its "
            "middle and upscale the region.\n",
            Block(cv2_cubic(box, "the label under the blue segment"), (box,), ("blue_label",)),
            '\nThe upscaled crop shows the text "12 cm" in blue directly under the blue segment. (The red '
            "segment is labelled 8 cm, but that is not the one asked about.)\n",
        ),
        "12 cm",
    )


def _vertex_angle() -> Spec:
    box = (680, 740, 900, 900)
    scene = Scene(
        (1000, 1000),
        "png",
        (255, 255, 255),
        clutter=0,
        items=(
            poly("triangle", [(150, 850), (850, 850), (500, 250)], None, outline=BLACK, width=4),
            text("", (110, 860), "A", 36, BLACK),
            text("", (860, 860), "B", 36, BLACK),
            text("", (485, 195), "C", 36, BLACK),
            text("angle_b", (740, 790), "45°", 26, RED, font="DejaVuSans"),
            text("", (200, 790), "60°", 26, RED, font="DejaVuSans"),
        ),
    )
    return Spec(
        "sr_vertex_angle",
        S,
        scene,
        authors_path("geo", "geo_train_2291.png"),
        "In the diagram, what angle measure is written at vertex B?",
        (
            "The angle labels are small and there are two of them near the base, so I will zoom in on vertex "
            "B in the lower right to read its label.\n",
            Block(pil_zoom(box, "vertex B and its angle label", ext=".png"), (box,), ("angle_b",)),
            "\nIn the zoomed view, the label just inside the corner at B reads 45°. The 60° label belongs to "
            "vertex A on the left.\n",
        ),
        "45°",
    )


def _receipt_total() -> Spec:
    box = (210, 990, 590, 1070)
    lines = (("COFFEE", "350"), ("BAGEL", "400"), ("JUICE", "500"))
    items = [
        rect("paper", (200, 60, 600, 1140), WHITE),
        text("", (400, 120), "CORNER CAFE", 30, BLACK, anchor="mm"),
    ]
    for k, (name, price) in enumerate(lines):
        items += [
            text("", (230, 300 + 60 * k), name, 18, BLACK, font="DejaVuSansMono"),
            text("", (500, 300 + 60 * k), price, 18, BLACK, font="DejaVuSansMono"),
        ]
    items += [
        line("", [(220, 980), (580, 980)], BLACK, 2),
        text("total", (230, 1015), "TOTAL", 22, BLACK, font="DejaVuSansMono-Bold"),
        text("total_value", (470, 1015), "1,250", 22, BLACK, font="DejaVuSansMono-Bold"),
    ]
    scene = Scene(
        (800, 1200),
        "jpeg",
        (110, 90, 70),
        bg2=(80, 65, 50),
        seed=7,
        clutter=8,
        items=tuple(items),
        keep_clear=((190, 50, 610, 1150),),
    )
    return Spec(
        "sr_receipt_total",
        S,
        scene,
        authors_path("doc", "receipt_0907.jpg"),
        "What total amount is printed at the bottom of the receipt?",
        (
            "The receipt text is small, especially the total line at the bottom. I'll crop that line and "
            "enlarge it with bicubic interpolation.\n",
            Block(cv2_cubic(box, "the TOTAL line", scale=2), (box,), ("total_value",)),
            '\nThe enlarged line reads "TOTAL 1,250". As a check, the items above are 350, 400 and 500, '
            "which add up to 1,250.\n",
        ),
        "1,250",
    )


def _traffic_light() -> Spec:
    box = (100, 60, 240, 380)
    scene = Scene(
        (1280, 960),
        "jpeg",
        (170, 200, 225),
        bg2=(120, 120, 120),
        seed=8,
        items=(
            rect("housing", (120, 80, 220, 360), BLACK),
            ell("", (140, 100, 200, 160), (90, 20, 20)),
            ell("", (140, 180, 200, 240), (90, 80, 20)),
            ell("lit", (140, 260, 200, 320), (40, 220, 80)),
            line("", [(170, 360), (170, 700)], GREY, 10),
        ),
        keep_clear=((90, 50, 250, 400),),
    )
    return Spec(
        "sr_traffic_light",
        S,
        scene,
        authors_path("vstar", "sa_01988.jpg"),
        "Is the lit lamp of the traffic light in the top-left corner green? Answer yes or no.",
        (
            "The traffic light is in the top-left corner and fairly small, so I will crop it to check which "
            "lamp is lit.\n",
            Block(pil_crop_box(box, "the traffic light", zoom=2, var="bbox"), (box,), ("lit",)),
            "\nIn the crop, the top (red) and middle (amber) lamps are dark, while the bottom lamp is bright "
            "green. So the lit lamp is green.\n",
        ),
        "Yes",
    )


def _jersey_number() -> Spec:
    box = (540, 280, 860, 720)
    scene = Scene(
        (1400, 1050),
        "jpeg",
        (60, 140, 70),
        bg2=(40, 110, 50),
        seed=9,
        items=(
            ell("head", (650, 180, 750, 290), (225, 190, 160)),
            rect("shirt", (560, 300, 840, 700), BLUE),
            text("number", (700, 480), "14", 120, WHITE, anchor="mm"),
        ),
        keep_clear=((540, 170, 860, 720),),
    )
    return Spec(
        "sr_jersey_number",
        S,
        scene,
        authors_path("hr", "hr_4k_0412.jpg"),
        "Does the player's jersey show the number 7?",
        (
            "Let me zoom in on the player's shirt.\n",
            Block(pil_terse(box, zoom=2), (box,), ("number",)),
            "\nThe number printed on the blue jersey is 14, not 7.\n",
        ),
        "No.",
    )


def _open_banner() -> Spec:
    box = (730, 60, 950, 170)
    scene = Scene(
        (1024, 768),
        "png",
        (240, 236, 228),
        seed=10,
        items=(
            rect("facade", (560, 150, 1000, 700), (200, 170, 140)),
            rect("banner", (760, 90, 920, 140), ORANGE),
            text("banner_text", (840, 115), "OPEN", 28, WHITE, anchor="mm"),
        ),
        keep_clear=((720, 50, 960, 180),),
    )
    return Spec(
        "sr_open_banner",
        S,
        scene,
        authors_path("zh", "shop_sign_0338.png"),
        'Is the word on the small orange banner near the top right "OPEN"?',
        (
            "横幅很小，先把它裁剪出来再放大看清楚。\n",
            Block(np_pil(box, "橙色横幅", zoom=3), (box,), ("banner_text",)),
            "\n放大后可以看到橙色横幅上的白色字母是 OPEN，与问题中的单词一致。\n",
        ),
        "yes, it is",
    )


def _vertical_banner() -> Spec:
    box = (30, 190, 150, 710)
    scene = Scene(
        (1200, 900),
        "jpeg",
        (220, 220, 215),
        bg2=(180, 180, 175),
        seed=24,
        items=(
            rect("banner", (40, 200, 140, 700), RED),
            text("banner_text", (62, 330), "SALE", 64, WHITE, angle=90),
            rect("", (300, 250, 1100, 800), (150, 160, 170)),
        ),
        keep_clear=((20, 180, 160, 720),),
    )
    return Spec(
        "sr_vertical_banner",
        S,
        scene,
        authors_path("vstar", "sa_03320.jpg"),
        "What word is printed on the vertical red banner at the left edge of the image?",
        (
            "The text on the red banner runs vertically (rotated 90 degrees), which makes it hard to read. "
            "I will crop the banner and rotate it clockwise so that the text becomes horizontal.\n",
            Block(pil_rotate(box, "The banner text", angle=-90), (box,), ("banner_text",)),
            '\nAfter rotating, the banner reads "SALE" in white capital letters.\n',
        ),
        "SALE",
    )


def _faint_label() -> Spec:
    box = (1020, 610, 1260, 700)
    scene = Scene(
        (1400, 900),
        "jpeg",
        (95, 100, 105),
        bg2=(70, 72, 75),
        seed=25,
        items=(
            rect("machine", (850, 300, 1350, 850), (140, 140, 140)),
            rect("label", (1040, 630, 1240, 680), (168, 168, 168)),
            text("label_text", (1140, 655), "B-204", 28, (150, 150, 150), anchor="mm"),
        ),
        keep_clear=((840, 290, 1360, 860),),
    )
    return Spec(
        "sr_faint_label",
        S,
        scene,
        authors_path("hr", "hr_4k_0620.jpg"),
        "What code is printed on the faint grey label on the machine?",
        (
            "The label on the machine has grey text on a grey background, so it is barely visible. I'll crop "
            "the label and raise the contrast before reading it.\n",
            Block(pil_contrast(box, "the grey label"), (box,), ("label_text",)),
            "\nWith the contrast increased, the characters on the label are readable: B-204.\n",
        ),
        "B-204",
    )


def _gate_numbers() -> Spec:
    left, right = (120, 300, 420, 420), (1180, 320, 1480, 440)
    scene = Scene(
        (1600, 900),
        "jpeg",
        (200, 205, 210),
        bg2=(150, 150, 155),
        seed=26,
        items=(
            rect("", (140, 320, 400, 400), (20, 60, 120)),
            text("left_text", (270, 360), "GATE 12", 36, WHITE, anchor="mm"),
            rect("", (1200, 340, 1460, 420), (20, 60, 120)),
            text("right_text", (1330, 380), "GATE 27", 36, WHITE, anchor="mm"),
        ),
        keep_clear=((110, 290, 430, 430), (1170, 310, 1490, 450)),
    )
    return Spec(
        "sr_gate_numbers",
        S,
        scene,
        authors_path("vstar", "sa_04511.jpg"),
        "Which gate has the larger number: the one on the left sign or the one on the right sign?",
        (
            "There are two gate signs, one at each side of the hall. I will crop both signs in one step and "
            "compare their numbers.\n",
            Block(
                pil_two_crops(left, right, "the left gate sign", "the right gate sign"),
                (left, right),
                ("left_text", "right_text"),
            ),
            "\nThe first crop (left sign) reads GATE 12 and the second crop (right sign) reads GATE 27. "
            "Since 27 > 12, the right sign shows the larger number.\n",
        ),
        "The right sign (Gate 27) has the larger number.",
    )


def _heart_icon() -> Spec:
    box = (560, 200, 760, 380)
    scene = Scene(
        (900, 600),
        "rgba",
        (245, 245, 245),
        clutter=0,
        items=(
            rect("", (100, 220, 260, 380), BLUE),
            ell("", (330, 220, 490, 380), GREEN),
            ell("heart_l", (600, 240, 664, 304), RED),
            ell("heart_r", (652, 240, 716, 304), RED),
            poly("heart_b", [(604, 286), (712, 286), (658, 350)], RED),
        ),
    )
    return Spec(
        "sr_heart_icon",
        S,
        scene,
        authors_path("mmb", "icons_0093.png"),
        "What colour is the heart-shaped icon?",
        (
            "The image contains three icons: a square, a circle and a heart. The heart is on the right. "
            "I'll crop it to confirm its colour.\n",
            Block(pil_zoom(box, "the heart icon", convert=True), (box,), ("heart_b",)),
            "\nThe crop shows the heart icon filled with a solid red colour.\n",
        ),
        "red",
    )


def _circle_number() -> Spec:
    box = (380, 230, 620, 470)
    scene = Scene(
        (1000, 700),
        "p",
        (30, 60, 140),
        clutter=0,
        items=(
            rect("", (0, 0, 1000, 120), RED),
            rect("", (0, 580, 1000, 700), RED),
            ell("circle", (410, 260, 590, 440), WHITE),
            text("digit", (500, 350), "8", 110, BLACK, anchor="mm"),
        ),
    )
    return Spec(
        "sr_circle_number",
        S,
        scene,
        authors_path("mmb", "flag_style_0211.png"),
        "What number is printed inside the white circle?",
        (
            "I will zoom into the white circle in the middle of the flag to read the number.\n",
            Block(cv2_cubic(box, "the white circle", scale=2, ext=".png"), (box,), ("digit",)),
            "\nThe zoomed circle contains a single black digit: 8.\n",
        ),
        "8",
    )


def _poster_word() -> Spec:
    scene = Scene(
        (1200, 900),
        "jpeg",
        (25, 25, 60),
        bg2=(80, 30, 90),
        seed=32,
        items=(
            text("title", (600, 160), "CONCERT", 150, YELLOW, anchor="mm"),
            text("", (600, 700), "Saturday, 8 pm", 50, WHITE, anchor="mm"),
        ),
        keep_clear=((0, 60, 1200, 260),),
    )
    return Spec(
        "sr_poster_word",
        S,
        scene,
        authors_path("mmb", "poster_0450.jpg"),
        "What word is written in large letters across the top of the poster?",
        (
            "The problem is very simple and requires no additional processing. The large yellow letters "
            "across the top of the poster spell CONCERT.",
        ),
        "CONCERT",
    )


SPECS = (
    _stop_sign,
    _price_tag,
    _pie_percent,
    _segment_length,
    _vertex_angle,
    _receipt_total,
    _traffic_light,
    _jersey_number,
    _open_banner,
    _vertical_banner,
    _faint_label,
    _gate_numbers,
    _heart_icon,
    _circle_number,
    _poster_word,
)
