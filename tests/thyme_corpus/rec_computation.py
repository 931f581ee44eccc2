"""Computation records: the code reads numbers off the figure and prints a result (all accepted).

``<sandbox_output>`` holds exactly what the code printed. Two records format with ``:.2f``/``:.3f``, which
Thyme's sandbox widened to ``:.8f``, so their recorded outputs carry 8 decimals and reproduce only with that
fix-up.
"""

from __future__ import annotations

from .palette import BLACK, BLUE, GREEN, GREY, RED, WHITE, YELLOW
from .scenes import Scene, ell, line, poly, rect, text
from .spec import Block, Spec, authors_path, reject

__all__ = ["SPECS"]

S = "computation"


def _label(xy: tuple[int, int], label: str, size: int = 34, fill=BLACK):
    return text("", xy, label, size, fill, font="DejaVuSans", anchor="mm")


def _outline(kind, geometry, width: int = 4):
    return kind("", geometry, None, outline=BLACK, width=width)


def _figure(*items, size: tuple[int, int] = (1000, 800), fmt: str = "png") -> Scene:
    return Scene(size, fmt, (255, 255, 255), clutter=0, items=items)


def _spec(
    key: str,
    scene: Scene,
    name: str,
    question: str,
    before: str,
    code: str,
    after: str,
    answer: str,
    **kwargs,
) -> Spec:
    return Spec(
        key, S, scene, authors_path("geo", name), question, (before, Block(code), after), answer, **kwargs
    )


def _hypotenuse() -> Spec:
    scene = _figure(
        _outline(poly, [(200, 650), (800, 650), (200, 200)]),
        _outline(rect, (200, 620, 230, 650), 2),
        _label((500, 690), "4", 40),
        _label((160, 425), "3", 40),
        _label((530, 390), "?", 40, RED),
    )
    code = """import math

# legs of the right triangle read from the figure
a = 3
b = 4
# Pythagorean theorem
c = math.sqrt(a ** 2 + b ** 2)
print(c)"""
    return _spec(
        "cp_hypotenuse",
        scene,
        "geo_3301.png",
        "The figure shows a right triangle with legs 3 and 4. What is the length of the hypotenuse?",
        "The legs are labelled 3 and 4 and the right angle is at the bottom-left corner. I will use the "
        "Pythagorean theorem and compute it:\n",
        code,
        "\nThe hypotenuse is 5.\n",
        "5",
    )


def _circle_area() -> Spec:
    scene = _figure(
        _outline(ell, (300, 200, 700, 600)),
        line("", [(500, 400), (700, 400)], BLUE, 3),
        ell("", (494, 394, 506, 406), BLACK),
        _label((600, 375), "r = 2 cm", 30, BLUE),
        size=(900, 700),
    )
    code = """import math

r = 2  # radius in cm, from the figure
area = math.pi * r ** 2
print(f"Area = {area:.2f}")"""
    return _spec(
        "cp_circle_area",
        scene,
        "geo_3318.png",
        "What is the area of the circle in the figure? Round your answer to two decimal places.",
        "The radius is marked as r = 2 cm. The area of a circle is pi * r^2. Let me compute it.\n",
        code,
        "\nThe area is about 12.566 cm², which rounds to 12.57 cm² to two decimal places.\n",
        "12.57 cm²",
        needs_fixups=True,
        strict=reject("import", "import_output_mismatch", "with fix-ups off it prints 2 decimals, not 8"),
    )


def _third_angle() -> Spec:
    scene = _figure(
        _outline(poly, [(150, 650), (850, 650), (420, 200)]),
        _label((230, 620), "65°", 30),
        _label((760, 620), "70°", 30),
        _label((420, 270), "x", 34, RED),
        size=(1000, 760),
        fmt="p",
    )
    code = """# angles of a triangle add up to 180 degrees
angle_a = 65
angle_b = 70
x = 180 - angle_a - angle_b
print(x)"""
    return _spec(
        "cp_third_angle",
        scene,
        "geo_3402.png",
        "Find the measure of angle x in the triangle.",
        "Two angles of the triangle are given as 65° and 70°; x is the third one.\n",
        code,
        "\nSo x = 45°.\n",
        "45°",
    )


