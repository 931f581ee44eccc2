"""Shard suite (great-expectations on dask-read shards): a good run passes, a corrupted one fails by name."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthesis.records import SFT_SCHEMA, Check, SftRecord, to_table
from validators.config import ShardChecksConfig
from validators.shards import read_shards, validate_shards

FAMILIES = ["crop", "rotate", "compute", "crop"]


def _row(i: int, **changes):
    record = SftRecord(
        id=f"crop-{i:06d}",
        images=(b"\x89PNG...", b"\x89PNG..."),
        question="What word?",
        image_size=(640, 480),
        response="<think>x</think> <answer>a</answer>",
        answer="a",
        answer_type="text",
        family=FAMILIES[i % len(FAMILIES)],
        checks=(Check(name="format", passed=True), Check(name="answer", passed=True)),
    )
    row = record.to_row()
    row.update(changes)
    return row


def _write(folder, shards):
    folder.mkdir(parents=True, exist_ok=True)
    for k, rows in enumerate(shards):
        pq.write_table(to_table(rows, SFT_SCHEMA), folder / f"train-{k:05d}-of-{len(shards):05d}.parquet")
    return folder


@pytest.fixture
def good_dir(tmp_path):
    return _write(tmp_path / "good", [[_row(i) for i in range(0, 6)], [_row(i) for i in range(6, 12)]])


def test_read_shards_one_partition_per_shard(good_dir):
    files, rows = read_shards(good_dir)
    assert files["schema_ok"].all() and files["rows"].tolist() == [6, 6]
    assert len(rows) == 12 and rows["n_images"].eq(2).all() and rows["all_checks_passed"].all()
    assert rows.loc[rows["id"] == "crop-000007", "shard"].item() == "train-00001-of-00002.parquet"


def test_good_shards_pass_and_reports_are_written(good_dir, tmp_path):
    out = tmp_path / "report"
    report = validate_shards(good_dir, ShardChecksConfig(family_bounds={"crop": (0.3, 0.7)}), out=out)
    assert report.success, report.summary()
    assert report.summary().startswith("shard suite PASSED")
    result = json.loads((out / "result.json").read_text())
    assert result["success"] is True and set(result["results"]) == {"files", "rows"}
    html = (out / "data_docs" / "rows.html").read_text()
    assert "expect_column_values_to_be_unique" in html or "unique" in html.lower()
    assert (out / "data_docs" / "index.html").exists()


def test_corrupted_shard_fails_naming_expectation_column_and_shard(tmp_path):
    bad = [
        _row(6, id=None),
        _row(7, id="crop-000001"),
        _row(8, image_size={"width": 0, "height": 480}),
        _row(9),
    ]
    folder = _write(tmp_path / "bad", [[_row(i) for i in range(0, 6)], bad])
    report = validate_shards(folder, out=tmp_path / "report")
    assert not report.success
    text = report.summary()
    assert "FAILED" in text
    assert "expect_column_values_to_not_be_null(id)" in text
    assert "expect_column_values_to_be_unique(id)" in text
    assert "expect_column_values_to_be_between(image_width)" in text
    null_line = next(line for line in report.failures if "not_be_null(id)" in line)
    assert "1 unexpected" in null_line and "train-00001-of-00002.parquet" in null_line
    assert json.loads((tmp_path / "report" / "result.json").read_text())["success"] is False


def test_failed_checks_family_mix_and_limits(tmp_path):
    rows = [_row(i) for i in range(8)]
    rows[0]["checks"] = [{"name": "answer", "passed": False, "reason": "answer_mismatch", "detail": ""}]
    rows[1]["family"] = "painting"
    rows[2]["response"] = "x" * 20000
    folder = _write(tmp_path / "mix", [rows])
    report = validate_shards(folder, ShardChecksConfig(family_bounds={"compute": (0.5, 1.0)}))
    text = report.summary()
    for name in [
        "expect_column_values_to_be_in_set(all_checks_passed)",
        "expect_column_values_to_be_in_set(family)",
        "expect_column_values_to_be_between(response_chars)",
        "expect_column_mean_to_be_between(is_compute)",
    ]:
        assert name in text, text


def test_schema_mismatch_is_reported(tmp_path, good_dir):
    pq.write_table(pa.table({"id": ["x"], "text": ["y"]}), good_dir / "train-extra.parquet")
    report = validate_shards(good_dir)
    assert not report.success and "files: expect_column_values_to_be_in_set(schema_ok)" in report.summary()


def test_cli_exit_codes(good_dir, tmp_path, capsys):
    from validators.shards import main

    assert main([str(good_dir), "--out", str(tmp_path / "r1")]) == 0
    assert capsys.readouterr().out.startswith("shard suite PASSED")
    folder = _write(tmp_path / "bad", [[_row(1), _row(1, id="crop-000001")]])
    bad = subprocess.run(
        [sys.executable, "-m", "validators.shards", str(folder), "--out", str(tmp_path / "r2")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1, bad.stderr
    assert "expect_column_values_to_be_unique(id)" in bad.stdout and len(bad.stdout.splitlines()) <= 4
