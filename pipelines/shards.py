"""Write a PCollection of rows as Hub-layout Parquet shards, balanced by rows and identical on every runner.

Beam's ``WriteToParquet(num_shards=N)`` distributes Arrow record batches, not rows (32 rows over 3 shards gave
0, 0 and 32), and its shard contents depend on bundle boundaries. Here the shard of every row is decided from
the sorted list of ids (row ``k`` of the sorted order goes to shard ``k // rows_per_shard``), and each shard
is written sorted by id with pyarrow, to a temporary name that is renamed at the end: the same rows give
byte-identical files whatever the runner, worker count or bundle sizes. A shard is written one row group at a
time, loading only that group's rows, so a writer holds one group of images, never a whole shard of them.

Rows never travel through Beam's buffers either: each row is staged to its own small Parquet file as it
arrives and only a key moves on. Large rows (0.9 MB images) passed whole into the side-input stage lost 1-85
of 400 rows per run on the multi-process FnApiRunner (Beam 2.77), nondeterministically and without an error;
keys did not. Each writer also checks its row count against the plan, and the transform checks the total, so a
row lost by any runner fails the run instead of going missing.
"""

from __future__ import annotations

import hashlib
import math
import os
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.pvalue import AsSingleton

from pipelines.manifest import read_json, write_json
from runconfig import storage
from synthesis.records import DEAD_LETTER_SCHEMA, to_table

__all__ = [
    "ROWS_PER_GROUP",
    "ShardInfo",
    "WriteShards",
    "column_compression",
    "promote_run",
    "promote_staging",
    "rows_per_folder",
    "shard_name",
    "split_of",
    "staged_counts",
    "write_shard",
]

ROWS_PER_GROUP = 32
"""Default rows per Parquet row group: the most rows (and their images) a shard writer holds at once."""


@dataclass(frozen=True)
class ShardInfo:
    """What one written shard holds; runs record these in their manifest."""

    path: str
    rows: int
    sha256: str


def shard_name(prefix: str, index: int, count: int) -> str:
    """Hugging Face file name of shard ``index`` of ``count``.

    Example:
        >>> shard_name("train", 0, 2)
        'train-00000-of-00002.parquet'
    """
    return f"{prefix}-{index:05d}-of-{count:05d}.parquet"


