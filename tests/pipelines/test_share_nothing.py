"""Launcher and workers that share only the network (``share_nothing.py``: each external worker pool in its
own mount namespace with an empty /tmp and no view of the launcher's output folder), talking through a real
S3-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parent))
import share_nothing  # noqa: E402
from s3_server import s3_endpoint  # noqa: E402, F401 - the fixture

from runconfig import storage  # noqa: E402
from runconfig.root import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not share_nothing.available(), reason="needs root and unshare for mount namespaces"
)


def _aws_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


@pytest.mark.usefixtures("s3_endpoint")
def test_workers_share_only_the_network(tmp_path):
    import apache_beam as beam

    from pipelines.runner import pipeline_options

    def _observe(marker: str) -> str:
        """Runs on a worker (pickled by value: a nested function): what it sees, through the object store."""
        import os

        from runconfig import storage as worker_storage

        seen = {
            "launcher_file": os.path.exists(marker),
            "tmp": sorted(os.listdir("/tmp")),
            "pid": os.getpid(),
        }
        worker_storage.write_bytes("s3://bucket/observed/worker.json", json.dumps(seen).encode())
        return marker

    marker = tmp_path / "out" / "launcher-only"
    marker.parent.mkdir()
    marker.write_text("x")
    with share_nothing.share_nothing_runner([tmp_path], env=_aws_env()) as overrides:
        cfg = load_config(None, overrides)
        with beam.Pipeline(options=pipeline_options(cfg.runner)) as p:
            _ = p | beam.Create([str(marker)]) | beam.Map(_observe)
    seen = json.loads(storage.read_bytes("s3://bucket/observed/worker.json"))
    assert seen["launcher_file"] is False
    assert seen["tmp"] == [] or all(not name.startswith("pytest-of") for name in seen["tmp"])


@pytest.mark.parametrize("pipeline", ["build_sft", "build_rl"])
def test_a_local_output_dir_on_hosts_sharing_no_disk_stops_loudly(pipeline, tmp_path, capfd):
    """Workers that share no disk with the launcher write their records and shards where it never looks: the
    run must stop with one line saying so (it used to die on a missing staging file), never pass as empty."""
    import importlib

    module = importlib.import_module(f"pipelines.{pipeline}")
    with share_nothing.share_nothing_runner([tmp_path]) as overrides:
        cfg = load_config(
            ROOT / "pipeline.yaml",
            [f"run.output_dir={tmp_path / 'out'}", "tasks.count=3", "sandbox.workers=1", *overrides],
        )
        assert module.run(cfg) == 1
    err = capfd.readouterr().err
    assert f"{pipeline}: stopped: the runner finished but" in err and "cannot see" in err
    assert not list((tmp_path / "out").glob("*/data"))


def _run(pipeline: str, output_dir: str, extra: list[str]) -> int:
    import importlib

    module = importlib.import_module(f"pipelines.{pipeline}")
    cfg = load_config(ROOT / "pipeline.yaml", [f"run.output_dir={output_dir}", *SMALL[pipeline], *extra])
    return module.run(cfg)


# Small runs of both pipelines; build_sft publishes its Hub folder and writes its report, so every output of
# a run crosses the store.
SMALL = {
    "build_sft": ["tasks.count=5", "sandbox.workers=1", "run.publish=true", "run.work=keep"],
    "build_rl": ["tasks.count=6", "rl.name=thyme-rl"],
}
NAMES = {"build_sft": "thyme-sft", "build_rl": "thyme-rl"}


def _same_shards(local: Path, remote: str) -> dict:
    """The two runs' manifests list the same shards with the same hashes, and the bytes under both are equal;
    returns the remote run's stats."""
    mine, theirs = (
        json.loads((local / "manifest.json").read_text()),
        json.loads(storage.read_bytes(storage.join(remote, "manifest.json"))),
    )
    strip = [(s["path"].replace(str(local), ""), s["rows"], s["sha256"]) for s in mine["shards"]]
    assert strip == [(s["path"].replace(remote, ""), s["rows"], s["sha256"]) for s in theirs["shards"]]
    for sub in ("data", "dead_letter"):
        names = storage.list_tree(storage.join(remote, sub))
        assert names == storage.list_tree(str(local / sub)) and names
        for name in names:
            assert storage.read_bytes(storage.join(remote, sub, name)) == (local / sub / name).read_bytes()
    stats = json.loads(storage.read_bytes(storage.join(remote, "stats.json")))
    assert stats["holds"] is True
    return stats