def _rectangle_area() -> Spec:
    scene = _figure(
        _outline(rect, (200, 250, 800, 550)),
        _label((500, 590), "12 cm", 32),
        _label((880, 400), "7.5 cm", 32),
    )
    code = "length = 12\nwidth = 7.5\narea = length * width\nprint(area)"
    return _spec(
        "cp_rectangle_area",
        scene,
        "geo_3555.png",
        "What is the area of the rectangle shown?",
        "Length 12 cm, width 7.5 cm. Area = length x width.\n",
        code,
        "\nArea = 90 cm².\n",
        "90 cm²",
    )


def _price_total() -> Spec:
    rows = (("Notebook", "$12.50"), ("Pen set", "$8.40"), ("Ruler", "$6.50"))
    items = [_outline(rect, (150, 150, 850, 550), 3), line("", [(500, 150), (500, 550)], BLACK, 2)]
    for k, (item, price) in enumerate(rows):
        items += [_label((325, 230 + 120 * k), item), _label((675, 230 + 120 * k), price)]
    code = """# prices from the table
prices = {"Notebook": 12.50, "Pen set": 8.40, "Ruler": 6.50}
total = round(sum(prices.values()), 2)
print(total)"""
    return _spec(
        "cp_price_total",
        _figure(*items, fmt="jpeg"),
        "table_0871.jpg",
        "The table lists the prices of three items. What is the total cost of buying one of each?",
        "I will add up the three prices from the table: $12.50, $8.40 and $6.50.\n",
        code,
        "\nThe total cost is $27.40.\n",
        "$27.40",
    )


def _survey_percent() -> Spec:
    counts = (("Blue", 20, BLUE), ("Red", 30, RED), ("Green", 18, GREEN), ("Yellow", 12, YELLOW))
    items = [line("", [(100, 700), (900, 700)], BLACK, 3)]
    for k, (name, count, colour) in enumerate(counts):
        x = 150 + 190 * k
        items += [
            rect("", (x, 700 - 15 * count, x + 120, 700), colour),
            _label((x + 60, 680 - 15 * count), str(count), 28),
            _label((x + 60, 730), name, 26),
        ]
    code = """counts = {'Blue': 20, 'Red': 30, 'Green': 18, 'Yellow': 12}
share = counts['Blue'] / sum(counts.values()) * 100
print(share)"""
    return _spec(
        "cp_survey_percent",
        _figure(*items),
        "chart_survey_0042.png",
        "The bar chart shows how many students chose each colour. What percentage of the students chose "
        "blue?",
        "From the labels: Blue 20, Red 30, Green 18, Yellow 12. The share of blue is 20 divided by the "
        "total, times 100.\n",
        code,
        "\n25% of the students chose blue.\n",
        "25%",
    )


def _width_ratio() -> Spec:
    scene = _figure(
        rect("", (150, 300, 850, 600), GREY),
        _label((500, 640), "7", 36),
        _label((890, 450), "3", 36),
        size=(1100, 800),
    )
    code = 'w, h = 7, 3\nratio = w / h\nprint(f"{ratio:.3f}")'
    return _spec(
        "cp_width_ratio",
        scene,
        "geo_3710.png",
        "What is the ratio of the rectangle's width to its height? Give the answer to three decimal places.",
        "The width is 7 and the height is 3.\n",
        code,
        "\nThe ratio is 2.3333..., i.e. 2.333 to three decimal places.\n",
        "2.333",
        needs_fixups=True,
        strict=reject("import", "import_output_mismatch", "with fix-ups off it prints 3 decimals, not 8"),
    )


def _perimeter_choice() -> Spec:
    scene = _figure(
        _outline(poly, [(150, 650), (850, 650), (350, 200)]),
        _label((500, 690), "9", 36),
        _label((210, 420), "5", 36),
        _label((650, 410), "7", 36),
    )
    code = "sides = [5, 7, 9]\nperimeter = sum(sides)\nprint(perimeter)"
    return _spec(
        "cp_perimeter_choice",
        scene,
        "geo_3802.png",
        "What is the perimeter of the triangle?\nA. 19\nB. 21\nC. 23\nD. 25",
        "The sides are labelled 5, 7 and 9. Add them:\n",
        code,
        "\nThe perimeter is 21, which is option B.\n",
        "B",
    )


