"""An outside teacher through build_sft over real HTTP: fix-up-dependent trajectories kept by the fix-up
policy, wrong ones rejected for the right reason, a bad key stopping the run at once, and a rerun sending
nothing."""

import base64
import importlib.util
import io
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines import build_sft
from runconfig.root import load_config
from synthesis.records import DeadLetter, SftRecord

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-right"


def _scripted(name: str):
    spec = importlib.util.spec_from_file_location(
        "scripted_server", ROOT / "tests" / "synthesis" / "scripted_server.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _teacher_class():
    return _scripted("ScriptedTeacher")


def _kinds(i: int) -> tuple[str, str, str, bool]:
    """(question, truth, answer_type, right): six kinds of task, two of which need Thyme's fix-ups."""
    a, b = 3 + i % 17, 5 + i % 11
    return [
        (f"What is {a} + {b}? [calc:{a} + {b}]", str(a + b), "number", True),
        (f"What is {a} / {b}, to 2 decimals? [calc2f:{a} / {b}]", f"{a / b:.2f}", "number", True),
        (f"What does the corner of picture {i} show? [cropsmall]", "cropped", "text", True),
        (f"What does the top-left quarter of picture {i} show? [crop]", "cropped", "text", True),
        (f"What is {a} + {b}? [calc:{a} + {b} + 1]", str(a + b), "number", False),  # the teacher is wrong
        (f"Say something about picture {i}. [junk]", "x", "text", False),
    ][i % 6]


def _task_file(path: Path, count: int) -> Path:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((400, 300)).convert("RGB").save(buf, format="PNG")
    image = base64.b64encode(buf.getvalue()).decode()
    rows = []
    for i in range(count):
        question, truth, kind, _ = _kinds(i)
        rows.append(
            json.dumps(
                {
                    "id": f"t{i:04d}",
                    "image": image,
                    "question": question,
                    "answer": truth,
                    "answer_type": kind,
                }
            )
        )
    path.write_text("\n".join(rows) + "\n")
    return path


def _config(out: Path, tasks: Path, server, *more: str):
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
            "teacher.openai.api_key_env=TEACHER_KEY",
            "teacher.openai.max_retries=1",
            "teacher.openai.backoff_base_s=0.01",
            f"teacher.openai.cache_path={out / 'cache.sqlite'}",
            *more,
        ],
    )


