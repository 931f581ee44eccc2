"""Image measurements behind the images check: crop boxes, crop location, uprightness, contrast (pure).

Images arrive as encoded bytes or PIL images; everything here is deterministic and does no I/O.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

__all__ = ["Box", "coverage", "crop_box_from_code", "locate_crop", "rms_contrast", "upright_angle"]

Box = tuple[int, int, int, int]
_INT = r"\s*(-?\d+)\s*"
_ASSIGN = re.compile(rf"\bx1\s*,\s*y1\s*,\s*x2\s*,\s*y2\s*=\s*\(?{_INT},{_INT},{_INT},{_INT}\)?")
_CROP = re.compile(rf"\.crop\(\s*\(\s*{_INT},{_INT},{_INT},{_INT}\)\s*\)")
_SLICE = re.compile(rf"\[{_INT}:{_INT},{_INT}:{_INT}\]")
_WHITE = (255, 255, 255)


def crop_box_from_code(code: str) -> Box | None:
    """The last literal crop box of a code block: ``x1, y1, x2, y2 = ...``, ``.crop((...))`` or
    ``[y1:y2, x1:x2]``.

    Args:
        code (`str`): the Python source of one block.

    Example:
        >>> crop_box_from_code("x1, y1, x2, y2 = 10, 20, 110, 90\\nroi = img[y1:y2, x1:x2]")
        (10, 20, 110, 90)
        >>> crop_box_from_code("roi = img[5:50, 7:80]")
        (7, 5, 80, 50)
        >>> crop_box_from_code("print(1)") is None
        True
    """
    found: list[tuple[int, Box]] = []
    for pattern, order in ((_ASSIGN, (0, 1, 2, 3)), (_CROP, (0, 1, 2, 3)), (_SLICE, (2, 0, 3, 1))):
        for match in pattern.finditer(code):
            values = [int(v) for v in match.groups()]
            x1, y1, x2, y2 = (values[i] for i in order)
            found.append((match.start(), (x1, y1, x2, y2)))
    return max(found)[1] if found else None


def coverage(box: Box, target: Box) -> float:
    """Fraction of ``target``'s area inside ``box``.

    Example:
        >>> coverage((0, 0, 10, 10), (5, 0, 15, 10))
        0.5
    """
    w = min(box[2], target[2]) - max(box[0], target[0])
    h = min(box[3], target[3]) - max(box[1], target[1])
    area = max(1, (target[2] - target[0]) * (target[3] - target[1]))
    return max(0, w) * max(0, h) / area


def _gray(image: Image.Image, scale: float = 1.0) -> np.ndarray:
    gray = image.convert("L")
    if scale != 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(gray, np.float32)


def locate_crop(
    original: Image.Image,
    crop: Image.Image,
    zooms: tuple[float, ...] = (1, 1.5, 2, 3, 4),
    max_side: int = 1600,
) -> tuple[Box, float]:
    """Where ``crop`` (possibly enlarged by an unknown zoom) lies in ``original``:
    (box, match score in [-1, 1]).

    Template matching (normalised cross-correlation) at each candidate zoom, on copies scaled so the
    original's long side is at most ``max_side``; the best score wins.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> img = Image.fromarray(rng.integers(0, 255, (300, 400), dtype=np.uint8))
        >>> crop = img.crop((100, 50, 200, 130)).resize((200, 160))
        >>> box, score = locate_crop(img, crop)
        >>> [abs(a - b) <= 2 for a, b in zip(box, (100, 50, 200, 130))], score > 0.6
        ([True, True, True, True], True)
    """
    import cv2

    scale = min(1.0, max_side / max(original.size))
    haystack = _gray(original, scale)
    best: tuple[float, Box] = (-2.0, (0, 0, 0, 0))
    for zoom in zooms:
        w, h = crop.width / zoom * scale, crop.height / zoom * scale
        if w < 8 or h < 8 or w > haystack.shape[1] or h > haystack.shape[0]:
            continue
        needle = np.asarray(
            crop.convert("L").resize((round(w), round(h)), Image.Resampling.BILINEAR), np.float32
        )
        scores = cv2.matchTemplate(haystack, needle, cv2.TM_CCOEFF_NORMED)
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if score > best[0]:
            box = (round(x / scale), round(y / scale), round((x + w) / scale), round((y + h) / scale))
            best = (float(score), box)
    return best[1], best[0]


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def upright_angle(
    original: Image.Image, produced: Image.Image, candidates: tuple[int, ...], side: int = 160
) -> int:
    """The candidate counter-clockwise angle whose rotation of ``original`` looks most like ``produced``.

    Each candidate rotation (PIL convention, canvas expanded unless ``produced`` kept the original's size,
    white fill) is scaled to ``produced``'s size and compared by mean absolute grey-level difference on
    small copies.

    Example:
        >>> img = Image.new("RGB", (120, 80), "white")
        >>> img.paste((0, 0, 0), (10, 10, 60, 30))
        >>> upright_angle(img, img.rotate(90, expand=True), (0, 90, 180, 270))
        90
    """
    scale = min(1.0, side / max(original.size))
    small = original.convert("RGB").resize(
        (max(1, round(original.width * scale)), max(1, round(original.height * scale)))
    )
    expand = produced.size != original.size
    target_size = (max(1, round(produced.width * scale)), max(1, round(produced.height * scale)))
    target = _gray(produced.resize(target_size, Image.Resampling.BILINEAR))
    scores = {}
    for angle in candidates:
        turned = small.rotate(
            angle % 360, resample=Image.Resampling.BILINEAR, expand=expand, fillcolor=_WHITE
        )
        scores[angle] = _mad(_gray(turned.resize(target_size, Image.Resampling.BILINEAR)), target)
    return min(scores, key=lambda a: (scores[a], candidates.index(a)))


def rms_contrast(image: Image.Image) -> float:
    """RMS contrast: the standard deviation of grey levels scaled to [0, 1].

    Example:
        >>> rms_contrast(Image.new("L", (4, 4), 128))
        0.0
    """
    return float(_gray(image).std() / 255.0)
