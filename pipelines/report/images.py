"""Record images as report files, named by their content: each distinct image is written once, with one small
JPEG thumbnail, so pages only name files and no image is ever re-encoded per page (the copies a run
dead-letters share their files with the record they copy).

An image file up to ``PREVIEW_BYTES`` (the crops a trajectory makes) is written as its original bytes; a
larger one (the task canvases, megapixels of PNG) as a JPEG preview of at most ``PREVIEW_SIDE`` pixels a
side, marked as such: the exact image is in the shard. Originals of every image would double the run's disk
(the default run: 2.4 GB of report beside 2.3 GB of shards); previews keep the report a small fraction of
it."""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

from PIL import Image, UnidentifiedImageError

from runconfig import storage

__all__ = [
    "PREVIEW_BYTES",
    "PREVIEW_SIDE",
    "THUMB_SIDE",
    "image_ext",
    "image_key",
    "image_path",
    "write_images",
]

THUMB_SIDE = 192  # longest side of a thumbnail, in pixels
PREVIEW_BYTES = 256 * 1024  # larger image files are shown as a JPEG preview
PREVIEW_SIDE = 1600  # longest side of a preview, in pixels
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF8", "gif"),
    (b"BM", "bmp"),
)
_BROKEN = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError)


def image_ext(data: bytes) -> str | None:
    """The file extension of an image's bytes from their magic number; None when they are no known image.

    Example:
        >>> image_ext(b"\\x89PNG\\r\\n\\x1a\\n..."), image_ext(b"RIFF....WEBPVP8 "), image_ext(b"{}")
        ('png', 'webp', None)
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((ext for magic, ext in _MAGIC if data.startswith(magic)), None)


def image_key(data: bytes) -> str:
    """The name of an image's files: the first 16 hex digits of its SHA-256.

    Example:
        >>> image_key(b"abc")
        'ba7816bf8f01cfea'
    """
    return hashlib.sha256(data).hexdigest()[:16]


def image_path(folder: str, key: str, ext: str) -> str:
    """Where an image's file lives under the report: 256 subfolders by the key's first two digits (the page
    script computes the same thumbnail path from the key alone, so the index carries only the key).

    Example:
        >>> image_path("thumbs", "ba7816bf8f01cfea", "jpg")
        'thumbs/ba/ba7816bf8f01cfea.jpg'
    """
    return f"{folder}/{key[:2]}/{key}.{ext}"


def write_images(root: str | os.PathLike, blobs: list[bytes]) -> list[dict[str, Any]]:
    """Write each image (full bytes and a thumbnail) under ``root`` unless already there; one view per image.

    ``root`` is a local folder or an object-store prefix (:mod:`runconfig.storage`): pipeline workers render a
    run's images into its ``report/`` as records are verified (:class:`pipelines.report.render.RenderImages`),
    and the launcher, finding them there, only names them. Files are named by content and written whole, so
    two workers writing one image leave one good file.

    A view is ``{"key", "full", "thumb", "w", "h", "bytes"}``. Bytes that do not decode keep their full file
    (so the broken image can still be downloaded) and get ``"error"`` instead of a thumbnail.
    """
    root = os.fspath(root)
    views = []
    for data in blobs:
        key = image_key(data)
        thumb = image_path("thumbs", key, "jpg")
        view: dict[str, Any] = {"key": key, "full": "", "thumb": "", "w": 0, "h": 0, "bytes": len(data)}
        try:
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                view["w"], view["h"] = img.size
        except _BROKEN as err:  # the broken bytes stay downloadable; the page shows why there is no picture
            view["full"] = _keep(root, image_path("images", key, image_ext(data) or "bin"), data)
            view["error"] = f"{type(err).__name__}: {err}"
            views.append(view)
            continue
        preview = len(data) > PREVIEW_BYTES
        full = image_path("images", key, "preview.jpg" if preview else image_ext(data) or "bin")
        try:
            missing = [
                side
                for side, name in ((PREVIEW_SIDE, full), (THUMB_SIDE, thumb))
                if not storage.exists(storage.join(root, name))
            ]
            if not preview and PREVIEW_SIDE in missing:
                storage.write_bytes(storage.join(root, full), data)
                missing.remove(PREVIEW_SIDE)
            for side, jpeg in zip(missing, _jpegs(data, missing), strict=True):
                storage.write_bytes(storage.join(root, full if side == PREVIEW_SIDE else thumb), jpeg)
        except _BROKEN as err:  # the header read, the pixels did not
            view["full"] = _keep(root, image_path("images", key, image_ext(data) or "bin"), data)
            view["error"] = f"{type(err).__name__}: {err}"
        else:
            view.update(full=full, thumb=thumb, preview=preview)
        views.append(view)
    return views


def _keep(root: str, name: str, data: bytes) -> str:
    if not storage.exists(storage.join(root, name)):
        storage.write_bytes(storage.join(root, name), data)
    return name


def _jpegs(data: bytes, sides: list[int]) -> list[bytes]:
    """The image as JPEGs of at most each of ``sides`` pixels a side, largest first, from one decode (each
    smaller one is shrunk from the one before; transparency over white, as a browser shows it)."""
    out: list[bytes] = []
    if not sides:
        return out
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (sides[0], sides[0]))  # JPEG decodes at a reduced scale: most of the cost saved
        rgb = img.convert("RGBA") if img.mode in ("P", "LA", "PA") else img
        if rgb.mode == "RGBA":
            back = Image.new("RGB", rgb.size, "white")
            back.paste(rgb, mask=rgb.getchannel("A"))
            rgb = back
        rgb = rgb.convert("RGB")
    for side in sides:
        rgb.thumbnail((side, side))
        buf = io.BytesIO()
        rgb.save(buf, "JPEG", quality=85 if side == PREVIEW_SIDE else 80)
        out.append(buf.getvalue())
    return out
