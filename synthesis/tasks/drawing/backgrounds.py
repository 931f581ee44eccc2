"""Varied backgrounds: gradients, filtered-noise textures, street-like scenes, tiles and shape fields.

Backgrounds are composed at a working resolution of at most ``_WORK_SIDE`` pixels and resized to the full
size, then a fine grain is added at full resolution. That keeps an 8K background in the tens of milliseconds
while still giving it photo-like low-frequency structure (clutter drawn later adds the sharp detail).
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.drawing.colors import RGB, random_palette
from synthesis.tasks.drawing.rand import chance, pick, randint, uniform
from synthesis.tasks.drawing.shapes import SHAPES, draw_shape

__all__ = ["BACKGROUND_KINDS", "add_grain", "make_background"]

BACKGROUND_KINDS = ("gradient", "texture", "scene", "tiles", "shapes")
"""Kinds :func:`make_background` can draw."""

_WORK_SIDE = 1024


def make_background(
    rng: np.random.Generator, width: int, height: int, kind: str, grain: float = 3.0
) -> Image.Image:
    """An RGB background of the given size and kind.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        width (`int`): image width in pixels.
        height (`int`): image height in pixels.
        kind (`str`): one of :data:`BACKGROUND_KINDS`.
        grain (`float`, *optional*, defaults to `3.0`): amplitude of the full-resolution grain (grey levels).

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> make_background(make_rng(0), 64, 48, "texture").size
        (64, 48)
    """
    scale = min(1.0, _WORK_SIDE / max(width, height))
    bw, bh = max(8, round(width * scale)), max(8, round(height * scale))
    draw_fn = {
        "gradient": _gradient,
        "texture": _texture,
        "scene": _scene,
        "tiles": _tiles,
        "shapes": _shapes,
    }
    if kind not in draw_fn:
        raise ValueError(f"unknown background kind {kind!r}; use one of {BACKGROUND_KINDS}")
    small = draw_fn[kind](rng, bw, bh)
    full = (
        cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        if (bw, bh) != (width, height)
        else small
    )
    return Image.fromarray(add_grain(full, rng, grain))


def add_grain(arr: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Add monochrome uniform grain of +-``amount`` grey levels (sensor-like noise).

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> int(add_grain(np.zeros((2, 2, 3), np.uint8), make_rng(0), 0).sum())
        0
    """
    a = int(round(amount))
    if a <= 0:
        return arr
    noise = rng.integers(-a, a + 1, size=arr.shape[:2], dtype=np.int16)
    return np.clip(arr.astype(np.int16) + noise[..., None], 0, 255).astype(np.uint8)


def _noise_field(rng: np.random.Generator, w: int, h: int, octaves: int, base: int) -> np.ndarray:
    """Sum of upsampled random grids (value noise), normalised to [0, 1]."""
    out = np.zeros((h, w), np.float32)
    for k in range(octaves):
        cell = max(2, base >> k)
        grid = rng.random((h // cell + 2, w // cell + 2), dtype=np.float32)
        # float32 in, float32 out; asarray only gives the type checker the dtype cv2's stubs leave open
        layer = np.asarray(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), np.float32)
        out += layer / (1.6**k)
    out -= out.min()
    return out / max(float(out.max()), 1e-6)


def _colormap(values: np.ndarray, colors: list[RGB]) -> np.ndarray:
    """Map a [0, 1] field through a piecewise-linear lookup table of ``colors``."""
    stops = np.linspace(0, 255, len(colors))
    lut = np.stack([np.interp(np.arange(256), stops, [c[i] for c in colors]) for i in range(3)], axis=1)
    return lut.astype(np.uint8)[(values * 255).astype(np.uint8)]


def _gradient(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    c1, c2 = random_palette(rng, 2)
    angle = uniform(rng, 0, np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx / w * np.cos(angle) + yy / h * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    arr = _colormap(t, [c1, c2]).astype(np.float32)
    vignette = 1 - uniform(rng, 0.0, 0.35) * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    return np.clip(arr * vignette[..., None], 0, 255).astype(np.uint8)


def _texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    field = _noise_field(rng, w, h, octaves=randint(rng, 3, 6), base=randint(rng, 32, 160))
    if chance(rng, 0.3):  # marble-like veins
        field = np.abs(np.sin(field * uniform(rng, 6, 14)))
    return _colormap(field, random_palette(rng, randint(rng, 2, 4)))


def _scene(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    horizon = randint(rng, int(h * 0.3), int(h * 0.6))
    arr = np.empty((h, w, 3), np.uint8)
    arr[:horizon] = _gradient(rng, w, horizon) if horizon > 0 else arr[:0]
    ground = _texture(rng, w, h - horizon)
    arr[horizon:] = ground
    im = Image.fromarray(arr)
    draw = ImageDraw.Draw(im)
    x = randint(rng, -w // 10, 0)
    while x < w:  # buildings with window grids along the horizon
        bw, bh = randint(rng, w // 16, w // 5), randint(rng, h // 10, int(h * 0.45))
        color = random_palette(rng, 1)[0]
        draw.rectangle((x, horizon - bh, x + bw, horizon + 2), fill=color)
        win = random_palette(rng, 1, "light" if chance(rng, 0.5) else "dark")[0]
        step = randint(rng, 6, 14)
        for wy in range(horizon - bh + step // 2, horizon - step, step):
            for wx in range(x + step // 2, x + bw - step // 2, step):
                draw.rectangle((wx, wy, wx + step // 2, wy + step // 2), fill=win)
        x += bw + randint(rng, 0, w // 20)
    for _ in range(randint(rng, 0, 8)):  # trees
        tx, ty, r = randint(rng, 0, w), randint(rng, horizon, h), randint(rng, h // 30, h // 10)
        draw.rectangle((tx - r // 6, ty - r, tx + r // 6, ty + r // 2), fill=(90, 60, 35))
        draw.ellipse((tx - r, ty - 2 * r, tx + r, ty), fill=random_palette(rng, 1, "dark")[0])
    return np.asarray(im)


def _tiles(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    colors = random_palette(rng, 3)
    grout = random_palette(rng, 1)[0]
    tile = randint(rng, 12, 64)
    tw = tile * pick(rng, (1, 2, 3))
    im = Image.new("RGB", (w, h), grout)
    draw = ImageDraw.Draw(im)
    brick = chance(rng, 0.5)
    for row, y in enumerate(range(0, h, tile)):
        offset = (tw // 2) * (row % 2) if brick else 0
        for x in range(-offset, w, tw):
            c = np.clip(np.array(pick(rng, colors)) + rng.integers(-18, 19, 3), 0, 255)
            draw.rectangle((x + 1, y + 1, x + tw - 2, y + tile - 2), fill=tuple(int(v) for v in c))
    return np.asarray(im)


def _shapes(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    im = Image.fromarray(_gradient(rng, w, h))
    draw = ImageDraw.Draw(im)
    colors = random_palette(rng, 5)
    for _ in range(randint(rng, 15, 60)):
        s = randint(rng, max(4, min(w, h) // 30), max(6, min(w, h) // 4))
        x, y = randint(rng, -s // 2, w), randint(rng, -s // 2, h)
        draw_shape(draw, pick(rng, SHAPES), (x, y, x + s, y + s), fill=pick(rng, colors))
    return np.asarray(im)
