"""Single-round multiple-choice records in many option layouts and answer styles, plus direct answers (all
accepted)."""

from __future__ import annotations

from .code_styles import cv2_cubic, np_pil, pil_crop_box, pil_terse, pil_zoom
from .palette import BLACK, BLUE, GREEN, GREY, ORANGE, PURPLE, RED, WHITE, YELLOW
from .scenes import Scene, ell, line, poly, rect, star, text
from .spec import Block, Spec, authors_path

__all__ = ["SPECS"]

S = "single_round"


def _triangle_colour() -> Spec:
    box = (990, 660, 1150, 820)
    scene = Scene(
        (1200, 900),
        "png",
        (235, 235, 225),
        bg2=(215, 215, 205),
        seed=2,
        items=(
            ell("", (150, 150, 330, 330), RED),
            rect("", (500, 120, 680, 300), BLUE),
            poly("", [(200, 700), (380, 700), (290, 540)], BLUE),
            rect("", (700, 500, 860, 600), YELLOW),
            poly("target", [(1040, 760), (1100, 760), (1070, 705)], GREEN),
        ),
        keep_clear=((980, 650, 1160, 830),),
    )
    return Spec(
        "sc_triangle_colour",
        S,
        scene,
        authors_path("mmb", "00052214.png"),
        "What colour is the small triangle in the lower-right corner?\n(A) red\n(B) blue\n(C) green\n"
        "(D) yellow",
        (
            "The image is quite complex, and I need to perform some image operations. The small triangle in "
            "the lower-right corner is tiny, so I will crop that corner and upscale it. The code is as "
            "follows:\n",
            Block(cv2_cubic(box, "the small triangle in the lower-right corner"), (box,), ("target",)),
            "\nThe upscaled crop shows a small triangle filled with green. The large triangle on the left is "
            "blue, but it is not the one in the lower-right corner. So the answer is C.\n",
        ),
        "**C. green**",
    )


def _zoo_sign() -> Spec:
    box = (1190, 790, 1510, 930)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (160, 200, 150),
        bg2=(110, 150, 90),
        seed=11,
        items=(
            rect("", (200, 300, 420, 380), (120, 80, 40)),
            text("", (310, 340), "EXIT", 40, WHITE, anchor="mm"),
            line("", [(1350, 900), (1350, 1150)], (90, 60, 30), 14),
            rect("sign", (1220, 820, 1480, 900), GREEN),
            text("sign_text", (1350, 860), "ZEBRA", 40, WHITE, anchor="mm"),
        ),
        keep_clear=((1180, 780, 1520, 940),),
    )
    return Spec(
        "sc_zoo_sign",
        S,
        scene,
        authors_path("vstar", "sa_05102.jpg"),
        "Which animal name is written on the green signboard?\nA. TIGER\nB. ZEBRA\nC. PANDA\nD. KOALA",
        (
            "The green signboard is in the lower-right part of the image and its text is small. Let me crop "
            "and enlarge it.\n",
            Block(cv2_cubic(box, "the green signboard", scale=2), (box,), ("sign_text",)),
            "\nThe enlarged signboard clearly reads ZEBRA, which is option B.\n",
        ),
        "**B**",
    )


def _star_count() -> Spec:
    box = (800, 540, 1140, 840)
    inside = ((870, 610), (950, 620), (1040, 605), (880, 720), (975, 700), (1065, 740), (930, 780))
    scene = Scene(
        (1200, 900),
        "png",
        (250, 250, 252),
        clutter=0,
        items=(
            rect("box", (820, 560, 1120, 820), (250, 235, 150), outline=(200, 170, 40), width=4),
            *(star("", c, 22, RED) for c in inside),
            *(star("", c, 30, BLUE) for c in ((200, 200), (300, 260), (400, 180))),
        ),
    )
    return Spec(
        "sc_star_count",
        S,
        scene,
        authors_path("mmb", "00060031.png"),
        "How many stars are drawn inside the yellow box? (A) 3 (B) 5 (C) 7 (D) 9",
        (
            "The stars inside the yellow box are small and close together, so I will zoom into the box to "
            "count them accurately.\n",
            Block(pil_zoom(box, "the yellow box with the stars", ext=".png"), (box,), ("box",)),
            "\nCounting the red stars in the zoomed box: three along the top and four more below them, 7 in "
            "total. The three blue stars at the top left are outside the box and do "
            "not count. The answer is (C).\n",
        ),
        "(C)",
    )


