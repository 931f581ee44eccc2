"""The run folder's life on a local disk and on a real S3-compatible server: a killed run's staging folders
are cleared by the next run, and the launcher's finishing publishes every new file, each tree replaced whole,
with ``manifest.json`` (the commit marker) last and nothing when the finishing fails."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from pipelines.run_folder import finishing, stage_location
from runconfig import storage

sys.path.append(str(Path(__file__).resolve().parent))
from s3_server import s3_endpoint  # noqa: E402, F401 - the fixture


@pytest.fixture(params=["local", "s3"])
def out(request, tmp_path) -> str:
    if request.param == "local":
        return str(tmp_path / "run")
    request.getfixturevalue("s3_endpoint")
    return f"s3://bucket/{uuid.uuid4().hex}/run"


def test_a_new_stage_clears_what_killed_runs_left(out):
    for stale in (".staging-100/data/a.parquet", ".staging-replay-7/shards.json", "data/keep.parquet"):
        storage.write_bytes(storage.join(out, stale), b"x")
    stage = stage_location(out)
    assert storage.list_tree(out) == ["data/keep.parquet"]
    assert storage.split(stage)[1].startswith(".staging-") and stage.startswith(out)


def test_finishing_publishes_new_files_and_the_manifest_last(out, monkeypatch):
    storage.write_bytes(storage.join(out, "data", "train-00000-of-00001.parquet"), b"shard")
    storage.write_bytes(storage.join(out, "report", "old.html"), b"old report")
    published: list[str] = []
    real = storage.upload_file
    monkeypatch.setattr(storage, "upload_file", lambda local, at: (published.append(at), real(local, at)))
    with finishing(out) as local:
        assert (local / "data" / "train-00000-of-00001.parquet").read_bytes() == b"shard"
        (local / "report").mkdir(exist_ok=True)
        (local / "report" / "index.html").write_text("new")
        (local / "manifest.json").write_text("{}")
        (local / "hub" / "data").mkdir(parents=True)
        (local / "hub" / "data" / "train-00000-of-00001.parquet").write_bytes(b"shard")
    names = storage.list_tree(out)
    assert "report/old.html" not in names or not storage.is_remote(out)  # a local run writes in place
    assert {"report/index.html", "manifest.json", "hub/data/train-00000-of-00001.parquet"} <= set(names)
    assert storage.read_bytes(storage.join(out, "hub", "data", "train-00000-of-00001.parquet")) == b"shard"
    if storage.is_remote(out):
        assert published[-1].endswith("/manifest.json")
        assert not any("/hub/data/" in p for p in published)  # copied on the server, not uploaded again


@pytest.mark.usefixtures("s3_endpoint")
def test_a_failed_finishing_publishes_nothing():
    out = f"s3://bucket/{uuid.uuid4().hex}/run"
    storage.write_bytes(storage.join(out, "data", "a.parquet"), b"shard")
    with pytest.raises(RuntimeError), finishing(out) as local:
        (local / "manifest.json").write_text("{}")
        raise RuntimeError("the shard suite crashed")
    assert storage.list_tree(out) == ["data/a.parquet"]
