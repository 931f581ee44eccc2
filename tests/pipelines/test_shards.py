"""Sharded Parquet writes: balanced by rows, sorted, byte-identical across runners, loadable by `datasets`."""

import io

import apache_beam as beam
import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from PIL import Image

from pipelines.shards import (
    WriteShards,
    _check_written,
    _plan,
    _WriteShardFn,
    column_compression,
    shard_name,
    write_shard,
)
from synthesis.records import DEAD_LETTER_SCHEMA, RL_SCHEMA, SFT_SCHEMA, DeadLetter, RlPrompt, to_table


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (i % 256, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _rows(n: int) -> list[dict]:
    return [
        RlPrompt(
            id=f"id-{i:04d}",
            image=_png(i),
            question=f"q{i}",
            image_size=(8, 8),
            answer=str(i),
            answer_type="number",
            family="compute",
            difficulty=0.5,
        ).to_row()
        for i in range(n)
    ]


def _run(rows, folder, rows_per_shard, args=("--runner=FnApiRunner",)):
    with beam.Pipeline(options=PipelineOptions(list(args))) as p:
        _ = (
            p
            | beam.Create(rows, reshuffle=False)
            | WriteShards(str(folder), "train", RL_SCHEMA, rows_per_shard)
        )
    return sorted(folder.glob("*.parquet"))


def test_shards_are_balanced_by_rows_and_sorted(tmp_path):
    rows = _rows(23)[::-1]
    files = _run(rows, tmp_path / "data", rows_per_shard=10)
    assert [f.name for f in files] == [shard_name("train", k, 3) for k in range(3)]
    tables = [pq.read_table(f) for f in files]
    assert [t.num_rows for t in tables] == [10, 10, 3]
    ids = [i for t in tables for i in t.column("id").to_pylist()]
    assert ids == sorted(r["id"] for r in rows)


def test_same_rows_give_identical_bytes_across_runners_and_input_order(tmp_path):
    rows = _rows(17)
    a = _run(rows, tmp_path / "a", 5)
    b = _run(
        rows[::-1],
        tmp_path / "b",
        5,
        ("--runner=FnApiRunner", "--direct_num_workers=2", "--direct_running_mode=multi_threading"),
    )
    assert [f.name for f in a] == [f.name for f in b]
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]


def test_empty_input_writes_one_empty_shard_with_schema(tmp_path):
    with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
        _ = p | beam.Create([]) | WriteShards(str(tmp_path), "dead_letter", DEAD_LETTER_SCHEMA, 10)
    files = sorted(tmp_path.glob("*.parquet"))
    assert [f.name for f in files] == ["dead_letter-00000-of-00001.parquet"]
    assert pq.read_table(files[0]).num_rows == 0
    assert pq.read_schema(files[0]).metadata == DEAD_LETTER_SCHEMA.metadata


def test_datasets_loads_the_folder_with_images(tmp_path):
    _run(_rows(12), tmp_path / "data", 5)
    ds = datasets.load_dataset(
        "parquet", data_files={"train": str(tmp_path / "data" / "train-*.parquet")}, split="train"
    )
    assert len(ds) == 12 and isinstance(ds[3]["image"], Image.Image)
    assert ds[3]["image"].getpixel((0, 0)) == (3, 0, 0)


def test_rows_sharing_an_id_are_all_written_in_one_order_and_staging_is_removed(tmp_path):
    letters = [
        DeadLetter(
            id="<unknown>", stage="import", reason="bad_row", detail="", payload={"line": i % 3}
        ).to_row()
        for i in range(6)
    ]
    letters += [
        DeadLetter(
            id=f"id-{i}", stage="teacher", reason="exec_timeout", detail="", payload={"png": _png(i)}
        ).to_row()
        for i in range(4)
    ]

    def run(rows, folder, args):
        with beam.Pipeline(options=PipelineOptions(list(args))) as p:
            _ = (
                p
                | beam.Create(rows, reshuffle=False)
                | WriteShards(str(folder), "dead_letter", DEAD_LETTER_SCHEMA, 4)
            )
        return sorted(folder.glob("*.parquet"))

    a = run(letters, tmp_path / "a" / "dead_letter", ["--runner=FnApiRunner"])
    b = run(
        letters[::-1],
        tmp_path / "b" / "dead_letter",
        ["--runner=FnApiRunner", "--direct_num_workers=2", "--direct_running_mode=multi_threading"],
    )
    assert sum(pq.read_table(f).num_rows for f in a) == 10
    assert [f.read_bytes() for f in a] == [f.read_bytes() for f in b]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["dead_letter"]  # the staged rows are gone