def _umbrella_colour() -> Spec:
    box = (80, 190, 340, 580)
    scene = Scene(
        (1280, 720),
        "jpeg",
        (180, 190, 200),
        bg2=(110, 115, 120),
        seed=13,
        items=(
            line("", [(210, 300), (210, 370)], BLACK, 4),
            ell("", (180, 300, 240, 360), (225, 190, 160)),
            rect("", (175, 360, 245, 560), (60, 60, 70)),
            poly("umbrella", [(110, 300), (310, 300), (210, 220)], PURPLE),
            ell("", (900, 300, 960, 360), (225, 190, 160)),
            rect("", (895, 360, 965, 560), (40, 90, 60)),
        ),
        keep_clear=((70, 180, 350, 590),),
    )
    return Spec(
        "sc_umbrella_colour",
        S,
        scene,
        authors_path("vstar", "sa_06017.jpg"),
        "What colour is the umbrella held by the person on the left?\nA: black\nB: yellow\nC: purple\n"
        "D: white",
        (
            "Crop the left person.\n",
            Block(pil_zoom(box, "the person on the left and the umbrella"), (box,), ("umbrella",)),
            "\nUmbrella canopy is purple. Option C.\n",
        ),
        "C.",
    )


def _road_sign_word() -> Spec:
    box = (970, 120, 1290, 260)
    scene = Scene(
        (1400, 1000),
        "jpeg",
        (175, 205, 235),
        bg2=(95, 95, 100),
        seed=14,
        items=(
            rect("", (150, 400, 330, 470), GREEN),
            text("", (240, 435), "EXIT", 34, WHITE, anchor="mm"),
            line("", [(1130, 230), (1130, 900)], GREY, 12),
            rect("sign", (1000, 150, 1260, 230), BLUE),
            text("sign_text", (1130, 190), "EAST", 44, WHITE, anchor="mm"),
        ),
        keep_clear=((960, 110, 1300, 270),),
    )
    return Spec(
        "sc_road_sign_word",
        S,
        scene,
        authors_path("hr", "hr_4k_0777.jpg"),
        "Which of these words appears on the blue road sign?\nOptions:\nA. NORTH\nB. SOUTH\nC. EAST\n"
        "D. WEST\nAnswer with the option's letter from the given choices directly.",
        (
            "Zoom into the blue sign at the top right.\n",
            Block(pil_crop_box(box, "the blue road sign", var="box"), (box,), ("sign_text",)),
            "\nThe sign says EAST.\n",
        ),
        "C",
    )


def _digital_clock() -> Spec:
    box = (400, 280, 800, 460)
    scene = Scene(
        (1200, 800),
        "png",
        (230, 225, 215),
        seed=15,
        items=(
            rect("clock", (420, 300, 780, 440), BLACK),
            text("time", (600, 370), "12:30", 80, (255, 60, 40), font="DejaVuSansMono-Bold", anchor="mm"),
        ),
        keep_clear=((390, 270, 810, 470),),
    )
    return Spec(
        "sc_digital_clock",
        S,
        scene,
        authors_path("mmb", "00071544.png"),
        "What time is shown on the digital clock?\n(A) 10:15\n(B) 11:45\n(C) 12:30\n(D) 01:05",
        (
            "I will crop the clock display to read the digits without any doubt.\n",
            Block(cv2_cubic(box, "the clock display", scale=2, ext=".png"), (box,), ("time",)),
            "\nThe red digits on the display read 12:30, which corresponds to option C.\n",
        ),
        "Option C",
    )