def write_shard(
    items: list,
    schema: pa.Schema,
    path: Path | str,
    load: Callable[[Any], dict | pa.Table] | None = None,
    rows_per_group: int = ROWS_PER_GROUP,
) -> ShardInfo:
    """Write rows sorted by id to ``path`` atomically (temporary name, then rename) and describe the file.

    Args:
        items (`list`): rows (dicts with an ``id``), or ids (or keys that sort by id) when ``load`` is given.
        schema (`pa.Schema`): the record schema.
        path (`Path | str`): the shard's final path, or an object-store URI (``runconfig.storage``).
        load (`Callable[[Any], dict | pa.Table]`, *optional*): loads the row of an id or key (a dict, or a
            one-row table such as ``RecordStore.table``), one row group at a time.
        rows_per_group (`int`, *optional*, defaults to `32`): rows per Parquet row group.
    """
    ordered = sorted(items, key=(lambda i: i) if load else (lambda r: r["id"]))
    if storage.is_remote(str(path)):  # written here, then published as one object (no rename on a store)
        import tempfile

        fd, local = tempfile.mkstemp(suffix=".parquet")
        os.close(fd)
        try:
            info = write_shard(ordered, schema, Path(local), load, rows_per_group)
            storage.upload_file(local, str(path))
        finally:
            Path(local).unlink(missing_ok=True)
        return ShardInfo(str(path), info.rows, info.sha256)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with pq.ParquetWriter(tmp, schema, compression=column_compression(schema)) as writer:
        for start in range(0, max(len(ordered), 1), rows_per_group):
            group = ordered[start : start + rows_per_group]
            writer.write_table(_group_table([load(i) for i in group] if load else group, schema))
    digest = hashlib.sha256()
    with open(tmp, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    os.replace(tmp, path)
    return ShardInfo(str(path), len(ordered), digest.hexdigest())


def _group_table(rows: list, schema: pa.Schema) -> pa.Table:
    """One row group: dict rows converted, or one-row tables (a record store's files) concatenated as they
    are.

    Both give the same table, so the same bytes on disk; concatenating skips a round trip through Python
    objects.
    """
    if rows and all(isinstance(r, pa.Table) for r in rows):
        return pa.concat_tables(rows).cast(schema).combine_chunks()
    return to_table(rows, schema)


def column_compression(schema: pa.Schema) -> dict[str, str]:
    """Parquet codec per leaf column: zstd, except for encoded image bytes (PNG/JPEG), which zstd cannot
    shrink.

    Measured on 150 default records: zstd on the image bytes saved 1.3% of the file and took half the write
    time.

    Example:
        >>> import pyarrow as pa
        >>> column_compression(
        ...     pa.schema(
        ...         [
        ...             ("id", pa.string()),
        ...             ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ...         ]
        ...     )
        ... )
        {'id': 'zstd', 'images.list.element.bytes': 'none', 'images.list.element.path': 'zstd'}
    """

    def leaves(name: str, kind: pa.DataType):
        if pa.types.is_struct(kind):
            for child in kind:
                yield from leaves(f"{name}.{child.name}", child.type)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            yield from leaves(f"{name}.list.element", kind.value_type)
        else:
            yield name, kind

    return {
        path: "none" if path.split(".")[0] in ("image", "images") and pa.types.is_binary(kind) else "zstd"
        for field in schema
        for path, kind in leaves(field.name, field.type)
    }


def _plan(keys: list, rows_per_shard: int) -> dict[str, Any]:
    ordered = sorted(keys)
    count = max(1, math.ceil(len(ordered) / rows_per_shard))
    rows = [min(rows_per_shard, len(ordered) - k * rows_per_shard) for k in range(count)] if ordered else [0]
    return {
        "count": count,
        "rows": rows,
        "shard_of": {key: k // rows_per_shard for k, key in enumerate(ordered)},
    }


class _StagedRows:
    """Rows staged one Parquet file each under ``folder``, keyed ``(id, content digest, file name)``.

    The key sorts by id, then by content, so rows that share an id (dead letters of unreadable input all have
    ``<unknown>``) still land in the same order on every run; the file name only tells identical rows apart.
    """

    def __init__(self, folder: str, schema: pa.Schema):
        self.folder, self._schema = folder, schema

    def put(self, row: dict) -> tuple[str, str, str]:
        table = to_table([row], self._schema)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        data = sink.getvalue()
        name = f"{uuid.uuid4().hex}.parquet"
        if storage.is_remote(self.folder):
            storage.write_bytes(storage.join(self.folder, name), data.to_pybytes())
        else:
            folder = Path(self.folder)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(data.to_pybytes())
            os.replace(tmp, folder / name)
        return str(row["id"]), hashlib.sha256(data).hexdigest(), name

    def table(self, key: tuple[str, str, str]) -> pa.Table:
        if storage.is_remote(self.folder):
            return pq.read_table(pa.BufferReader(storage.read_bytes(storage.join(self.folder, key[2]))))
        return pq.read_table(Path(self.folder) / key[2])


def _shard_path(folder: str, name: str) -> Path | str:
    return storage.join(folder, name) if storage.is_remote(folder) else Path(folder) / name


class _WriteShardFn(beam.DoFn):
    def __init__(
        self,
        folder: str,
        prefix: str,
        schema: pa.Schema,
        load: Callable[[Any], dict | pa.Table] | None,
        rows_per_group: int,
    ):
        self._folder, self._prefix, self._schema, self._load = folder, prefix, schema, load
        self._rows_per_group = rows_per_group

    def process(self, element, plan):
        index, items = element
        items = list(items)
        name = shard_name(self._prefix, index, plan["count"])
        path = _shard_path(self._folder, name)
        if len(items) != plan["rows"][index]:
            raise RuntimeError(
                f"{name}: {len(items)} rows reached its writer but the plan gives it "
                f"{plan['rows'][index]}; rows were lost or duplicated upstream, nothing written"
            )
        yield write_shard(items, self._schema, path, self._load, self._rows_per_group)


class _WriteEmptyShardFn(_WriteShardFn):
    """An empty split still gets one (empty) shard, so its schema and features exist on disk."""

    def process(self, plan):
        if not plan["shard_of"]:
            yield write_shard(
                [], self._schema, _shard_path(self._folder, shard_name(self._prefix, 0, 1)), self._load
            )


def _check_written(infos: list[ShardInfo], plan: dict, prefix: str, staged: str | None) -> list[ShardInfo]:
    """Every planned shard and row was written (else the run fails); the staged rows are removed."""
    if staged:
        storage.delete_tree(staged)
    rows, planned = sum(i.rows for i in infos), sum(plan["rows"])
    if len(infos) != plan["count"] or rows != planned:
        raise RuntimeError(
            f"WriteShards {prefix!r}: {rows} rows in {len(infos)} shards written, but {planned} rows "
            f"in {plan['count']} shards planned"
        )
    return sorted(infos, key=lambda i: i.path)


class WriteShards(beam.PTransform):
    """Write rows (dicts with an ``id``) as ``<folder>/<prefix>-SSSSS-of-NNNNN.parquet``.

    Args:
        folder (`str`): output folder, e.g. ``out/run/data``.
        prefix (`str`): split name, e.g. ``train``.
        schema (`pa.Schema`): the record schema from :mod:`synthesis.records`.
        rows_per_shard (`int`): rows per shard; the last shard holds the remainder.
        load (`Callable[[str], dict | pa.Table]`, *optional*): when given, the input holds unique ids and each
            shard loads its rows with it (e.g. ``RecordStore.table``). Without it, dict rows are staged under
            ``<folder>/../.<folder name>-<prefix>-rows/`` while the transform runs, then removed.
        rows_per_group (`int`, *optional*, defaults to `32`): rows per Parquet row group, the most rows a
            writer holds in memory at once.

    Returns a PCollection of :class:`ShardInfo`, one per written file, once every shard is written and
    checked.
    """

    def __init__(
        self,
        folder: str,
        prefix: str,
        schema: pa.Schema,
        rows_per_shard: int,
        load: Callable[[str], dict | pa.Table] | None = None,
        rows_per_group: int = ROWS_PER_GROUP,
    ):
        super().__init__()
        if rows_per_shard < 1 or rows_per_group < 1:
            raise ValueError(
                f"rows_per_shard and rows_per_group must be >= 1, got {rows_per_shard}, {rows_per_group}"
            )
        self._folder, self._prefix, self._schema = folder, prefix, schema
        self._rows_per_shard, self._load, self._rows_per_group = rows_per_shard, load, rows_per_group

    def expand(self, rows):
        if self._load is None:
            if storage.is_remote(self._folder):
                parent, name = storage.split(self._folder)
                staged_at = storage.join(parent, f".{name}-{self._prefix}-rows")
            else:
                folder = Path(self._folder)
                staged_at = str(folder.parent / f".{folder.name}-{self._prefix}-rows")
            staged = _StagedRows(staged_at, self._schema)
            keys, load, staged_folder = (
                rows | "StageRows" >> beam.Map(staged.put),
                staged.table,
                staged.folder,
            )
        else:
            keys, load, staged_folder = rows, self._load, None
        plan = keys | "AllKeys" >> beam.combiners.ToList() | "Plan" >> beam.Map(_plan, self._rows_per_shard)
        plan_side = AsSingleton(plan)
        written = (
            keys
            | "AssignShard" >> beam.Map(lambda k, p: (p["shard_of"][k], k), plan_side)
            | "GroupByShard" >> beam.GroupByKey()
            | "WriteShard"
            >> beam.ParDo(
                _WriteShardFn(self._folder, self._prefix, self._schema, load, self._rows_per_group), plan_side
            )
        )
        empty = plan | "WriteEmpty" >> beam.ParDo(
            _WriteEmptyShardFn(self._folder, self._prefix, self._schema, load, self._rows_per_group)
        )
        return (
            (written, empty)
            | "AllShards" >> beam.Flatten()
            | "AllWritten" >> beam.combiners.ToList()
            | "CheckWritten" >> beam.FlatMap(_check_written, plan_side, self._prefix, staged_folder)
        )


def rows_per_folder(shards: list[ShardInfo]) -> dict[str, int]:
    """Rows the shards hold, per folder (``data``, ``dead_letter``): what a run checks its counts against.

    Example:
        >>> rows_per_folder(
        ...     [
        ...         ShardInfo("o/data/a.parquet", 3, ""),
        ...         ShardInfo("o/data/b.parquet", 2, ""),
        ...         ShardInfo("o/dead_letter/d.parquet", 1, ""),
        ...     ]
        ... )
        {'data': 5, 'dead_letter': 1}
    """
    rows: dict[str, int] = {}
    for shard in shards:
        folder = Path(shard.path).parent.name
        rows[folder] = rows.get(folder, 0) + shard.rows
    return rows


def staged_counts(stage: str | Path, pipeline: str) -> dict | None:
    """The counts a finished run staged, or None after one line saying why there are none.

    A runner whose workers write to a disk this launcher cannot see (hosts that share no filesystem, where
    ``run.output_dir`` is a local path) finishes without error yet leaves nothing here: that must stop the run
    loudly, never be read as a run that produced nothing.
    """
    import sys

    try:
        return read_json(storage.join(str(stage), "counts.json"))
    except FileNotFoundError:
        sys.stderr.write(
            f"{pipeline}: stopped: the runner finished but {stage}/counts.json is missing: its workers "
            "wrote to a disk this launcher cannot see. run.output_dir must be on a filesystem that the "
            "launcher and every worker mount at the same path, or an object store (s3://bucket/run; README "
            "'Running on a cluster')\n"
        )
        return None


def promote_run(stage: str | Path, out: str | Path, pipeline: str) -> tuple[dict, list[ShardInfo]] | None:
    """A finished run's staged counts and its shards promoted into ``out`` (:func:`promote_staging`), or None
    after one line saying why when its workers staged nothing here (:func:`staged_counts`). The staging folder
    is removed either way."""
    try:
        counts = staged_counts(stage, pipeline)
        return None if counts is None else (counts, promote_staging(stage, out))
    finally:
        storage.delete_tree(str(stage))


def promote_staging(
    stage: str | Path, out: str | Path, folders: tuple[str, ...] = ("data", "dead_letter")
) -> list[ShardInfo]:
    """Move a finished run's shard folders from ``stage`` into ``out``, replacing the previous run's whole.

    Shards are written to a staging folder first, so a failed or killed run never leaves a mix of two runs'
    shards; returns the shards listed in ``stage/shards.json`` with their final paths. The previous run's
    ``manifest.json``, the run's commit marker, goes first and the new one is written last (by the caller),
    so a folder caught half-promoted (an object store moves key by key) has no manifest to vouch for it.
    """
    stage, out = str(stage), str(out)
    listed = read_json(storage.join(stage, "shards.json"))["shards"]
    storage.delete(storage.join(out, "manifest.json"))
    for sub in folders:
        storage.delete_tree(storage.join(out, sub))
        if not storage.is_remote(stage):
            if os.path.isdir(os.path.join(stage, sub)):
                os.rename(os.path.join(stage, sub), os.path.join(out, sub))
            continue
        for name in storage.list_tree(storage.join(stage, sub)):  # a store has no rename: copy, then drop
            storage.copy(storage.join(stage, sub, name), storage.join(out, sub, name))
        storage.delete_tree(storage.join(stage, sub))
    return [ShardInfo(s["path"].replace(stage, out), s["rows"], s["sha256"]) for s in listed]


def split_of(record_id: str, splits: dict[str, float]) -> int:
    """Index of the split of ``record_id`` (a stable hash, so a record never changes split between runs).

    Example:
        >>> (
        ...     split_of("crop-000001", {"train": 1.0}),
        ...     {split_of(f"r{i}", {"a": 0.5, "b": 0.5}) for i in range(50)},
        ... )
        (0, {0, 1})
    """
    total, names = sum(splits.values()), list(splits)
    point = (zlib.crc32(record_id.encode()) % 1_000_000) / 1_000_000 * total
    for index, name in enumerate(names):
        point -= splits[name]
        if point < 0:
            return index
    return len(names) - 1


class _BySplit(beam.PartitionFn):
    """The split index of an element (its id read by ``id_of``), for ``beam.Partition``."""

    def __init__(self, splits: dict[str, float], id_of: Callable[[Any], str]):
        self.splits, self.id_of = splits, id_of

    def partition_for(self, element: Any, num_partitions: int, *args: Any, **kwargs: Any) -> int:
        return split_of(self.id_of(element), self.splits)


def _save_shard_list(infos: list[ShardInfo], path: str) -> None:
    write_json(path, {"shards": [vars(i) for i in infos]})


class WriteRunShards(beam.PTransform):
    """A run's shards under the staging folder ``stage``: the accepted elements split into
    ``data/<split>-SSSSS-of-NNNNN.parquet``, the dead-letter rows into ``dead_letter/``, and ``shards.json``
    listing every file. The one writer of build_sft, build_rl and replay, so the same records give the same
    bytes whichever of them wrote them.

    Args:
        stage (`str`): the run's staging folder.
        splits (`dict[str, float]`): split name -> weight (``run.splits``).
        schema (`pa.Schema`): the schema of the accepted rows.
        rows_per_shard, rows_per_group (`int`): as in :class:`WriteShards`.
        load (`Callable`, *optional*): as in :class:`WriteShards`; then the accepted elements are ids.
        id_of (`Callable[[Any], str]`, *optional*): the id of an accepted element (the element itself by
            default, for ids).

    Applied to ``(accepted, dead_letter_rows)``.
    """

    def __init__(
        self,
        stage: str,
        splits: dict[str, float],
        schema: pa.Schema,
        rows_per_shard: int,
        rows_per_group: int = ROWS_PER_GROUP,
        load: Callable[[str], dict | pa.Table] | None = None,
        id_of: Callable[[Any], str] = str,
    ):
        super().__init__()
        self.stage, self.splits, self.schema = stage, dict(splits), schema
        self.rows_per_shard, self.rows_per_group, self.load, self.id_of = (
            rows_per_shard,
            rows_per_group,
            load,
            id_of,
        )

    def expand(self, pcolls):
        accepted, dead_rows = pcolls
        names = list(self.splits)
        parts = accepted | "Split" >> beam.Partition(_BySplit(self.splits, self.id_of), len(names))
        data = storage.join(self.stage, "data")
        shards = [
            part
            | f"Write_{name}"
            >> WriteShards(
                data,
                name,
                self.schema,
                self.rows_per_shard,
                load=self.load,
                rows_per_group=self.rows_per_group,
            )
            for name, part in zip(names, parts, strict=True)
        ]
        shards.append(
            dead_rows
            | "WriteDeadLetters"
            >> WriteShards(
                storage.join(self.stage, "dead_letter"),
                "dead_letter",
                DEAD_LETTER_SCHEMA,
                self.rows_per_shard,
                rows_per_group=self.rows_per_group,
            )
        )
        return (
            shards
            | "AllShards" >> beam.Flatten()
            | "ShardList" >> beam.combiners.ToList()
            | "SaveShards" >> beam.Map(_save_shard_list, storage.join(self.stage, "shards.json"))
        )
