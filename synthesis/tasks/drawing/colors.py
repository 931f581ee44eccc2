"""Named colours for questions, random palettes for backgrounds, and colour-distance helpers.

Questions name colours ("the small red sign"), so targets use a few well-separated named colours; backgrounds
use free random palettes so images look different from task to task.
"""

from __future__ import annotations

import colorsys

import numpy as np

from synthesis.tasks.drawing.rand import pick, uniform

__all__ = [
    "NAMED_COLORS",
    "TARGET_COLORS",
    "RGB",
    "color_distance",
    "farthest_color",
    "ink_for",
    "random_palette",
]

RGB = tuple[int, int, int]

NAMED_COLORS: dict[str, RGB] = {
    "red": (220, 30, 35),
    "orange": (245, 135, 20),
    "yellow": (250, 225, 35),
    "green": (35, 165, 60),
    "blue": (35, 75, 225),
    "purple": (135, 45, 190),
    "pink": (245, 110, 190),
    "cyan": (30, 205, 225),
    "white": (250, 250, 250),
    "black": (15, 15, 15),
}
"""Colours a question may name; far apart in RGB so the name is never ambiguous."""

TARGET_COLORS = tuple(NAMED_COLORS)


def color_distance(a: RGB, b: RGB) -> float:
    """Euclidean RGB distance.

    Example:
        >>> color_distance((0, 0, 0), (3, 4, 0))
        5.0
    """
    return float(np.sqrt(sum((int(x) - int(y)) ** 2 for x, y in zip(a, b, strict=True))))


def farthest_color(names: list[str] | tuple[str, ...], pixels: np.ndarray) -> tuple[str, float]:
    """The named colour whose nearest pixel in ``pixels`` is farthest away, and that distance.

    Used to choose an ink that stands out from the local background, so the target is legible when cropped
    and its colour is not already present around it.

    Args:
        names (`list[str]`): candidate colour names from :data:`NAMED_COLORS`.
        pixels (`numpy.ndarray`): ``(N, 3)`` RGB samples of the background where the target goes.

    Example:
        >>> farthest_color(["black", "white"], np.array([[240, 240, 240]]))[0]
        'black'
    """
    px = pixels.reshape(-1, 3).astype(np.float32)
    best, best_d = names[0], -1.0
    for name in names:
        d = np.sqrt(((px - np.array(NAMED_COLORS[name], np.float32)) ** 2).sum(axis=1))
        low = float(np.percentile(d, 0.5)) if d.size else 0.0
        if low > best_d:
            best, best_d = name, low
    return best, best_d


def ink_for(background: RGB) -> RGB:
    """Black or white, whichever reads better on ``background``.

    Example:
        >>> ink_for((250, 225, 35))
        (15, 15, 15)
    """
    lum = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2]
    return NAMED_COLORS["black"] if lum > 140 else NAMED_COLORS["white"]


def random_palette(rng: np.random.Generator, n: int, mood: str = "random") -> list[RGB]:
    """``n`` related colours around a random hue.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        n (`int`): how many colours.
        mood (`str`, *optional*, defaults to `"random"`): ``"muted"``, ``"vivid"``, ``"dark"``, ``"light"`` or
            ``"random"``.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> len(random_palette(make_rng(0), 3))
        3
    """
    mood = pick(rng, ("muted", "vivid", "dark", "light")) if mood == "random" else mood
    sat, val = {"muted": (0.15, 0.45), "vivid": (0.55, 0.95), "dark": (0.3, 0.8), "light": (0.08, 0.35)}[mood]
    vlo, vhi = {"muted": (0.35, 0.8), "vivid": (0.5, 0.95), "dark": (0.1, 0.4), "light": (0.8, 0.98)}[mood]
    hue = uniform(rng, 0, 1)
    out = []
    for _ in range(n):
        h = (hue + uniform(rng, -0.12, 0.12)) % 1.0
        r, g, b = colorsys.hsv_to_rgb(h, uniform(rng, sat, val), uniform(rng, vlo, vhi))
        out.append((int(r * 255), int(g * 255), int(b * 255)))
    return out
