"""Boxes: placement without overlap, margins, and position words for questions.

Boxes are ``(x1, y1, x2, y2)`` in pixels with exclusive right/bottom edges, like ``PIL.Image.crop``.
"""

from __future__ import annotations

import numpy as np

from synthesis.tasks.drawing.rand import randint

__all__ = [
    "Box",
    "area_fraction",
    "crop_box_around",
    "expand_box",
    "find_free_spot",
    "int_box",
    "intersects",
    "position_phrase",
]

Box = tuple[int, int, int, int]


def int_box(bbox: tuple[float, float, float, float]) -> Box:
    """``bbox`` (a ``textbbox``, say) in whole pixels, each edge truncated by ``int``.

    Example:
        >>> int_box((1.9, 2.0, 30.5, 40.2))
        (1, 2, 30, 40)
    """
    x1, y1, x2, y2 = bbox
    return int(x1), int(y1), int(x2), int(y2)


def expand_box(box: Box, margin: int, width: int, height: int) -> Box:
    """``box`` grown by ``margin`` on every side and clipped to the image.

    Example:
        >>> expand_box((10, 10, 20, 20), 15, 100, 100)
        (0, 0, 35, 35)
    """
    x1, y1, x2, y2 = box
    return (max(0, x1 - margin), max(0, y1 - margin), min(width, x2 + margin), min(height, y2 + margin))


def intersects(a: Box, b: Box, pad: int = 0) -> bool:
    """Whether ``a`` and ``b`` overlap once ``a`` is grown by ``pad``.

    Example:
        >>> intersects((0, 0, 10, 10), (12, 0, 20, 10)), intersects((0, 0, 10, 10), (12, 0, 20, 10), pad=3)
        (False, True)
    """
    return a[0] - pad < b[2] and b[0] < a[2] + pad and a[1] - pad < b[3] and b[1] < a[3] + pad


def area_fraction(box: Box, width: int, height: int) -> float:
    """Share of the image area covered by ``box``.

    Example:
        >>> area_fraction((0, 0, 10, 10), 100, 100)
        0.01
    """
    return (box[2] - box[0]) * (box[3] - box[1]) / float(width * height)


def find_free_spot(
    rng: np.random.Generator,
    size: tuple[int, int],
    canvas: tuple[int, int],
    taken: list[Box],
    pad: int,
    border: int = 0,
    tries: int = 200,
) -> Box | None:
    """A random box of ``size`` inside ``canvas`` that keeps ``pad`` pixels away from every box in ``taken``.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        size (`tuple[int, int]`): ``(w, h)`` of the box to place.
        canvas (`tuple[int, int]`): ``(W, H)`` of the image.
        taken (`list[Box]`): boxes to keep clear of.
        pad (`int`): minimum gap to the taken boxes.
        border (`int`, *optional*, defaults to `0`): minimum gap to the image edges.
        tries (`int`, *optional*, defaults to `200`): random attempts before giving up.

    Returns:
        The box, or ``None`` when no free spot was found.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> find_free_spot(make_rng(0), (10, 10), (10, 10), [], 0)
        (0, 0, 10, 10)
    """
    w, h = size
    cw, ch = canvas
    if w + 2 * border > cw or h + 2 * border > ch:
        return None
    for _ in range(tries):
        x = randint(rng, border, cw - w - border)
        y = randint(rng, border, ch - h - border)
        box = (x, y, x + w, y + h)
        if not any(intersects(box, t, pad) for t in taken):
            return box
    return None


def position_phrase(box: Box, width: int, height: int) -> str:
    """Where ``box`` lies, in words a question can use ("in the top-left part of the image").

    The image is split in a 3x3 grid by thirds; the phrase is derived from the box centre, so it is always
    true of the target.

    Example:
        >>> position_phrase((0, 0, 10, 10), 300, 300)
        'in the top-left part of the image'
        >>> position_phrase((140, 140, 160, 160), 300, 300)
        'near the center of the image'
    """
    cx = (box[0] + box[2]) / 2 / width
    cy = (box[1] + box[3]) / 2 / height
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    if row and col:
        return f"in the {row}-{col} part of the image"
    if row:
        return f"in the {'upper' if row == 'top' else 'lower'} middle of the image"
    if col:
        return f"on the {col} side of the image, halfway up"
    return "near the center of the image"


def crop_box_around(box: Box, width: int, height: int, margin: float = 0.6, min_side: int = 64) -> Box:
    """The crop a teacher would take: ``box`` plus a margin of ``margin`` x its longer side,
    at least ``min_side``.

    ``min_side`` defaults to the sandbox's minimum crop side (64 px, see the reference spec's constants).

    Example:
        >>> crop_box_around((100, 100, 110, 110), 1000, 1000)
        (73, 73, 137, 137)
    """
    x1, y1, x2, y2 = box
    m = int(round(margin * max(x2 - x1, y2 - y1)))
    x1, y1, x2, y2 = x1 - m, y1 - m, x2 + m, y2 + m
    grow_x, grow_y = max(0, min_side - (x2 - x1)), max(0, min_side - (y2 - y1))
    x1, x2 = x1 - grow_x // 2, x2 + grow_x - grow_x // 2
    y1, y2 = y1 - grow_y // 2, y2 + grow_y - grow_y // 2
    # Near an edge, slide the box back inside rather than clip it, so it keeps its minimum side: a clipped box
    # would be under the sandbox's minimum crop and only work because a fix-up enlarges it.
    x1, x2 = _slide_inside(x1, x2, width)
    y1, y2 = _slide_inside(y1, y2, height)
    return (x1, y1, x2, y2)


def _slide_inside(lo: int, hi: int, limit: int) -> tuple[int, int]:
    """Shift ``[lo, hi)`` into ``[0, limit)`` keeping its length (clipped only if longer than ``limit``).

    Example:
        >>> _slide_inside(-10, 54, 100), _slide_inside(80, 144, 100), _slide_inside(-5, 120, 100)
        ((0, 64), (36, 100), (0, 100))
    """
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > limit:
        lo, hi = max(0, lo - (hi - limit)), limit
    return lo, hi