def _bus_route() -> Spec:
    box = (320, 610, 540, 720)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (185, 185, 190),
        bg2=(120, 120, 125),
        seed=16,
        items=(
            rect("bus", (300, 600, 1300, 950), YELLOW),
            rect("display", (340, 630, 520, 700), BLACK),
            text("route", (430, 665), "45", 48, ORANGE, anchor="mm"),
            *(rect("", (580 + 170 * k, 640, 720 + 170 * k, 760), (150, 190, 210)) for k in range(4)),
            ell("", (400, 900, 520, 1020), BLACK),
            ell("", (1080, 900, 1200, 1020), BLACK),
        ),
        keep_clear=((290, 590, 1310, 1030),),
    )
    return Spec(
        "sc_bus_route",
        S,
        scene,
        authors_path("vstar", "sa_07730.jpg"),
        "What number is shown on the route display of the bus?\nA. 12\nB. 27\nC. 45\nD. 63",
        (
            "The route display is the small black panel at the front of the bus. I'll zoom in on it.\n",
            Block(pil_terse(box), (box,), ("route",)),
            "\nThe panel shows the orange number 45. The answer is C.\n",
        ),
        "The answer is C",
    )


def _red_outline() -> Spec:
    box = (560, 480, 720, 640)
    hexagon = [(830, 200), (880, 230), (880, 290), (830, 320), (780, 290), (780, 230)]
    scene = Scene(
        (1000, 800),
        "png",
        (255, 255, 255),
        clutter=0,
        items=(
            ell("", (100, 100, 260, 260), None, outline=BLACK, width=4),
            poly("", [(120, 650), (280, 650), (200, 510)], None, outline=BLACK, width=4),
            poly("", hexagon, None, outline=BLACK, width=4),
            rect("square", (600, 520, 680, 600), None, outline=RED, width=4),
        ),
    )
    return Spec(
        "sc_red_outline",
        S,
        scene,
        authors_path("mmb", "00080412.png"),
        "Which shape is drawn with a red outline?\n(A) circle\n(B) square\n(C) triangle\n(D) hexagon",
        (
            "Most outlines are black. The small shape near the bottom centre looks reddish, so I will zoom "
            "in to check its colour and shape.\n",
            Block(pil_zoom(box, "the small shape near the bottom centre", ext=".png"), (box,), ("square",)),
            "\nThe zoomed region shows a square drawn with a red outline; the circle, triangle and hexagon "
            "are all outlined in black. Therefore the answer is B.\n",
        ),
        "\\boxed{B}",
    )


def _car_colour() -> Spec:
    box = (860, 600, 1300, 840)
    scene = Scene(
        (1600, 1000),
        "jpeg",
        (190, 200, 210),
        bg2=(100, 100, 100),
        seed=18,
        items=(
            rect("", (150, 660, 450, 790), WHITE),
            ell("", (180, 760, 240, 820), BLACK),
            ell("", (360, 760, 420, 820), BLACK),
            rect("hydrant", (900, 700, 940, 780), RED),
            rect("car", (960, 650, 1260, 790), BLUE),
            ell("", (990, 760, 1050, 820), BLACK),
            ell("", (1170, 760, 1230, 820), BLACK),
        ),
        keep_clear=((850, 590, 1310, 850),),
    )
    return Spec(
        "sc_car_colour",
        S,
        scene,
        authors_path("vstar", "sa_08264.jpg"),
        "What colour is the car parked next to the fire hydrant?\nA. red\nB. blue\nC. white\nD. silver",
        (
            "The fire hydrant is the small red post on the right side of the street. I will crop the area "
            "around it to see which car is parked beside it.\n",
            Block(cv2_cubic(box, "the hydrant and the car next to it", scale=2), (box,), ("car",)),
            "\nNext to the red hydrant there is a blue car. The white car is further to the left, away from "
            "the hydrant.\n",
        ),
        "blue",
    )


def _licence_plate() -> Spec:
    box = (730, 790, 970, 900)
    scene = Scene(
        (1600, 1200),
        "jpeg",
        (200, 210, 220),
        bg2=(90, 90, 95),
        seed=19,
        items=(
            rect("truck", (500, 500, 1200, 900), (200, 200, 210)),
            rect("plate", (760, 820, 940, 870), WHITE, outline=BLACK, width=2),
            text("plate_text", (850, 845), "KX-4827", 28, BLACK, font="DejaVuSansMono-Bold", anchor="mm"),
        ),
        keep_clear=((490, 490, 1210, 910),),
    )
    return Spec(
        "sc_licence_plate",
        S,
        scene,
        authors_path("hr", "hr_4k_0903.jpg"),
        "What is written on the licence plate of the truck?\nA. KX-4827\nB. KX-4872\nC. KY-4827\nD. KX-8427",
        (
            "The options differ only in the order of a few characters, so I must read the plate exactly. "
            "I will crop the plate and zoom in 3x.\n",
            Block(pil_zoom(box, "the licence plate", zoom=3), (box,), ("plate_text",)),
            "\nThe enlarged plate reads K, X, a hyphen, then 4, 8, 2, 7: KX-4827. That matches option A "
            "exactly; the other options swap digits or letters.\n",
        ),
        "The licence plate reads KX-4827.",
    )