def _outcome(out: Path) -> tuple[dict, Counter, list[SftRecord]]:
    stats = json.loads((out / "stats.json").read_text())
    dead = Counter(
        DeadLetter.from_row(r).reason
        for f in sorted((out / "dead_letter").glob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    )
    records = [
        SftRecord.from_row(r)
        for f in sorted((out / "data").glob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]
    return stats, dead, records


def run_teacher(tmp_path: Path, count: int, policy: str):
    tasks = _task_file(tmp_path / "tasks.jsonl", count)
    with _teacher_class()(api_key=KEY) as server:
        cfg = _config(tmp_path / policy, tasks, server, f"validators.execution.fixups={policy}")
        assert build_sft.run(cfg) == 0
        first, outcome = server.requests, _outcome(tmp_path / policy / "thyme-sft")
        assert (
            build_sft.run(_config(tmp_path / policy, tasks, server, f"validators.execution.fixups={policy}"))
            == 0
        )
        rerun = server.requests - first
    return outcome, rerun


@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", KEY)


@pytest.mark.parametrize("count", [24, pytest.param(200, marks=pytest.mark.slow)])
def test_every_right_trajectory_is_accepted_and_a_rerun_sends_nothing(tmp_path, count):
    (stats, dead, records), rerun = run_teacher(tmp_path, count, "rewrite")
    right = sum(_kinds(i)[3] for i in range(count))
    assert stats["holds"] and stats["records_in"] == count and stats["accepted"] == right
    assert dead == Counter(
        {"answer_mismatch": count // 6 + (count % 6 > 4), "teacher_degenerate": count // 6}
    )
    rewritten = Counter(f for r in records for e in r.executions for f in e.fixes_rewritten)
    assert rewritten["fix_crop_clamp"] >= count // 6 and rewritten["fix_precision"] >= count // 6
    assert all(e.fixes == () for r in records for e in r.executions)  # every kept block runs as written
    assert stats["teacher"]["requests"] > 0 and stats["teacher"]["failures"] == {}
    assert rerun == 0
    print(
        f"\n{count} tasks, rewrite: accepted {stats['accepted']}, dead {dict(dead)}, "
        f"rewritten {dict(rewritten)}, teacher {stats['teacher']}"
    )


def test_reject_policy_loses_the_fixup_records(tmp_path):
    (stats, dead, _), _ = run_teacher(tmp_path, 12, "reject")
    assert dead["exec_fixups_applied"] == 4 and stats["accepted"] == 4


@pytest.mark.parametrize("problem", ["key", "model", "refused", "400"])
def test_a_teacher_that_refuses_the_run_stops_it_at_once(tmp_path, problem, capfd):
    """Caught by the launcher's free GET /models (key, model, nothing listening) or, for a request shape the
    server refuses, by the workers' first request: either way one line, exit 3, no shard."""
    tasks = _task_file(tmp_path / "tasks.jsonl", 40)
    with _teacher_class()(
        api_key=KEY, strict_model=True, always="400" if problem == "400" else None
    ) as server:
        more = {
            "key": [],
            "model": ["teacher.openai.model=no-such-model"],
            "400": [],
            "refused": ["teacher.openai.base_url=http://127.0.0.1:9/v1"],
        }[problem]
        if problem == "key":
            import os

            os.environ["TEACHER_KEY"] = "sk-wrong"
        started = time.monotonic()
        assert build_sft.run(_config(tmp_path / "out", tasks, server, *more)) == 3
        elapsed = time.monotonic() - started
        received = server.received
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "build_sft: stopped" in line]
    expected = {
        "key": "authentication failed for",
        "model": "model 'no-such-model' not found",
        "refused": "cannot connect to http://127.0.0.1:9/v1",
        "400": "every request is refused by",
    }[problem]
    assert len(lines) == 1 and expected in lines[0], err[-2000:]
    assert elapsed < 10 and received <= 4
    assert not (tmp_path / "out" / "thyme-sft" / "data").exists()
    assert not list((tmp_path / "out" / "thyme-sft").glob(".staging-*"))


def test_bad_key_through_the_beam_command_on_worker_processes(tmp_path):
    tasks = _task_file(tmp_path / "tasks.jsonl", 40)
    with _teacher_class()(api_key=KEY) as server:
        cmd = [
            str(Path(sys.executable).with_name("beam")),
            "run",
            "pipelines/build_sft.py",
            "--config",
            "pipeline.yaml",
            f"run.output_dir={tmp_path / 'out'}",
            "sources.generated=false",
            f"sources.task_files=[{tasks}]",
            "teacher.kind=openai",
            f"teacher.openai.base_url={server.base_url}",
            "teacher.openai.model=scripted-teacher",
            "teacher.openai.api_key_env=TEACHER_KEY",
            f"teacher.openai.cache_path={tmp_path / 'c.sqlite'}",
            "runner.kind=multi_process",
            "runner.workers=2",
            "sandbox.workers=1",
        ]
        started = time.monotonic()
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env={**__import__("os").environ, "TEACHER_KEY": "sk-wrong"},
        )
        elapsed = time.monotonic() - started
        received = server.received
    stopped = [line for line in done.stderr.splitlines() if "build_sft: stopped" in line]
    assert (
        done.returncode == 3
        and len(stopped) == 1
        and "authentication failed for " + server.base_url in stopped[0]
    )
    assert received <= 4 and elapsed < 10, (received, elapsed)
    print(
        f"\nbad key, multi_process, beam run: exit {done.returncode} in {elapsed:.1f} s, {received} requests"
    )


def test_validators_use_judge_asks_the_judge_endpoint(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((200, 150)).convert("RGB").save(buf, format="PNG")
    image = base64.b64encode(buf.getvalue()).decode()
    tasks.write_text(
        json.dumps(
            {
                "id": "w",
                "image": image,
                "question": "How many? Answer in words. [calc:40 + 2]",
                "answer": "forty-two",
                "answer_type": "text",
            }
        )
        + "\n"
    )
    with _teacher_class()(api_key=KEY) as server, _scripted("ScriptedJudge")() as judge:
        plain = _config(tmp_path / "plain", tasks, server)
        assert build_sft.run(plain) == 1  # nothing accepted
        assert _outcome(tmp_path / "plain" / "thyme-sft")[1] == Counter(
            {"answer_mismatch": 1}
        )  # the rules alone
        judged = _config(
            tmp_path / "judged",
            tasks,
            server,
            "validators.answer.use_judge=true",
            f"validators.judge.base_url={judge.base_url}",
        )
        assert build_sft.run(judged) == 0
        stats, dead, [record] = _outcome(tmp_path / "judged" / "thyme-sft")
    assert (
        not dead and len(judge.requests) == 1 and "forty-two" in judge.requests[0]["messages"][-1]["content"]
    )
    assert next(c for c in record.checks if c.name == "answer").detail == "judge"