def test_a_writer_given_other_rows_than_planned_fails_instead_of_writing(tmp_path):
    plan = _plan(["a", "b", "c"], rows_per_shard=2)
    writer = _WriteShardFn(str(tmp_path), "train", RL_SCHEMA, {r["id"]: r for r in _rows(3)}.get, 32)
    with pytest.raises(
        RuntimeError, match=r"train-00000-of-00002.parquet: 1 rows reached its writer .* gives it 2"
    ):
        list(writer.process((0, ["a"]), plan))
    assert not list(tmp_path.iterdir())
    with pytest.raises(
        RuntimeError, match=r"'train': 2 rows in 1 shards written, but 3 rows in 2 shards planned"
    ):
        _check_written([write_shard(_rows(2), RL_SCHEMA, tmp_path / "s.parquet")], plan, "train", None)


def test_rows_per_shard_must_be_positive():
    with pytest.raises(ValueError, match="rows_per_shard"):
        WriteShards("x", "train", RL_SCHEMA, 0)


def test_a_shard_is_written_one_row_group_at_a_time(tmp_path):
    rows = {r["id"]: r for r in _rows(11)}
    loaded: list[int] = []

    def load(rid: str) -> dict:
        loaded.append(
            sum(p.stat().st_size for p in tmp_path.iterdir())
        )  # bytes on disk when this row was loaded
        return rows[rid]

    path = tmp_path / shard_name("train", 0, 1)
    info = write_shard(list(rows)[::-1], RL_SCHEMA, path, load=load, rows_per_group=4)
    shard = pq.ParquetFile(path)
    assert [shard.metadata.row_group(g).num_rows for g in range(shard.num_row_groups)] == [4, 4, 3]
    assert shard.read().column("id").to_pylist() == sorted(rows) and info.rows == 11
    assert (
        max(loaded[:4]) < min(loaded[4:8]) < min(loaded[8:])
    )  # each group was on disk before the next loaded
    again = write_shard(
        list(rows), RL_SCHEMA, tmp_path / "again.parquet", load=rows.__getitem__, rows_per_group=4
    )
    assert again.sha256 == info.sha256 and (tmp_path / "again.parquet").read_bytes() == path.read_bytes()


def test_one_row_tables_give_the_same_bytes_as_dict_rows(tmp_path):
    rows = {r["id"]: r for r in _rows(9)}
    tables = {rid: to_table([row], RL_SCHEMA) for rid, row in rows.items()}
    from_dicts = write_shard(
        list(rows), RL_SCHEMA, tmp_path / "dicts.parquet", load=rows.__getitem__, rows_per_group=4
    )
    from_tables = write_shard(
        list(rows), RL_SCHEMA, tmp_path / "tables.parquet", load=tables.__getitem__, rows_per_group=4
    )
    assert from_tables.sha256 == from_dicts.sha256
    assert pq.read_table(tmp_path / "tables.parquet").column("id").to_pylist() == sorted(rows)


@pytest.mark.parametrize("schema", [SFT_SCHEMA, RL_SCHEMA, DEAD_LETTER_SCHEMA])
def test_every_leaf_column_gets_a_codec_and_image_bytes_stay_raw(tmp_path, schema):
    codecs = column_compression(schema)
    pq.write_table(pa.Table.from_pylist([], schema=schema), tmp_path / "empty.parquet")
    leaves = pq.ParquetFile(tmp_path / "empty.parquet").schema
    assert sorted(codecs) == sorted(leaves.column(i).path for i in range(len(leaves)))
    raw = {path for path, codec in codecs.items() if codec == "none"}
    expected = {SFT_SCHEMA: {"images.list.element.bytes"}, RL_SCHEMA: {"image.bytes"}}.get(schema, set())
    assert raw == expected


def test_written_shard_uses_the_codecs(tmp_path):
    path = tmp_path / "s.parquet"
    write_shard(_rows(3), RL_SCHEMA, path)
    group = pq.ParquetFile(path).metadata.row_group(0)
    codecs = {group.column(i).path_in_schema: group.column(i).compression for i in range(group.num_columns)}
    assert codecs["id"] == "ZSTD" and codecs["question"] == "ZSTD"
