"""What both importers share: the failure row, reading JSONL/Parquet rows, loading and normalising images.

Images come as base64 text (optionally a ``data:`` URI), raw bytes, a Hugging Face image dict
``{"bytes", "path"}`` or a file path (relative paths resolve against a base folder). Normalisation follows
the released data's conversion recipe (thyme.md §4.5): RGBA, LA and transparent P images are composited onto
white and other non-RGB modes converted to RGB. An image that is already an RGB JPEG or PNG keeps its exact
bytes (no generation loss, most faithful to what the authors' code ran on); anything converted or in another
format is re-encoded losslessly as PNG.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runconfig import storage
from sandbox.layout import IMAGE_EXTENSIONS
from synthesis.records import DeadLetter

__all__ = [
    "IMPORT_REASONS",
    "ROW_ERROR",
    "AnswerReader",
    "RowGroup",
    "read_row_group",
    "row_groups",
    "ImportFailure",
    "Rejected",
    "decode_image",
    "guess_answer_type",
    "image_size",
    "normalise_image",
    "read_rows",
    "stable_id",
]

IMPORT_REASONS = (  # every reason code an importer returns
    "import_bad_row",
    "import_missing_field",
    "import_bad_image",
    "import_bad_question",
    "import_bad_format",
    "import_exec_failed",
    "import_image_count_mismatch",
    "import_image_size_mismatch",
    "import_output_mismatch",
    "import_bad_answer_type",
    "import_bad_choices",
)
AnswerReader = Callable[[str, str, "str | None"], Any]
"""``(question, answer text, the row's own answer or None) ->`` an object with ``answer``, ``answer_type`` and
``choices``: how an importer reads ground truth (the pipelines pass the validators' reader)."""
ROW_ERROR = "__import_error__"  # key of the stand-in row :func:`read_rows` yields for an unreadable line
_KEPT_FORMATS = {"JPEG": "jpeg", "PNG": "png"}


class Rejected(Exception):
    """Raised inside an importer to turn the row into an :class:`ImportFailure`; never escapes an importer."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True)
class ImportFailure:
    """A row that could not be imported: an ``import_*`` reason code and a detail naming the row."""

    id: str
    reason: str
    detail: str

    def dead_letter(self, payload: Any = None) -> DeadLetter:
        """The dead-letter row of this failure (stage ``import``), carrying the raw row for replay.

        Args:
            payload (`Any`, *optional*): the raw input row.

        Example:
            >>> ImportFailure("r-3", "import_bad_image", "row 3: x").dead_letter({"q": 1}).stage
            'import'
        """
        return DeadLetter(id=self.id, stage="import", reason=self.reason, detail=self.detail, payload=payload)


def stable_id(prefix: str, *parts: str | bytes) -> str:
    """``<prefix>-<12 hex>``: a sha256 over the parts (each length-prefixed, so boundaries cannot shift).

    Args:
        prefix (`str`): the id family, e.g. ``imported`` or ``user``.
        parts (`str | bytes`): what identifies the row.

    Example:
        >>> stable_id("imported", "q", b"img") == stable_id("imported", "q", b"img") != stable_id(
        ...     "imported", "qi", b"mg"
        ... )
        True
    """
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return f"{prefix}-{digest.hexdigest()[:12]}"


def guess_answer_type(answer: str) -> str:
    """A simple guess: ``choice`` for one letter A-E, ``yes_no``, ``number`` when numeric, else ``text``.

    Args:
        answer (`str`): the answer text.

    Example:
        >>> [guess_answer_type(a) for a in ("B", "yes", "-3.5", "1,200", "red")]
        ['choice', 'yes_no', 'number', 'number', 'text']
    """
    text = answer.strip()
    if len(text) == 1 and text.upper() in "ABCDE":
        return "choice"
    if text.lower() in ("yes", "no"):
        return "yes_no"
    try:
        float(text.replace(",", ""))
    except ValueError:
        return "text"
    return "number"


def decode_image(item: Any, base_dir: str | os.PathLike | None = None) -> bytes:
    """The encoded bytes of one image as a record gives it; raises ValueError when it cannot be had.

    Args:
        item (`str | bytes | dict`): base64 text (or a ``data:`` URI), bytes, ``{"bytes", "path"}``, or a path
            (a string ending in an image extension).
        base_dir (`str | PathLike`, *optional*): folder relative paths are resolved against (default: the
            current folder).

    Example:
        >>> decode_image(base64.b64encode(b"\\x89PNG..").decode())
        b'\\x89PNG..'
    """
    if isinstance(item, dict):
        if item.get("bytes"):
            return bytes(item["bytes"])
        item = item.get("path")
    if isinstance(item, bytes | bytearray | memoryview):
        return bytes(item)
    if not isinstance(item, str) or not item.strip():
        raise ValueError(f"not an image: {type(item).__name__}")
    text = item.strip()
    if text.lower().endswith(IMAGE_EXTENSIONS) and len(text) < 4096:
        path = Path(base_dir or ".") / text
        if not path.is_file():
            raise ValueError(f"image file not found: {text}")
        return path.read_bytes()
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"undecodable base64 ({err})") from None


def normalise_image(data: bytes) -> tuple[bytes, str, tuple[int, int]]:
    """Decode-check an image and bring it to RGB; returns ``(bytes, "png" | "jpeg", (width, height))``.

    Args:
        data (`bytes`): an encoded image.

    Example:
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("RGBA", (3, 2), (0, 0, 0, 0)).save(buf, "PNG")
        >>> out, fmt, size = normalise_image(buf.getvalue())
        >>> fmt, size, Image.open(io.BytesIO(out)).getpixel((0, 0))
        ('png', (3, 2), (255, 255, 255))
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode == "RGB" and image.format in _KEPT_FORMATS:
                return data, _KEPT_FORMATS[image.format], image.size
            if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
                rgba = image.convert("RGBA")
                rgb = Image.new("RGB", rgba.size, (255, 255, 255))
                rgb.paste(rgba, mask=rgba.getchannel("A"))
            else:
                rgb = image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"not a readable image ({type(err).__name__}: {err})") from None
    buf = io.BytesIO()
    rgb.save(buf, "PNG")
    return buf.getvalue(), "png", rgb.size


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) of an encoded image; raises ValueError when it cannot be read.

    Example:
        >>> from PIL import Image
        >>> buf = io.BytesIO()
        >>> Image.new("L", (5, 4)).save(buf, "PNG")
        >>> image_size(buf.getvalue())
        (5, 4)
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"not a readable image ({type(err).__name__}: {err})") from None


