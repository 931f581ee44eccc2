"""Locate the DejaVu TrueType fonts on this machine and load them by name and pixel size.

Fonts are never downloaded: the project's setup installs the Debian packages ``fonts-dejavu-core`` and
``fonts-dejavu-extra``, and this module only searches the standard font directories. The list is sorted by
file name so that a seeded choice picks the same face on every machine with the same packages.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import ImageFont

from synthesis.tasks.drawing.rand import pick

__all__ = ["FONT_DIRS", "FONT_PACKAGES", "FontNotFoundError", "font_names", "load_font", "pick_font"]

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
"""Standard font directories searched (recursively) for ``DejaVu*.ttf``."""

FONT_PACKAGES = "fonts-dejavu-core fonts-dejavu-extra"
"""The Debian packages that provide the fonts."""

# Faces that draw ordinary Latin text legibly at small sizes (ExtraLight and the maths face are left out).
_SKIP = ("ExtraLight", "MathTeXGyre")


class FontNotFoundError(FileNotFoundError):
    """No usable DejaVu font was found in :data:`FONT_DIRS`."""


@lru_cache(maxsize=1)
def _font_paths() -> dict[str, str]:
    found: dict[str, str] = {}
    for root in FONT_DIRS:
        base = Path(root).expanduser()
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("DejaVu*.ttf")):
            if not any(s in path.name for s in _SKIP):
                found.setdefault(path.stem, str(path))
    if not found:
        raise FontNotFoundError(
            f"no DejaVu TrueType fonts found under {', '.join(FONT_DIRS)}; "
            f"install the Debian packages: apt-get install {FONT_PACKAGES}"
        )
    return dict(sorted(found.items()))


def font_names(style: str = "") -> tuple[str, ...]:
    """Names (file stems) of the installed DejaVu faces, optionally only those containing ``style``.

    Args:
        style (`str`, *optional*, defaults to `""`): substring filter, e.g. ``"Bold"`` or ``"Mono"``.

    Example:
        >>> "DejaVuSans" in font_names()
        True
    """
    names = tuple(n for n in _font_paths() if style in n)
    if not names:
        raise FontNotFoundError(f"no DejaVu face matching {style!r}; install {FONT_PACKAGES}")
    return names


@lru_cache(maxsize=1024)
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """Load face ``name`` at ``size`` pixels (em size), cached.

    Args:
        name (`str`): a name from :func:`font_names`.
        size (`int`): the em size in pixels.

    Example:
        >>> load_font("DejaVuSans", 20).size
        20
    """
    return ImageFont.truetype(_font_paths()[name], max(1, int(size)))


def pick_font(rng: np.random.Generator, size: int, style: str = "") -> ImageFont.FreeTypeFont:
    """A random installed face at ``size`` pixels, so text looks different from task to task.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        size (`int`): em size in pixels.
        style (`str`, *optional*, defaults to `""`): substring filter on the face name.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> pick_font(make_rng(0), 12).size
        12
    """
    return load_font(pick(rng, font_names(style)), size)
