"""The filesystem seam (``runconfig.storage``): locations a run cannot use are refused at config time with one
line and nothing written; the I/O functions read, list and atomically publish on a local disk and on a real
S3-compatible server (moto's server mode on 127.0.0.1: real HTTP, no client mocks)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import main as beam_main
from runconfig import storage
from runconfig.root import load_config
from runconfig.typed import ConfigError

sys.path.append(str(Path(__file__).resolve().parent))
from s3_server import s3_endpoint  # noqa: E402, F401 - the fixture

from synthesis.importers.common import read_row_group, read_rows, row_groups  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

TYPOS_AND_UNSUPPORTED = [
    ("s3:/bucket/run", "write s3://bucket/key"),
    ("s3:bucket/run", "write s3://bucket/key"),
    ("s3:///run", "write s3://bucket/key"),
    ("s3://", "names no bucket"),
    ("S3:/bucket/run", "write s3://bucket/key"),
    ("hdfs://namenode/run", "unsupported scheme 'hdfs://'"),
    ("az://container/run", "unsupported scheme 'az://'"),
    ("file:///tmp/run", "unsupported scheme 'file://'"),
    ("ftp://host/run", "unsupported scheme 'ftp://'"),
    # Well-formed, but not tested end to end here (no GCS server): refused, never written locally.
    ("gs://bucket/run", "not yet support end to end"),
    ("gcs://bucket/run", "not yet support end to end"),
]


@pytest.mark.parametrize(("location", "why"), TYPOS_AND_UNSUPPORTED)
def test_output_dir_that_is_not_usable_is_one_config_error(location, why):
    with pytest.raises(ConfigError) as err:
        load_config(None, [f"run.output_dir={location}"])
    message = str(err.value)
    assert "\n" not in message
    assert "run: output_dir" in message and repr(location) in message and why in message


@pytest.mark.parametrize(
    "key",
    [
        "sources.task_files=[s3:/b/tasks.parquet]",
        "sources.thyme_files=[hdfs://nn/thyme.parquet]",
        "sources.thyme_files=[gs://b/thyme.parquet]",
        "run.output_dir=gs://b/run",
        "validators.duplicates.reference=s3:/b/evals",
        "teacher.openai.cache_path=gs:/b/teacher.sqlite",
    ],
)
def test_every_path_key_is_checked(key):
    name = key.split("=", 1)[0].rsplit(".", 1)[-1]
    with pytest.raises(ConfigError, match=name):
        load_config(None, [key])


def test_local_paths_and_s3_sources_load():
    cfg = load_config(None, ["run.output_dir=out/x:y", "sources.task_files=[/abs/t.jsonl, s3://b/t.parquet]"])
    assert cfg.run.output_dir == "out/x:y" and cfg.sources.task_files == ["/abs/t.jsonl", "s3://b/t.parquet"]


def test_beam_run_on_a_store_uri_writes_nothing_locally(tmp_path, monkeypatch, capsys):
    """The bug of issue #18: ``run.output_dir=s3://bucket/run`` ran to the end and wrote a folder ``s3:``."""
    monkeypatch.chdir(tmp_path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pipeline = os.path.join(root, "pipelines", "build_sft.py")
    for location in ("gs://bucket/run", "s3:/bucket/run"):
        assert beam_main(["run", pipeline, f"run.output_dir={location}", "tasks.count=2"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("beam: config error:") and err.count("\n") == 1
    assert beam_main(["replay", "s3:/bucket/run/thyme-sft"]) == 2
    assert "OUTPUT_DIR 's3:/bucket/run/thyme-sft'" in capsys.readouterr().err
    assert beam_main(["replay", "s3://bucket/run/thyme-sft"]) == 2
    assert "replay merges into a local run folder only" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_scheme_and_join():
    assert storage.scheme("out/x:y") == "" and storage.scheme("./s3:x") == ""
    assert storage.join("s3://b/run", "data", "t.parquet") == "s3://b/run/data/t.parquet"


# --- I/O on a local disk and on a real S3-compatible server ---------------------------------------------


def test_local_publish_is_atomic(tmp_path):
    target = str(tmp_path / "sub" / "manifest.json")
    storage.write_bytes(target, b"one")
    with pytest.raises(RuntimeError), storage.open_for_publish(target) as stream:
        stream.write(b"half")
        raise RuntimeError("killed mid-write")
    assert storage.read_bytes(target) == b"one"
    assert storage.list_files(str(tmp_path / "sub")) == [target]


@pytest.mark.usefixtures("s3_endpoint")
def test_s3_round_trip():
    base = "s3://bucket/run"
    assert storage.list_files(base) == [] and not storage.exists(f"{base}/a.json")
    storage.write_bytes(f"{base}/a.json", b"{}")
    storage.write_bytes(f"{base}/b.parquet", b"PAR1")
    assert storage.exists(f"{base}/a.json") and storage.read_bytes(f"{base}/a.json") == b"{}"
    assert storage.list_files(base) == [f"{base}/a.json", f"{base}/b.parquet"]
    assert storage.list_files(base + "/", ".parquet") == [f"{base}/b.parquet"]
    storage.delete(f"{base}/a.json")
    storage.delete(f"{base}/never-written")
    assert storage.list_files(base) == [f"{base}/b.parquet"]


@pytest.mark.usefixtures("s3_endpoint")
def test_s3_failed_write_publishes_nothing():
    """A raw upload stream closed by an exception still publishes its partial object (measured with
    pyarrow 25); through the seam the final key keeps its old content and no temporary key is left."""
    from pyarrow import fs as pafs

    target = "s3://bucket/atomic/manifest.json"
    storage.write_bytes(target, b"complete")
    with pytest.raises(RuntimeError), storage.open_for_publish(target) as stream:
        stream.write(b"partial")
        raise RuntimeError("killed mid-write")
    assert storage.read_bytes(target) == b"complete"
    store, path = storage.filesystem("s3://bucket/atomic")
    left = store.get_file_info(pafs.FileSelector(path, recursive=True))
    assert [i.base_name for i in left] == ["manifest.json"]
    with pytest.raises(RuntimeError), storage.open_for_publish("s3://bucket/atomic/new.json") as stream:
        stream.write(b"partial")
        raise RuntimeError("killed mid-write")
    assert not storage.exists("s3://bucket/atomic/new.json")


def test_filesystem_refuses_malformed_uris():
    with pytest.raises(ValueError, match="write s3://bucket/key"):
        storage.filesystem("s3:/bucket/key")


@pytest.mark.usefixtures("s3_endpoint")
def test_source_readers_on_s3(tmp_path):
    """JSONL, JSON-array and Parquet sources read from the store row for row as from a local copy."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"question": f"q{i}", "answer": str(i)} for i in range(5)]
    local = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pylist(rows), local, row_group_size=2)
    texts = {
        "t.jsonl": "\r\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n",
        "t.json": json.dumps(rows),
    }
    storage.write_bytes("s3://bucket/in/t.parquet", local.read_bytes())
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        storage.write_bytes(f"s3://bucket/in/{name}", text.encode())
    for name in ("t.parquet", *texts):
        remote = f"s3://bucket/in/{name}"
        assert list(read_rows(remote)) == list(read_rows(tmp_path / name))
        groups = row_groups(remote)
        assert [(g.group, g.first, g.rows) for g in groups] == [
            (g.group, g.first, g.rows) for g in row_groups(tmp_path / name)
        ]
        assert [r for g in groups for r in read_row_group(g)] == [
            r for g in row_groups(tmp_path / name) for r in read_row_group(g)
        ]


def _sha256s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


@pytest.mark.usefixtures("s3_endpoint")
def test_thyme_files_on_s3_give_the_shards_of_local_files(tmp_path):
    """build_sft reading its released-format source from the object store writes the shards, byte for byte,
    that it writes from a local copy of the same file (and the manifests hold the same data hashes)."""
    sys.path.append(str(ROOT / "tests"))
    from thyme_corpus import write_corpus

    source = next(f for f in write_corpus(tmp_path / "corpus") if f.name.startswith("computation"))
    remote = f"s3://bucket/corpus/{source.name}"
    storage.write_bytes(remote, source.read_bytes())
    runs = {}
    for kind, location in (("local", str(source)), ("s3", remote)):
        out = tmp_path / kind
        cmd = [
            str(Path(sys.executable).with_name("beam")),
            "run",
            "pipelines/build_sft.py",
            "--config",
            "pipeline.yaml",
            f"run.output_dir={out}",
            "runner.kind=in_process",
            "run.report=false",
            "sources.generated=false",
            f"sources.thyme_files=[{location}]",
        ]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[kind] = out / "thyme-sft"
    local, s3 = runs["local"], runs["s3"]
    assert _sha256s(local / "data") == _sha256s(s3 / "data") and _sha256s(local / "data")
    manifests = [json.loads((run / "manifest.json").read_text()) for run in (local, s3)]
    data = [
        [(Path(s["path"]).name, s["rows"], s["sha256"]) for s in m["shards"] if "/data/" in s["path"]]
        for m in manifests
    ]
    assert data[0] == data[1] and data[0]
    stats = [json.loads((run / "stats.json").read_text()) for run in (local, s3)]
    assert stats[0]["holds"] and stats[1]["holds"]
    assert stats[0]["records_in"] == stats[1]["records_in"] == 16
    assert stats[0]["counts"] == stats[1]["counts"]


@pytest.mark.usefixtures("s3_endpoint")
def test_worker_check_probes_the_store():
    """``scripts/worker_check.py --store``: the worker can write, read and delete under the run's prefix, with
    credentials from the standard variables only."""
    done = subprocess.run(
        [sys.executable, "scripts/worker_check.py", "--store", "s3://bucket/probe"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0 and summary["store"]["ok"], done.stdout
    assert storage.list_files("s3://bucket/probe") == []


@pytest.mark.usefixtures("s3_endpoint")
def test_shard_writer_on_s3_writes_the_bytes_it_writes_locally(tmp_path):
    """``WriteShards`` (staged rows, balanced shards, the empty-split shard) into the store: the same bytes
    and shard descriptions as into a local folder, and no staged row or temporary key left behind."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from pyarrow import fs as pafs

    sys.path.append(str(Path(__file__).resolve().parent))
    from test_shards import _rows

    from pipelines.shards import WriteShards
    from synthesis.records import RL_SCHEMA

    def run(folder: str, rows: list) -> list:
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
            infos = p | beam.Create(rows, reshuffle=False) | WriteShards(folder, "train", RL_SCHEMA, 4)
            _ = infos | beam.Map(lambda i, out=str(tmp_path / "infos.jsonl"): _append(out, i))
        lines = (tmp_path / "infos.jsonl").read_text().splitlines()
        (tmp_path / "infos.jsonl").unlink()
        return sorted(json.loads(line) for line in lines)

    for rows in (_rows(10)[::-1], []):
        local, remote = str(tmp_path / f"local{len(rows)}" / "data"), f"s3://bucket/shards{len(rows)}/data"
        local_infos, remote_infos = run(local, rows), run(remote, rows)
        names = [Path(i[0]).name for i in local_infos]
        assert names == [i[0].rsplit("/", 1)[1] for i in remote_infos] and names
        assert [i[1:] for i in local_infos] == [i[1:] for i in remote_infos]
        for name in names:
            assert storage.read_bytes(f"{remote}/{name}") == (Path(local) / name).read_bytes()
        store, path = storage.filesystem(f"s3://bucket/shards{len(rows)}")
        keys = [i.path for i in store.get_file_info(pafs.FileSelector(path, recursive=True)) if i.size]
        assert sorted(k.rsplit("/", 1)[1] for k in keys) == names


def _append(out: str, info) -> None:
    with open(out, "a") as handle:
        handle.write(json.dumps([info.path, info.rows, info.sha256]) + "\n")


@pytest.mark.usefixtures("s3_endpoint")
def test_request_cache_on_an_object_store_is_shared_by_processes_that_share_no_memory():
    from synthesis.endpoint.cache import CachedReply, ObjectStoreCache, open_cache

    first = open_cache("s3://bucket/cache-unit")
    assert isinstance(first, ObjectStoreCache) and first.get("ab" * 32) is None
    reply = CachedReply(text="x \ud800 y", finish_reason="stop", prompt_tokens=3, completion_tokens=2)
    first.put("ab" * 32, reply)
    first.put("ab" * 32, reply)  # a racing worker writes the same reply again: still one object
    second = ObjectStoreCache("s3://bucket/cache-unit/")  # another worker: nothing in its memory
    assert second.get("ab" * 32) == reply and (second.hits, second.misses) == (1, 0)
    assert len(second) == 1 and (first.hits, first.misses) == (0, 1)
    assert storage.list_files("s3://bucket/cache-unit/ab") == [
        "s3://bucket/cache-unit/ab/" + "ab" * 32 + ".json"
    ]


@pytest.mark.usefixtures("s3_endpoint")
def test_a_dedupe_reference_set_on_s3_indexes_what_the_local_one_does(tmp_path):
    import io

    import pyarrow.parquet as pq
    from PIL import Image

    from synthesis.records import SFT_SCHEMA, SftRecord, to_table
    from validators.duplicates import DuplicateIndex

    def record(rid: str, shade: int) -> SftRecord:
        pixels = Image.new("RGB", (64, 64), (shade, 255 - shade, 90))
        pixels.paste((255, 255, 255), (shade % 40, 10, shade % 40 + 20, 40))
        buffer = io.BytesIO()
        pixels.save(buffer, "PNG")
        return SftRecord(
            id=rid,
            images=(buffer.getvalue(),),
            question=f"what is in box {shade}?",
            image_size=(64, 64),
            response="r",
            answer="1",
            answer_type="number",
            family="crop",
        )

    folder = tmp_path / "evals" / "data"
    folder.mkdir(parents=True)
    pq.write_table(to_table([record("a", 10).to_row()], SFT_SCHEMA), folder / "train-00000-of-00002.parquet")
    pq.write_table(to_table([record("b", 200).to_row()], SFT_SCHEMA), folder / "train-00001-of-00002.parquet")
    assert storage.upload_tree(tmp_path / "evals", "s3://bucket/evals") == [
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
    ]
    remote, local = DuplicateIndex.from_parquet("s3://bucket/evals"), DuplicateIndex.from_parquet(folder)
    assert len(remote) == len(local) == 2
    for probe in (record("x", 10), record("y", 200), record("z", 120)):
        assert remote.seen(probe) == local.seen(probe)
    assert remote.seen(record("x", 10)).reason == "duplicates_exact"
    cfg = load_config(None, ["validators.duplicates.reference=s3://bucket/evals"])
    assert cfg.validators.duplicates.reference == "s3://bucket/evals"
