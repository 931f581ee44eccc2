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
    """(width, height) as the header declares it, or None when it is not a readable image.

    Only the header is parsed (Pillow's format plugins, as ``Image.open`` uses them, but without its
    decompression-bomb refusal, so that an oversized image still reports its size); no pixel is decoded.

    Example:
        >>> image_size(b"not an image") is None
        True
    """
    from PIL import Image

    Image.init()
    prefix = data[:16]
    for fmt in list(Image.ID):
        factory, accept = Image.OPEN[fmt]
        try:
            accepted = accept(prefix) if accept is not None else True
            if not accepted or isinstance(accepted, str):  # a str is Pillow's "maybe, with a warning"
                continue
            with factory(io.BytesIO(data), "") as image:
                width, height = image.size
            return int(width), int(height)
        except Exception:  # noqa: BLE001, S112 - not this format (or a broken header): try the next one
            continue
    return None


def size_problem(size: tuple[int, int], name: str, max_pixels: int, max_aspect: float) -> str:
    """Why an image of this declared size may not cross the sandbox boundary; "" when it may.

    Args:
        size (`tuple[int, int]`): (width, height) from the header (`image_size`).
        name (`str`): how the message names the image.
        max_pixels (`int`): most width x height (``sandbox.max_image_pixels``).
        max_aspect (`float`): most longest side over shortest side (``sandbox.max_image_aspect_ratio``).

    Example:
        >>> size_problem((50000, 50000), "a.png", 64 << 20, 200.0)
        "image 'a.png' declares 50000x50000 pixels (2,500,000,000), more than the limit of 67,108,864
        (sandbox.max_image_pixels)"
        >>> size_problem((640, 480), "a.png", 64 << 20, 200.0)
        ''
    """
    width, height = size
    if width < 1 or height < 1:
        return f"image {name!r} declares {width}x{height} pixels: each side must be at least 1"
    if width * height > max_pixels:
        return (
            f"image {name!r} declares {width}x{height} pixels ({width * height:,}), more than the limit of "
            f"{max_pixels:,} (sandbox.max_image_pixels)"
        )
    if max(width, height) > max_aspect * min(width, height):
        return (
            f"image {name!r} declares {width}x{height} pixels, an aspect ratio over {max_aspect:g} "
            "(sandbox.max_image_aspect_ratio)"
        )
    return ""


@dataclass(frozen=True)
class InputImages:
    """A trajectory's input images, loaded once and copied into each block's scratch.

    Args:
        files (`tuple[tuple[str, bytes], ...]`): (file name, encoded bytes) pairs; the first is
            ``image_path``.
        sizes (`tuple[tuple[int, int] | None, ...]`): (width, height) of each image as its header declares it
            (None: not a readable image); the pool refuses blocks whose inputs are over its image limits.
    """

    files: tuple[tuple[str, bytes], ...] = ()
    sizes: tuple[tuple[int, int] | None, ...] = ()

    @property
    def size(self) -> tuple[int, int] | None:
        """(width, height) of the first image, for crop clamping."""
        return self.sizes[0] if self.sizes else None

    @classmethod
    def load(
        cls, images: list[ImageLike] | tuple[ImageLike, ...], image_name: str | None = None
    ) -> InputImages:
        """Read paths, keep bytes, and name every image uniquely (``image_name`` names the first)."""
        files: list[tuple[str, bytes]] = []
        for index, item in enumerate(images):
            data = item if isinstance(item, bytes) else Path(item).read_bytes()
            hint = (
                image_name
                if index == 0 and image_name
                else ("" if isinstance(item, bytes) else os.fspath(item))
            )
            name = safe_name(str(hint), data, index)
            while name in {n for n, _ in files}:
                name = f"{index}_{name}"
            files.append((name, data))
        return cls(tuple(files), tuple(image_size(data) for _, data in files))