@pytest.mark.usefixtures("s3_endpoint")
@pytest.mark.parametrize("pipeline", ["build_sft", "build_rl"])
def test_a_run_on_an_object_store_from_workers_sharing_no_disk_gives_the_local_bytes(
    pipeline, tmp_path, monkeypatch
):
    """Launcher and workers share only the network; the run on s3://bucket/... gives the shards, manifest
    hashes and counts of the same config run locally, every output lands in the store and nothing on the
    launcher's disk, and ``datasets`` reads the shards back from the store."""
    import uuid

    assert _run(pipeline, str(tmp_path / "local"), []) == 0
    local, bucket = tmp_path / "local" / NAMES[pipeline], f"s3://bucket/{uuid.uuid4().hex}"
    before = sorted(tmp_path.rglob("*"))
    with share_nothing.share_nothing_runner([tmp_path], env=_aws_env()) as overrides:
        assert _run(pipeline, bucket, overrides) == 0
    assert sorted(tmp_path.rglob("*")) == before  # nothing of the store run on the launcher's disk
    remote = storage.join(bucket, NAMES[pipeline])
    stats = _same_shards(local, remote)
    made = storage.list_tree(remote)
    assert "report/index.html" in made and not any(".staging" in name for name in made)
    pictures = ("report/images/", "report/thumbs/")  # rendered by the workers straight into the store
    local_pictures = [
        f"report/{n}" for n in storage.list_tree(str(local / "report")) if f"report/{n}".startswith(pictures)
    ]
    assert local_pictures and [n for n in made if n.startswith(pictures)] == local_pictures
    if pipeline == "build_sft":
        assert stats["shard_checks"]["passed"] and "shard_checks/result.json" in made
        assert [n for n in made if n.startswith("hub/data/")] == [
            f"hub/{n}" for n in made if n.startswith("data/")
        ]
        assert "hub/README.md" in made and any(n.startswith("work/accepted/") for n in made)
    datasets = pytest.importorskip("datasets", reason="datasets reads the store through s3fs")
    pytest.importorskip("s3fs", reason="datasets reads an object store through s3fs (dev extra)")
    # The suite runs with HF_HUB_OFFLINE=1 (nothing may come from the Hub), which makes datasets refuse every
    # remote URL, the S3 server on 127.0.0.1 included; lifted for these reads only.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    cache = str(tmp_path / "hf-cache")
    loaded = datasets.load_dataset(
        "parquet", data_files={"train": f"{remote}/data/train-*.parquet"}, split="train", cache_dir=cache
    )
    mirror = datasets.load_dataset(
        "parquet", data_files={"train": str(local / "data" / "*.parquet")}, split="train", cache_dir=cache
    )
    assert loaded.num_rows == stats["accepted"] > 0 and loaded["id"] == mirror["id"]
    assert loaded.features == mirror.features


@pytest.mark.usefixtures("s3_endpoint")
def test_a_killed_run_on_an_object_store_resumes_from_its_records(tmp_path):
    """kill -9 of the launcher mid-run (and of the cluster: job service and worker pools go too); a rerun on
    a fresh cluster reuses the records already in the store and gives the local run's bytes."""
    import signal
    import subprocess
    import time
    import uuid

    bucket = f"s3://bucket/{uuid.uuid4().hex}"
    count = ["tasks.count=8", "run.publish=false", "run.report=false"]
    assert _run("build_sft", str(tmp_path / "local"), count) == 0
    drafts = storage.join(bucket, "thyme-sft", "work", "trajectories")
    with share_nothing.share_nothing_runner([tmp_path], env=_aws_env()) as overrides:
        launcher = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "run",
                str(ROOT / "pipelines" / "build_sft.py"),
                "--config",
                str(ROOT / "pipeline.yaml"),
                f"run.output_dir={bucket}",
                *SMALL["build_sft"],
                *count,
                *overrides,
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 240
        while len(storage.list_tree(drafts)) < 2 and launcher.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(launcher.pid, signal.SIGKILL)
        launcher.wait()
    done_before = len(storage.list_tree(drafts))
    assert 2 <= done_before < 8, "the launcher was not caught mid-run"
    assert not storage.exists(storage.join(bucket, "thyme-sft", "manifest.json"))
    with share_nothing.share_nothing_runner([tmp_path], env=_aws_env()) as overrides:
        assert _run("build_sft", bucket, [*count, *overrides]) == 0
    stats = _same_shards(tmp_path / "local" / "thyme-sft", storage.join(bucket, "thyme-sft"))
    assert stats["progress"]["reused_trajectories"] >= done_before
    assert not any(".staging-" in n for n in storage.list_tree(storage.join(bucket, "thyme-sft")))
