"""The model teacher through build_sft keeps ``concurrency`` rollouts in flight: the server sees that many
requests at once and throughput near the ideal; every task leaves once; shards do not depend on the order in
which rollouts finish; a refusal mid-run stops the run at once."""

import importlib.util
import io
import json
import random
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines import build_sft
from runconfig.root import load_config
from synthesis.records import DeadLetter, SftRecord

ROOT = Path(__file__).resolve().parents[2]
LATENCY = 0.2
CONCURRENCY = 8


def _scripted_teacher():
    spec = importlib.util.spec_from_file_location(
        "scripted_server", ROOT / "tests" / "synthesis" / "scripted_server.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedTeacher


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (32, 32), random.Random(seed).randbytes(32 * 32 * 3)).save(buf, format="PNG")
    return buf.getvalue()


def _tasks(path: Path, rows: list[tuple[str, str]]) -> Path:
    """(question, answer) rows as a Parquet task file of small row groups (ids t0000, t0001, ...)."""
    table = pa.Table.from_pylist(
        [
            {"id": f"t{i:04d}", "image": _png(i), "question": q, "answer": a, "answer_type": "number"}
            for i, (q, a) in enumerate(rows)
        ]
    )
    pq.write_table(table, path, row_group_size=8)
    return path


def _sums(count: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"What is {i} + 5? [calc:{i} + 5]", str(i + 5)) for i in range(start, start + count)]


def _config(out: Path, tasks: Path, server, *more: str):
    return load_config(
        ROOT / "pipeline.yaml",
        [
            f"run.output_dir={out}",
            "run.publish=false",
            "run.rows_per_shard=16",
            "runner.kind=in_process",
            "sandbox.workers=1",
            "sources.generated=false",
            f"sources.task_files=[{tasks}]",
            "teacher.kind=openai",
            f"teacher.openai.base_url={server.base_url}",
            "teacher.openai.model=scripted-teacher",
            "teacher.openai.max_retries=1",
            "teacher.openai.backoff_base_s=0.01",
            f"teacher.openai.cache_path={out / 'cache.sqlite'}",
            *more,
        ],
    )