def _average_speed() -> Spec:
    scene = _figure(
        rect("", (200, 250, 800, 550), (30, 110, 60)),
        _label((500, 340), "TOWN  180 km", 48, WHITE),
        _label((500, 460), "Time: 3 h", 40, WHITE),
        size=(1000, 640),
        fmt="jpeg",
    )
    code = "distance_km = 180\ntime_h = 3\nspeed = distance_km / time_h  # km per hour\nprint(speed)"
    return _spec(
        "cp_average_speed",
        scene,
        "sign_speed_0090.jpg",
        "A car covers the distance on the sign in the time shown. What is its average speed?",
        "The sign says the town is 180 km away and the trip takes 3 h. Average speed = distance / time.\n",
        code,
        "\nThe average speed is 60 km/h.\n",
        "60 km/h",
    )


def _perimeter_zh() -> Spec:
    scene = _figure(
        _outline(rect, (200, 250, 800, 550)),
        rect("", (210, 260, 790, 540), (235, 245, 255)),
        _label((500, 590), "12 cm", 32),
        _label((880, 400), "7.5 cm", 32),
    )
    code = (
        "# 长方形周长 = (长 + 宽) × 2\nlength = 12\nwidth = 7.5\n"
        "perimeter = (length + width) * 2\nprint(perimeter)"
    )
    return _spec(
        "cp_perimeter_zh",
        scene,
        "geo_zh_0219.png",
        "如图所示，求长方形的周长。",
        "图中长方形的长为 12 cm，宽为 7.5 cm，用代码计算周长：\n",
        code,
        "\n周长为 39 cm。\n",
        "39 cm",
    )


def _bar_mean() -> Spec:
    items = [line("", [(100, 700), (900, 700)], BLACK, 3)]
    for k, value in enumerate((14, 22, 18, 26)):
        x = 150 + 190 * k
        items += [
            rect("", (x, 700 - 20 * value, x + 120, 700), (100, 100, 180)),
            _label((x + 60, 680 - 20 * value), str(value), 28),
        ]
    code = (
        "import numpy as np\n\nvalues = [14, 22, 18, 26]  # bar labels, left to right\nprint(np.mean(values))"
    )
    return _spec(
        "cp_bar_mean",
        _figure(*items),
        "chart_mean_0312.png",
        "What is the average of the four values shown in the bar chart?",
        "The four bars are labelled 14, 22, 18 and 26. I'll compute the mean with numpy.\n",
        code,
        "\nThe average is 20.\n",
        "20",
    )


def _two_step_perimeter() -> Spec:
    scene = _figure(
        _outline(poly, [(200, 650), (800, 650), (200, 200)]),
        _label((500, 690), "8", 40),
        _label((160, 425), "6", 40),
    )
    first = """import math

# hypotenuse of the right triangle with legs 6 and 8
hyp = math.sqrt(6 ** 2 + 8 ** 2)
print(hyp)"""
    second = """# perimeter = both legs + hypotenuse (hyp from the previous step)
perimeter = 6 + 8 + hyp
print(perimeter)"""
    return Spec(
        "cp_two_step_perimeter",
        S,
        scene,
        authors_path("geo", "geo_3990.png"),
        "The right triangle in the figure has legs 6 and 8. What is its perimeter?",
        (
            "First find the hypotenuse.\n",
            Block(first),
            "\nThe hypotenuse is 10. Now add the three sides.\n",
            Block(second),
            "\nThe perimeter is 24.\n",
        ),
        "24",
    )


SPECS = (
    _hypotenuse,
    _circle_area,
    _third_angle,
    _rectangle_area,
    _price_total,
    _survey_percent,
    _width_ratio,
    _perimeter_choice,
    _average_speed,
    _perimeter_zh,
    _bar_mean,
    _two_step_perimeter,
)