def _slow_sign_zh() -> Spec:
    box = (980, 620, 1180, 820)
    scene = Scene(
        (1280, 960),
        "jpeg",
        (170, 190, 170),
        bg2=(110, 120, 110),
        seed=20,
        items=(
            line("", [(1080, 800), (1080, 950)], GREY, 10),
            poly(
                "sign", [(1080, 640), (1160, 720), (1080, 800), (1000, 720)], YELLOW, outline=BLACK, width=3
            ),
            text("sign_text", (1080, 720), "SLOW", 26, BLACK, anchor="mm"),
        ),
        keep_clear=((970, 610, 1190, 830),),
    )
    return Spec(
        "sc_slow_sign_zh",
        S,
        scene,
        authors_path("zh", "road_0415.jpg"),
        "请仔细观察图片，回答问题：右下角警示牌上的英文单词是什么？\nA. EXIT\nB. SLOW\nC. STOP\nD. OPEN\n"
        "请直接给出选项字母。",
        (
            "题目询问右下角警示牌上的单词。警示牌在整张图中很小，我先裁剪该区域并放大。\n",
            Block(pil_zoom(box, "the warning sign in the lower-right corner"), (box,), ("sign_text",)),
            "\n放大后可以清楚地看到黄色菱形警示牌上写着 SLOW，对应选项 B。\n",
        ),
        "B",
    )


def _circle_colour_zh() -> Spec:
    box = (30, 30, 180, 180)
    scene = Scene(
        (1000, 750),
        "png",
        (248, 248, 240),
        clutter=0,
        items=(
            ell("circle", (60, 60, 140, 140), RED),
            rect("", (350, 250, 650, 500), BLUE),
            poly("", [(780, 600), (960, 600), (870, 440)], GREEN),
        ),
    )
    return Spec(
        "sc_circle_colour_zh",
        S,
        scene,
        authors_path("zh", "shapes_1120.png"),
        "图中左上角的圆形是什么颜色？\nA. 红色\nB. 蓝色\nC. 绿色\nD. 黄色",
        (
            "The circle in the top-left corner is small compared with the other shapes, so I will zoom into "
            "that corner first.\n",
            Block(np_pil(box, "左上角圆形", zoom=3), (box,), ("circle",)),
            "\nThe zoomed corner shows a solid red circle, i.e. 红色, option A.\n",
        ),
        "**A. 红色**",
    )


def _bakery_hours() -> Spec:
    box = (630, 500, 820, 620)
    scene = Scene(
        (1400, 1050),
        "jpeg",
        (215, 205, 190),
        seed=22,
        items=(
            rect("shop", (200, 200, 1200, 1000), (150, 90, 60)),
            rect("door", (600, 450, 850, 1000), (90, 60, 40)),
            rect("card", (650, 520, 800, 600), WHITE),
            text("", (725, 543), "OPENS AT", 16, BLACK, anchor="mm"),
            text("hours", (725, 578), "9:00", 30, BLACK, anchor="mm"),
            text("", (700, 300), "BAKERY", 70, (250, 230, 180), anchor="mm"),
        ),
        keep_clear=((190, 190, 1210, 1010),),
    )
    return Spec(
        "sc_bakery_hours",
        S,
        scene,
        authors_path("mmb", "00093318.jpg"),
        "Hint: The picture shows the entrance of a bakery.\nQuestion: At what time does the bakery open "
        "according to the sign on the door?\nOptions:\nA. 8:00\nB. 9:00\nC. 10:00\nD. 11:00\n"
        "Please select the correct answer from the options above.",
        (
            "The small white card on the door probably shows the opening time, but the text is too small to "
            "read at this scale. I will crop the card and upscale it.\n",
            Block(cv2_cubic(box, "the card on the door", scale=3), (box,), ("hours",)),
            '\nThe card reads "OPENS AT 9:00". So the bakery opens at 9:00, which is option B.\n',
        ),
        "**B. 9:00**",
    )


