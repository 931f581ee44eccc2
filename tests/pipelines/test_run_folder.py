"""The run folder's life on a local disk and on a real S3-compatible server: a killed run's staging folders
are cleared by the next run, and the launcher's finishing publishes every new file, each tree replaced whole,
with ``manifest.json`` (the commit marker) last and nothing when the finishing fails."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

from pipelines.run_folder import WITH_REPORT, finishing, stage_location
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


def test_a_mirrored_report_keeps_its_files_sends_only_what_changed_and_drops_what_went(out, monkeypatch):
    """The workers render a run's report images on the store; the launcher's report only names them, so
    finishing must neither send them again nor drop them with the old pages."""
    for name, data in (
        ("report/index.html", b"old"),
        ("report/images/a.png", b"a"),
        ("report/images/b.png", b"b"),
    ):
        storage.write_bytes(storage.join(out, name), data)
    published: list[str] = []
    real = storage.upload_file
    monkeypatch.setattr(storage, "upload_file", lambda local, at: (published.append(at), real(local, at)))
    with finishing(out, WITH_REPORT) as local:
        (local / "report" / "index.html").write_text("new")
        (local / "report" / "images" / "b.png").unlink()  # shown no more
        (local / "report" / "thumbs").mkdir()
        (local / "report" / "thumbs" / "c.jpg").write_bytes(b"c")
    assert storage.list_tree(storage.join(out, "report")) == ["images/a.png", "index.html", "thumbs/c.jpg"]
    assert storage.read_bytes(storage.join(out, "report", "index.html")) == b"new"
    assert storage.read_bytes(storage.join(out, "report", "images", "a.png")) == b"a"
    if storage.is_remote(out):
        assert sorted(p.rsplit("/report/", 1)[1] for p in published) == ["index.html", "thumbs/c.jpg"]


@pytest.mark.usefixtures("s3_endpoint")
def test_a_failed_finishing_publishes_nothing():
    out = f"s3://bucket/{uuid.uuid4().hex}/run"
    storage.write_bytes(storage.join(out, "data", "a.parquet"), b"shard")
    with pytest.raises(RuntimeError), finishing(out) as local:
        (local / "manifest.json").write_text("{}")
        raise RuntimeError("the shard suite crashed")
    assert storage.list_tree(out) == ["data/a.parquet"]


@pytest.mark.usefixtures("s3_endpoint")
def test_report_and_publish_commands_work_on_a_run_on_the_store(tmp_path):
    """``python -m pipelines.report`` and ``publish.py`` on a finished run on S3 write what they write
    locally, into the store, through the same local mirror as the build's own finishing."""
    from pipelines import build_sft
    from pipelines.publish import main as publish_main
    from pipelines.report.__main__ import main as report_main
    from runconfig.root import load_config

    root = Path(__file__).resolve().parents[2]
    out = f"s3://bucket/{uuid.uuid4().hex}"
    common = ["tasks.count=3", "sandbox.workers=1", "runner.kind=in_process", "run.publish=false"]
    cfg = load_config(root / "pipeline.yaml", [f"run.output_dir={out}", "run.report=false", *common])
    assert build_sft.run(cfg) == 0
    run = storage.join(out, "thyme-sft")
    before = {n: storage.read_bytes(storage.join(run, n)) for n in storage.list_tree(run)}
    assert not any(n.startswith(("report/", "hub/")) for n in before)
    assert report_main([run]) == 0
    assert publish_main([run]) == 0
    after = storage.list_tree(run)
    assert "report/index.html" in after and "hub/README.md" in after
    shards = [n for n in before if n.startswith("data/")]
    assert shards and all(storage.read_bytes(storage.join(run, "hub", n)) == before[n] for n in shards)
    for name, data in before.items():  # the run itself is left as it was
        assert storage.read_bytes(storage.join(run, name)) == data
    with pytest.raises(SystemExit):
        publish_main([run, "--out", "s3://bucket/elsewhere"])
