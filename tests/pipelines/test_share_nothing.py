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
