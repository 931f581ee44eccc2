"""Pixel measurements shared by the task tests: how many pixels of a target survive at a given scale.

Kept apart from the code under test: they read only the encoded image, the task's target box and the ink
colour, and measure with OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from synthesis.tasks.drawing.encode import decode_image

MODEL_SIDE = 448


def pixels(task) -> np.ndarray:
    return np.asarray(decode_image(task.image))


def ink_extent(rgb: np.ndarray, ink, tol: float = 60.0) -> tuple[int, int]:
    """(height, width) of the bounding box of pixels within ``tol`` RGB units of ``ink``; (0, 0) if none."""
    d = np.sqrt(((rgb.astype(np.float32) - np.asarray(ink, np.float32)) ** 2).sum(axis=-1))
    mask = d < tol
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, 0
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def downscale(rgb: np.ndarray, side: int = MODEL_SIDE) -> tuple[np.ndarray, float]:
    """Resize so the long side is ``side`` (area interpolation, like a model's preprocessing)."""
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


def region(rgb: np.ndarray, box, scale: float = 1.0) -> np.ndarray:
    """Pixels of ``box`` (given at scale 1) in an image resized by ``scale``, partly covered ones included."""
    x1, y1, x2, y2 = box
    return rgb[int(y1 * scale) : int(np.ceil(y2 * scale)), int(x1 * scale) : int(np.ceil(x2 * scale))]


def teacher_crop(rgb: np.ndarray, box, margin: float = 0.5, zoom: int = 2) -> tuple[np.ndarray, tuple]:
    """Crop the box plus ``margin`` x its longer side and zoom ``zoom``x (cubic).

    Returns the crop and the box in it.
    """
    x1, y1, x2, y2 = box
    m = int(margin * max(x2 - x1, y2 - y1))
    h, w = rgb.shape[:2]
    cx1, cy1, cx2, cy2 = max(0, x1 - m), max(0, y1 - m), min(w, x2 + m), min(h, y2 + m)
    crop = rgb[cy1:cy2, cx1:cx2]
    crop = cv2.resize(crop, (crop.shape[1] * zoom, crop.shape[0] * zoom), interpolation=cv2.INTER_CUBIC)
    inner = ((x1 - cx1) * zoom, (y1 - cy1) * zoom, (x2 - cx1) * zoom, (y2 - cy1) * zoom)
    return crop, inner


def target_sizes(task) -> tuple[tuple[int, int], tuple[int, int]]:
    """Ink extent of the target at the model's 448-px view and in a teacher's 2x crop."""
    rgb = pixels(task)
    ink = task.params["ink_rgb"]
    small, s = downscale(rgb)
    at_model = ink_extent(region(small, task.target, s), ink)
    crop, inner = teacher_crop(rgb, task.target)
    in_crop = ink_extent(region(crop, inner), ink)
    return at_model, in_crop


def gray(img) -> np.ndarray:
    return np.asarray(img.convert("L"), np.float32)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally sized arrays."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-9))


def center_crop(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    cy, cx = arr.shape[0] / 2, arr.shape[1] / 2
    y0, x0 = int(round(cy - h / 2)), int(round(cx - w / 2))
    return arr[y0 : y0 + h, x0 : x0 + w]


def robust_range(values: np.ndarray) -> float:
    """Spread of grey levels (98th minus 2nd percentile): the text-vs-background contrast of a text region."""
    return float(np.percentile(values, 98) - np.percentile(values, 2))