def _outcome(out: Path) -> tuple[dict, list[str], list[DeadLetter]]:
    stats = json.loads((out / "stats.json").read_text())
    accepted = [
        SftRecord.from_row(r).id
        for f in sorted((out / "data").glob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]
    dead = [
        DeadLetter.from_row(r)
        for f in sorted((out / "dead_letter").glob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]
    return stats, accepted, dead


def _shards(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("*/*.parquet"))}


def test_the_endpoint_sees_concurrency_requests_in_flight_and_near_ideal_throughput(tmp_path):
    count = 160  # 8 s at the ideal rate: long enough that the ramps at both ends stay small
    tasks = _tasks(tmp_path / "tasks.parquet", _sums(count))
    with _scripted_teacher()(latency_s=LATENCY) as server:
        cfg = _config(tmp_path / "out", tasks, server, f"teacher.openai.concurrency={CONCURRENCY}")
        assert build_sft.run(cfg) == 0
        report = server.in_flight.report()
    stats, accepted, dead = _outcome(tmp_path / "out" / "thyme-sft")
    assert (
        stats["holds"]
        and stats["records_in"] == count
        and sorted(accepted) == sorted(f"t{i:04d}" for i in range(count))
    )
    per_record = report["requests"] / count
    ideal = CONCURRENCY / (LATENCY * per_record)  # one worker: records/s with CONCURRENCY always in flight
    ratio = count / report["window_s"] / ideal
    print(f"\nteacher at concurrency {CONCURRENCY}, {LATENCY} s: ratio {ratio:.2f} of ideal, server {report}")
    assert per_record == 2 and report["peak"] == CONCURRENCY  # reached, and never more
    # One process holds the server, the runner, the rollouts and one sandbox worker that also re-runs every
    # block for the checks: at 20 records/s that sandbox is nearly busy; the margins allow for a loaded box.
    assert report["zero_fraction"] < 0.05 and report["mean"] >= 0.7 * CONCURRENCY
    assert ratio >= 0.7, report


def test_every_task_leaves_once_and_shards_do_not_depend_on_completion_order(tmp_path, monkeypatch):
    """Two runs whose rollouts finish in different orders (another concurrency, random latency, no shared
    cache) write byte-identical shards; right, wrong, junk, failing and raising tasks each leave once."""
    import pipelines.teaching as teaching

    rows = _sums(30)
    rows += [(f"What is {i} + 5? [calc:{i} + 6]", str(i + 5)) for i in range(3)]  # the teacher is wrong
    rows += [(f"Say something, {i}. [junk]", "1") for i in range(3)]  # no protocol tags at all
    rows += [(f"What is {i} + 1? [fault:500] [calc:{i} + 1]", str(i + 1)) for i in range(3)]  # server errors
    rows += _sums(3, start=100)  # the first of these raises while its trajectory is stored
    tasks = _tasks(tmp_path / "tasks.parquet", rows)
    raising = f"t{len(rows) - 3:04d}"
    store_record = teaching.record_from_rollout

    def record_from_rollout(task, rollout, provenance):
        if task.id == raising:
            raise ValueError("storing failed for this one task")
        return store_record(task, rollout, provenance)

    monkeypatch.setattr(teaching, "record_from_rollout", record_from_rollout)
    outs = []
    for name, concurrency in (("a", 8), ("b", 3)):
        with _scripted_teacher()(latency_s=0.02, jitter_s=0.15) as server:
            cfg = _config(tmp_path / name, tasks, server, f"teacher.openai.concurrency={concurrency}")
            assert build_sft.run(cfg) == 0  # every task accounted for: 32 accepted, 10 dead-lettered
        outs.append(tmp_path / name / "thyme-sft")
    assert _shards(outs[0]) == _shards(outs[1])
    stats, accepted, dead = _outcome(outs[0])
    ids = [letter.id for letter in dead] + accepted
    assert sorted(ids) == [f"t{i:04d}" for i in range(len(rows))]  # each task exactly once
    reasons = Counter((letter.stage, letter.reason) for letter in dead)
    assert reasons == Counter(
        {
            ("validate", "answer_mismatch"): 3,
            ("teacher", "teacher_degenerate"): 3,
            ("teacher", "teacher_backend_error"): 3,
            ("teacher", "exception_ValueError"): 1,
        }
    )
    [letter] = [d for d in dead if d.reason == "exception_ValueError"]
    assert letter.id == raising and "storing failed for this one task" in letter.detail
    assert stats["records_in"] == len(rows) and stats["accepted"] == 32


def test_a_refusal_mid_run_stops_it_at_once_without_starting_queued_rollouts(tmp_path, capfd):
    """The preflight passes, then every request gets the same 400: after ``fatal_after`` of them the run stops
    with one line; rollouts still queued in the pool never send a request."""
    count = 200
    tasks = _tasks(tmp_path / "tasks.parquet", [(f"q{i} [fault:400]", "1") for i in range(count)])
    with _scripted_teacher()(latency_s=0.05) as server:
        started = time.monotonic()
        cfg = _config(tmp_path / "out", tasks, server, f"teacher.openai.concurrency={CONCURRENCY}")
        assert build_sft.run(cfg) == 3
        elapsed, sent = time.monotonic() - started, server.requests
    lines = [line for line in capfd.readouterr().err.splitlines() if "build_sft: stopped" in line]
    assert len(lines) == 1 and "every request is refused by" in lines[0], lines
    assert sent <= CONCURRENCY + 3 and elapsed < 30, (sent, elapsed)
    assert not (tmp_path / "out" / "thyme-sft" / "data").exists()


@pytest.mark.parametrize("concurrency", [1, 4])
def test_small_concurrency_still_accounts_for_every_task(tmp_path, concurrency):
    tasks = _tasks(tmp_path / "tasks.parquet", _sums(12))
    with _scripted_teacher()() as server:
        cfg = _config(tmp_path / "out", tasks, server, f"teacher.openai.concurrency={concurrency}")
        assert build_sft.run(cfg) == 0
        report = server.in_flight.report()
    stats, accepted, _ = _outcome(tmp_path / "out" / "thyme-sft")
    assert stats["holds"] and len(accepted) == 12 and report["peak"] <= concurrency