@dataclass(frozen=True, slots=True)
class RowGroup:
    """A slice of a source file read on its own: one Parquet row group, or a whole JSONL/JSON file.

    Released shards run to a gigabyte; reading one row group at a time is what keeps an import's memory flat.
    """

    path: str
    group: int | None  # the Parquet row group, None for a whole text file
    first: int  # index in the file of the slice's first row
    rows: int


def row_groups(path: str | os.PathLike) -> list[RowGroup]:
    """The slices of ``path`` (counts from the Parquet footer; a text file is counted by streaming it once).

    Example:
        >>> import tempfile
        >>> f = Path(tempfile.mkdtemp()) / "r.jsonl"
        >>> _ = f.write_text('{"a": 1}\\n\\n{"a": 2}\\n')
        >>> [(g.group, g.first, g.rows) for g in row_groups(f)]
        [(None, 0, 2)]
    """
    if Path(path).suffix == ".parquet":
        meta, groups, first = _parquet_file(path).metadata, [], 0
        for g in range(meta.num_row_groups):
            groups.append(RowGroup(str(path), g, first, meta.row_group(g).num_rows))
            first += meta.row_group(g).num_rows
        return groups
    return [RowGroup(str(path), None, 0, sum(1 for _ in read_rows(path)))]


def read_row_group(group: RowGroup) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index in the file, row)`` of every row of one slice, holding at most one row group in memory."""
    if group.group is None:
        yield from enumerate(read_rows(group.path))
        return
    table = _parquet_file(group.path).read_row_group(group.group)
    for offset in range(table.num_rows):  # one row's Python objects at a time, not the group's
        yield group.first + offset, table.slice(offset, 1).to_pylist()[0]


def read_rows(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL (one object a line), JSON (one array of objects) or Parquet (``.parquet``) file.

    An unreadable line or element becomes ``{ROW_ERROR: message}`` so that callers can dead-letter it and the
    row count stays exact; blank lines are skipped. A ``.json`` file starting with ``[`` is read as an array.

    Args:
        path (`str | PathLike`): the file: a local path or an object-store URI (``runconfig.storage``).
    """
    if Path(path).suffix == ".parquet":
        for batch in _parquet_file(path).iter_batches(batch_size=64):
            yield from batch.to_pylist()
        return
    remote = storage.is_remote(str(path))
    data = storage.read_bytes(str(path)) if remote else None  # an object store's file is read whole
    if Path(path).suffix == ".json" and _text(path, data).lstrip().startswith("["):
        try:
            rows = json.loads(_text(path, data))
        except json.JSONDecodeError as err:
            yield {ROW_ERROR: f"invalid JSON array ({err})"}
            return
        for number, row in enumerate(rows):
            yield row if isinstance(row, dict) else {ROW_ERROR: f"element {number}: not a JSON object"}
        return
    with (
        Path(path).open(encoding="utf-8")
        if data is None
        else io.TextIOWrapper(io.BytesIO(data), "utf-8") as lines
    ):
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                yield {ROW_ERROR: f"line {number}: invalid JSON ({err})"}
                continue
            yield row if isinstance(row, dict) else {ROW_ERROR: f"line {number}: not a JSON object"}


def _text(path: str | os.PathLike, data: bytes | None) -> str:
    return Path(path).read_text(encoding="utf-8") if data is None else data.decode("utf-8")


def _parquet_file(path: str | os.PathLike) -> Any:
    """``pyarrow.parquet.ParquetFile`` of a local path or an object-store URI (reads the footer only)."""
    import pyarrow.parquet as pq

    if storage.is_remote(str(path)):
        store, inner = storage.filesystem(str(path))
        return pq.ParquetFile(inner, filesystem=store)
    return pq.ParquetFile(path)
