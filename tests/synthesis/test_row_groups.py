"""Source files are read one row group at a time: a released shard of any size holds at most about one row
group in memory, and every row keeps its index in the file."""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from synthesis.importers.common import read_row_group, row_groups

ROWS_PER_GROUP, ROW_BYTES = 8, 400_000


def _released_shard(path, groups: int) -> None:
    """Rows shaped like the released data: ``image`` a list of base64 strings, ``question``, ``response``."""
    schema = pa.schema(
        [("image", pa.list_(pa.string())), ("question", pa.string()), ("response", pa.string())]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for group in range(groups):
            rows = [
                {
                    "image": [os.urandom(ROW_BYTES // 2).hex()],
                    "question": f"q{group * ROWS_PER_GROUP + k}",
                    "response": "r",
                }
                for k in range(ROWS_PER_GROUP)
            ]
            writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=ROWS_PER_GROUP)


def _peak_while_reading(tmp_path, groups: int) -> int:
    shard = tmp_path / f"wo_thinking_thyme_single_round-{groups:05d}.parquet"
    _released_shard(shard, groups)
    slices = row_groups(shard)
    assert [(g.group, g.first, g.rows) for g in slices] == [
        (g, g * ROWS_PER_GROUP, ROWS_PER_GROUP) for g in range(groups)
    ]
    base, peak, seen = pa.total_allocated_bytes(), 0, []
    for group in reversed(slices):  # any order: each slice is read on its own
        for index, row in read_row_group(group):
            peak = max(peak, pa.total_allocated_bytes() - base)
            seen.append((index, row["question"]))
    assert sorted(seen) == sorted((i, f"q{i}") for i in range(groups * ROWS_PER_GROUP))
    shard.unlink()
    return peak


def test_a_shard_is_read_group_by_group_with_flat_memory(tmp_path):
    group_bytes = ROWS_PER_GROUP * ROW_BYTES
    peak = _peak_while_reading(tmp_path, 24)  # 77 MB of rows; reading the whole file would hold all of it
    assert peak < 5 * group_bytes < 24 * group_bytes, (peak, group_bytes)


def test_a_text_file_is_one_slice_counted_by_streaming(tmp_path):
    lines = tmp_path / "rows.jsonl"
    lines.write_text("\n".join(json.dumps({"question": f"q{i}"}) for i in range(5)) + "\n\nnot json\n")
    [group] = row_groups(lines)
    assert (group.group, group.rows) == (None, 6)  # the bad line is a row too: it becomes a dead letter
    assert [i for i, _ in read_row_group(group)] == list(range(6))
