"""Deterministic image encoding: the same pixels always give the same bytes."""

from __future__ import annotations

import io

from PIL import Image

__all__ = ["decode_image", "encode_image"]


def encode_image(img: Image.Image, image_format: str, jpeg_quality: int = 95) -> bytes:
    """Encode ``img`` as PNG, or as JPEG with 4:4:4 chroma so small coloured text keeps its colour.

    PNG is written without metadata chunks (no timestamps), so bytes depend only on the pixels.

    Args:
        img (`PIL.Image.Image`): an RGB image.
        image_format (`str`): ``"png"`` or ``"jpeg"``.
        jpeg_quality (`int`, *optional*, defaults to `95`): JPEG quality.

    Example:
        >>> im = Image.new("RGB", (4, 4), "red")
        >>> encode_image(im, "png") == encode_image(im.copy(), "png")
        True
    """
    buf = io.BytesIO()
    if image_format == "png":
        img.save(buf, format="PNG", compress_level=6)
    elif image_format == "jpeg":
        img.save(buf, format="JPEG", quality=jpeg_quality, subsampling=0, optimize=False)
    else:
        raise ValueError(f"image_format must be 'png' or 'jpeg', got {image_format!r}")
    return buf.getvalue()


def decode_image(data: bytes) -> Image.Image:
    """Decode encoded bytes into an RGB image.

    Example:
        >>> decode_image(encode_image(Image.new("RGB", (3, 2)), "png")).size
        (3, 2)
    """
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")
