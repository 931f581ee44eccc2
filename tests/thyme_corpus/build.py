"""Build the corpus: draw each original, run its code in the real sandbox with Thyme's fix-ups on (as the
released data was made), assemble the released row, apply the row's defect if it has one, write Parquet.

The code is run with the in-sandbox input path (``/mnt/data/input/<file name>``, what the importer rewrites
the authors' path to) and written into the record with the authors' path. Every processed image in
``image[1:]`` and every printed output in ``<sandbox_output>`` is what that run produced, unless the row is a
tampered reject. The builder also checks its own work: accepted rows run cleanly, use fix-ups exactly when
marked ``needs_fixups``, and every crop box (after Thyme's clamp) holds the scene item the question is about.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from sandbox import Sandbox, SandboxConfig
from sandbox.clamp import clamp_box
from sandbox.inputs import safe_name
from sandbox.layout import INPUT_DIR

from .code_styles import PATH
from .spec import CLAIM_CROP, SUBSETS, Block, Spec, question_text

__all__ = [
    "ROWS_PER_GROUP",
    "SCHEMA",
    "SHARDS",
    "SIDECAR",
    "CorpusError",
    "CorpusRow",
    "build_corpus",
    "build_row",
    "read_expectations",
    "write_corpus",
]

ROWS_PER_GROUP = 8
SIDECAR = "expected.json"
SHARDS = {
    "single_round": ("wo_thinking_thyme_single_round", 2),
    "two_round": ("2round", 1),
    "computation": ("computation", 1),
}  # subset -> (released split name, shard count)
SCHEMA = pa.schema([("image", pa.list_(pa.string())), ("question", pa.string()), ("response", pa.string())])
ENVIRONMENT_FIXES = frozenset(
    {"fix_output_dir", "fix_output_subdirs"}
)  # how the sandbox is laid out, not the code
_BUILT: list[CorpusRow] = []


class CorpusError(AssertionError):
    """A hand-written record does not do what its spec says (the corpus is wrong, not the code tested)."""


@dataclass(frozen=True)
class CorpusRow:
    """One released-format row and what it must get.

    Args:
        key (`str`), subset (`str`): the spec's name and subset.
        row (`dict`): ``image`` (list of base64 strings), ``question``, ``response``, exactly as released.
        verdict (`dict`): the expected verdict (see :mod:`spec`).
        needs_fixups (`bool`): reproducible only with Thyme's fix-ups.
        strict (`dict`): the expected verdict with fix-ups off.
        fixes (`tuple[str, ...]`): the fix-ups our sandbox applied while building, over all blocks.
    """

    key: str
    subset: str
    row: dict
    verdict: dict
    needs_fixups: bool
    strict: dict
    fixes: tuple[str, ...]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _fabricated_crop(original: bytes, box: tuple[int, int, int, int]) -> bytes:
    with Image.open(io.BytesIO(original)) as image:
        crop = image.convert("RGB").crop(box)
    buf = io.BytesIO()
    crop.resize((crop.width * 2, crop.height * 2)).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def _check_boxes(spec: Spec, block: Block, size: tuple[int, int], items: dict) -> None:
    for box, name in zip(block.boxes, block.covers, strict=True):
        if not name:
            continue
        x1, y1, x2, y2 = clamp_box(box, size) if spec.needs_fixups else box
        ix1, iy1, ix2, iy2 = items[name]
        if not (x1 <= ix1 and y1 <= iy1 and ix2 <= x2 and iy2 <= y2):
            raise CorpusError(f"{spec.key}: crop {box} misses {name} at {items[name]}")


def _run_blocks(
    spec: Spec, original: bytes, items: dict, sandbox
) -> tuple[list[str], list[bytes], list[str]]:
    """The sandbox-output text of every block, the processed images in order, and the fixes applied."""
    size = Image.open(io.BytesIO(original)).size
    in_path = INPUT_DIR + safe_name(spec.path.rsplit("/", 1)[-1], original, 0)
    outputs, produced, fixes = [], [], []
    with sandbox.session(
        images=[original], image_name=spec.path.rsplit("/", 1)[-1], item_id=spec.key, seed=0, strict=False
    ) as session:
        for block in (p for p in spec.parts if isinstance(p, Block)):
            result = session.run(block.code.replace(PATH, in_path))
            fixes.extend(f for f in result.fixes if f not in fixes)
            if block.claimed == CLAIM_CROP:
                outputs.append("<image>")
                produced.append(_fabricated_crop(original, block.boxes[0]))
                continue
            if block.claimed is not None:
                outputs.append(block.claimed)
                continue
            if not result.ok:
                raise CorpusError(f"{spec.key}: block failed: {result.error_type} {result.error_message}")
            _check_boxes(spec, block, size, items)
            outputs.append("<image>" * len(result.images) if result.images else result.feedback)
            produced.extend(result.images)
    return outputs, produced, fixes


def _response(spec: Spec, outputs: list[str]) -> str:
    body, pending = [], iter(outputs)
    for part in spec.parts:
        if isinstance(part, str):
            body.append(part)
            continue
        code = part.code.replace(PATH, spec.path)
        body.append(
            f"<code>{part.lead}```python\n{code}\n```{part.trail}</code>"
            f"<sandbox_output>{next(pending)}</sandbox_output>"
        )
    return f"<think>{''.join(body)}</think>{spec.separator}<answer>{spec.answer}</answer>"


def build_row(spec: Spec, sandbox) -> CorpusRow:
    """Draw, run, assemble and (for a tampered reject) damage one record.

    Args:
        spec (`Spec`): the hand-written record.
        sandbox (`sandbox.Sandbox`): the pool the code runs in (fix-ups on, seed 0, as the importer replays
            it).
    """
    original, items = spec.scene.draw()
    size = Image.open(io.BytesIO(original)).size
    outputs, produced, fixes = _run_blocks(spec, original, items, sandbox)
    row = {
        "image": [_b64(original), *(_b64(p) for p in produced)],
        "question": question_text(spec.question, spec.path, size),
        "response": _response(spec, outputs),
    }
    if spec.tamper is not None:
        row = spec.tamper(dict(row), {"original": original, "size": size, "produced": produced})
    code_fixes = [f for f in fixes if f not in ENVIRONMENT_FIXES]
    if spec.verdict["expect"] == "accept" and bool(code_fixes) != spec.needs_fixups:
        raise CorpusError(
            f"{spec.key}: needs_fixups={spec.needs_fixups} but the sandbox applied {code_fixes}"
        )
    return CorpusRow(
        spec.key,
        spec.subset,
        row,
        dict(spec.verdict),
        spec.needs_fixups,
        dict(spec.strict or spec.verdict),
        tuple(fixes),
    )


def _order(rows: list[CorpusRow]) -> list[CorpusRow]:
    """Subsets in :data:`SUBSETS` order, the rows of each in fixed pseudo-random order (rejects mixed in)."""

    def mix(r: CorpusRow) -> str:
        return hashlib.sha256(r.key.encode()).hexdigest()

    return [r for subset in SUBSETS for r in sorted((r for r in rows if r.subset == subset), key=mix)]


def build_corpus(sandbox=None) -> list[CorpusRow]:
    """Every corpus row, built once per process (later calls return the same list).

    Args:
        sandbox (`sandbox.Sandbox`, *optional*): a pool to run the code in; by default a one-worker pool is
            started for the build and closed after it.
    """
    if _BUILT:
        return list(_BUILT)
    from .records import all_specs

    specs = all_specs()
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise CorpusError("duplicate spec keys")
    if sandbox is None:
        with Sandbox(SandboxConfig(workers=1, timeout_s=10.0)) as own:
            rows = [build_row(spec, own) for spec in specs]
    else:
        rows = [build_row(spec, sandbox) for spec in specs]
    _BUILT.extend(_order(rows))
    return list(_BUILT)


def _shards(rows: list[CorpusRow]) -> list[tuple[str, list[CorpusRow]]]:
    out = []
    for subset in SUBSETS:
        split, count = SHARDS[subset]
        mine = [r for r in rows if r.subset == subset]
        per = -(-len(mine) // count)
        out += [
            (f"{split}-{k:05d}-of-{count:05d}.parquet", mine[k * per : (k + 1) * per]) for k in range(count)
        ]
    return out


def write_corpus(folder: str | Path, sandbox=None) -> list[Path]:
    """Write the corpus as released-style Parquet shards plus the :data:`SIDECAR` of expected verdicts.

    Columns ``image`` (list<string>, base64), ``question`` and ``response`` (string), row groups of
    :data:`ROWS_PER_GROUP` rows, written with pyarrow. The sidecar is ``{"rows": [{"file", "index", "key",
    "subset", "verdict", "needs_fixups", "strict", "fixes"}, ...]}``.

    Args:
        folder (`str | Path`): created if missing; nothing is written anywhere else.
        sandbox (`sandbox.Sandbox`, *optional*): passed to :func:`build_corpus`.

    Returns:
        The Parquet files, in subset order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, entries = [], []
    for name, rows in _shards(build_corpus(sandbox)):
        table = pa.Table.from_pylist([r.row for r in rows], schema=SCHEMA)
        pq.write_table(table, folder / name, row_group_size=ROWS_PER_GROUP)
        paths.append(folder / name)
        entries += [
            {
                "file": name,
                "index": i,
                "key": r.key,
                "subset": r.subset,
                "verdict": r.verdict,
                "needs_fixups": r.needs_fixups,
                "strict": r.strict,
                "fixes": list(r.fixes),
            }
            for i, r in enumerate(rows)
        ]
    (folder / SIDECAR).write_text(json.dumps({"rows": entries}, indent=1, ensure_ascii=False) + "\n")
    return paths


def read_expectations(folder: str | Path) -> dict[tuple[str, int], dict]:
    """``(file name, row index) -> sidecar entry`` of a folder written by :func:`write_corpus`."""
    entries = json.loads((Path(folder) / SIDECAR).read_text())["rows"]
    return {(e["file"], e["index"]): e for e in entries}
