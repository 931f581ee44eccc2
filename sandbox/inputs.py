"""Normalise a trajectory's input images once: safe file names, bytes in memory, the first one's size."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"), (b"RIFF", ".webp"))

ImageLike = bytes | str | os.PathLike


def safe_name(name: str, data: bytes, index: int) -> str:
    """A plain file name for an input image: base name only, no odd characters, an extension.

    Example:
        >>> safe_name("../../etc/my photo.JPG", b"", 0)
        'my_photo.JPG'
        >>> safe_name("", b"\\x89PNG....", 2)
        'image_2.png'
    """
    base = _SAFE.sub("_", os.path.basename(name)).lstrip(".")[:128]
    if not base:
        ext = next((e for magic, e in _MAGIC if data.startswith(magic)), ".png")
        base = f"image_{index}{ext}"
    return base


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the header with Pillow, or None when it is not a readable image."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - any undecodable input just disables crop clamping
        return None


@dataclass(frozen=True)
class InputImages:
    """A trajectory's input images, loaded once and copied into each block's scratch.

    Args:
        files (`tuple[tuple[str, bytes], ...]`): (file name, encoded bytes) pairs; the first is ``image_path``.
        size (`tuple[int, int] | None`): (width, height) of the first image, for crop clamping.
    """

    files: tuple[tuple[str, bytes], ...] = ()
    size: tuple[int, int] | None = None

    @classmethod
    def load(cls, images: list[ImageLike] | tuple[ImageLike, ...], image_name: str | None = None) -> InputImages:
        """Read paths, keep bytes, and name every image uniquely (``image_name`` names the first)."""
        files: list[tuple[str, bytes]] = []
        for index, item in enumerate(images):
            data = item if isinstance(item, bytes) else Path(item).read_bytes()
            hint = image_name if index == 0 and image_name else ("" if isinstance(item, bytes) else os.fspath(item))
            name = safe_name(str(hint), data, index)
            while name in {n for n, _ in files}:
                name = f"{index}_{name}"
            files.append((name, data))
        return cls(tuple(files), image_size(files[0][1]) if files else None)
