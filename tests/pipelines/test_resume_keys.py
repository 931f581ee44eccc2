"""Resume is keyed by what each record depends on: an edited input row is recomputed, and only it; run knobs
that change no record (endpoint URL, concurrency, timeouts, cache location) reuse everything."""

import base64
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from pipelines import build_sft
from pipelines.record_store import RecordStore
from runconfig.root import load_config
from synthesis.records import SftRecord

ROOT = Path(__file__).resolve().parents[2]


def _scripted_server():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "scripted_server", ROOT / "tests" / "synthesis" / "scripted_server.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedTeacher


def _tasks(path: Path, sums: list[tuple[int, int]]) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 200, 200)).save(buf, format="PNG")
    image = base64.b64encode(buf.getvalue()).decode()
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"sum-{i}",
                    "image": image,
                    "question": f"What is {a} + {b}? [calc:{a} + {b}]",
                    "answer": str(a + b),
                    "answer_type": "number",
                }
            )
            + "\n"
            for i, (a, b) in enumerate(sums)
        )
    )


def _answers(out: Path) -> dict[str, str]:
    rows = [r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    return {r["id"]: r["answer"] for r in rows}


def test_store_reuses_a_record_only_under_its_key(tmp_path):
    store = RecordStore(tmp_path)
    record = SftRecord(
        id="a",
        images=(b"",),
        question="q",
        image_size=(1, 1),
        response="r",
        answer="1",
        answer_type="number",
        family="user",
    )
    store.put(record, "k1")
    assert store.has("a", "k1") and not store.has("a", "k2") and not store.has("b", "k1")
    assert store.get("a") == record and b"thyme_work_key" not in (store.table("a").schema.metadata or {})


def test_edited_row_is_recomputed_and_run_knobs_reuse_everything(tmp_path, monkeypatch):
    tasks = tmp_path / "tasks.jsonl"
    _tasks(tasks, [(20, 22), (1, 2), (3, 4), (5, 6), (7, 8)])
    monkeypatch.setenv("SCRIPTED_KEY", "sk-test")
    Teacher = _scripted_server()
    out = tmp_path / "out"

    def config(server, *more):
        return load_config(
            ROOT / "pipeline.yaml",
            [
                f"run.output_dir={out}",
                "runner.kind=in_process",
                "sandbox.workers=1",
                "sources.generated=false",
                f"sources.task_files=[{tasks}]",
                "teacher.kind=openai",
                f"teacher.openai.base_url={server.base_url}",
                "teacher.openai.model=scripted-teacher",
                "teacher.openai.api_key_env=SCRIPTED_KEY",
                "run.work=keep",  # the reruns read back what the first run stored
                *more,
            ],
        )

    with Teacher() as first, Teacher() as second:
        assert build_sft.run(config(first, f"teacher.openai.cache_path={tmp_path / 'a.sqlite'}")) == 0
        assert first.requests >= 10 and _answers(out / "thyme-sft")["sum-1"] == "3"
        # Another endpoint, concurrency, timeout and an empty request cache: no record changes, no request
        # is sent.
        knobs = (
            f"teacher.openai.cache_path={tmp_path / 'b.sqlite'}",
            "teacher.openai.concurrency=3",
            "teacher.openai.timeout_s=30",
            "teacher.openai.max_retries=2",
        )
        assert build_sft.run(config(second, *knobs)) == 0
        assert second.requests == 0
        # One row edited under the same id: exactly that record is recomputed.
        _tasks(tasks, [(20, 22), (10, 20), (3, 4), (5, 6), (7, 8)])
        assert build_sft.run(config(second, *knobs)) == 0
        assert second.requests >= 2
        assert all("10 + 20" in json.dumps(body) for body in second.bodies)
        assert _answers(out / "thyme-sft") == {
            "sum-0": "42",
            "sum-1": "30",
            "sum-2": "7",
            "sum-3": "11",
            "sum-4": "15",
        }
        # A change of what a record depends on (the model's sampling) recomputes every record.
        before = second.requests
        assert build_sft.run(config(second, *knobs, "teacher.agent.max_calls=4")) == 0
        assert second.requests - before >= 8  # sum-1 alone is in this request cache