def _bar_max() -> Spec:
    box = (120, 160, 1000, 470)
    values = (("Q1", 42), ("Q2", 58), ("Q3", 35), ("Q4", 50))
    items = [line("", [(100, 800), (1050, 800)], BLACK, 3)]
    for k, (name, value) in enumerate(values):
        x = 150 + 230 * k
        items += [
            rect("", (x, 800 - 10 * value, x + 130, 800), (70, 110, 180)),
            text(f"label_{value}", (x + 65, 770 - 10 * value), str(value), 28, BLACK, anchor="mm"),
            text("", (x + 65, 830), name, 24, BLACK, font="DejaVuSans", anchor="mm"),
        ]
    scene = Scene((1200, 900), "png", (255, 255, 255), clutter=0, items=tuple(items))
    return Spec(
        "sc_bar_max",
        S,
        scene,
        authors_path("chart", "chartqa_train_04410.png"),
        "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the "
        "end.\nQuestion: What is the highest value labelled on the bar chart?\nChoices:\n(A) 42\n(B) 58\n"
        "(C) 61\n(D) 75",
        (
            "To read the value labels above the bars precisely, I will crop the upper part of the chart and "
            "enlarge it.\n",
            Block(pil_zoom(box, "the value labels above the bars", ext=".png"), (box,), ("label_58",)),
            "\nThe labels above the bars read 42, 58, 35 and 50 from left to right. The highest value is 58. "
            "The answer is B.\n",
        ),
        "(B)",
    )


def _direct(
    key: str, scene: Scene, path: str, question: str, reasoning: str, answer: str, separator: str = "\n"
) -> Spec:
    return Spec(key, S, scene, path, question, (reasoning,), answer, separator=separator)


def _big_rectangle() -> Spec:
    scene = Scene(
        (800, 600), "jpeg", (235, 235, 235), seed=29, items=(rect("", (150, 120, 650, 480), PURPLE),)
    )
    return _direct(
        "sc_big_rectangle",
        scene,
        authors_path("mmb", "00100002.jpg"),
        "What is the main colour of the large rectangle that fills the centre of the image?\nA. orange\n"
        "B. purple\nC. teal\nD. grey",
        "The problem is very simple and requires no additional processing. The large rectangle in the "
        "centre is clearly purple, so the answer is B.",
        "B",
        separator=" ",
    )


def _has_circle() -> Spec:
    scene = Scene(
        (900, 700),
        "png",
        (250, 245, 235),
        clutter=0,
        items=(
            ell("", (250, 150, 650, 550), GREEN),
            rect("", (40, 40, 160, 120), ORANGE),
        ),
    )
    return _direct(
        "sc_has_circle",
        scene,
        authors_path("mmb", "00100003.png"),
        "Is there a circle in this image?",
        "No image processing is needed: a large green circle fills the middle of the picture.",
        "Yes.",
    )


def _square_count() -> Spec:
    scene = Scene(
        (1200, 800),
        "jpeg",
        (240, 240, 245),
        seed=31,
        clutter=0,
        items=(
            rect("", (100, 250, 400, 550), RED),
            rect("", (450, 250, 750, 550), BLUE),
            rect("", (800, 250, 1100, 550), GREEN),
        ),
    )
    return _direct(
        "sc_square_count",
        scene,
        authors_path("mmb", "00100004.jpg"),
        "How many large squares are in the picture?",
        "The image is simple: three large squares (red, blue and green) stand in a row. Count = 3.",
        "3",
        separator=" ",
    )


SPECS = (
    _triangle_colour,
    _zoo_sign,
    _star_count,
    _umbrella_colour,
    _road_sign_word,
    _digital_clock,
    _bus_route,
    _red_outline,
    _car_colour,
    _licence_plate,
    _slow_sign_zh,
    _circle_colour_zh,
    _bakery_hours,
    _bar_max,
    _big_rectangle,
    _has_circle,
    _square_count,
)
