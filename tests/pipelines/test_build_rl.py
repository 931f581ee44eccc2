"""build_rl: RL prompt shards with checks and dead letters; the difficulty filter against a real HTTP
endpoint."""

import importlib.util
import io
import json
from dataclasses import replace
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines import build_rl
from pipelines.config import DifficultyConfig
from pipelines.difficulty import difficulty_backend, solved_every_time
from runconfig.root import load_config
from synthesis.records import DeadLetter, RlPrompt
from validators.config import AnswerCheckConfig

ROOT = Path(__file__).resolve().parents[2]


def test_rl_prompts_are_written_checked_and_loadable(tmp_path, monkeypatch):
    original = RlPrompt.from_task

    def with_one_bad(task):  # a prompt whose ground truth is empty: no reward could ever be computed
        prompt = original(task)
        return replace(prompt, answer=" ") if task.seed == 3 else prompt

    monkeypatch.setattr(RlPrompt, "from_task", staticmethod(with_one_bad))
    cfg = load_config(
        ROOT / "pipeline.yaml", [f"run.output_dir={tmp_path}", "tasks.count=10", "runner.kind=in_process"]
    )
    assert build_rl.run(cfg) == 0
    out = tmp_path / "thyme-rl"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["holds"] and stats["records_in"] == 10
    ds = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert len(ds) == stats["accepted"] and isinstance(ds[0]["image"], Image.Image)
    assert set(ds["family"]) <= {"crop", "rotate", "contrast", "compute", "multi_round", "no_code"}
    letters = [
        DeadLetter.from_row(r)
        for f in (out / "dead_letter").glob("*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]
    assert [(d.stage, d.reason) for d in letters] == [("prompt", "prompt_empty_answer")]
    assert stats["accepted"] == 9
    assert all(row["needed"] in ("yes", "no", "unknown") for row in ds["tool_evidence"])
    assert sum(v for k, v in stats["counts"].items() if k.startswith("evidence/")) == 9


def test_prompts_whose_tool_is_not_needed_are_dead_lettered_on_request(tmp_path):
    cfg = load_config(
        ROOT / "pipeline.yaml",
        [
            f"run.output_dir={tmp_path}",
            "tasks.count=24",
            "runner.kind=in_process",
            "rl.require_tool_needed=true",
            "validators.evidence.legible_px=40",  # every crop target is legible: nothing needs a zoom
        ],
    )
    assert build_rl.run(cfg) == 0
    out = tmp_path / "thyme-rl"
    stats = json.loads((out / "stats.json").read_text())
    letters = [
        DeadLetter.from_row(r)
        for f in (out / "dead_letter").glob("*.parquet")
        for r in pq.read_table(f).to_pylist()
    ]
    dropped = {d.payload["family"] for d in letters if d.reason == "evidence_tool_not_needed"}
    assert dropped == {"crop", "multi_round"} and stats["holds"] and stats["records_in"] == 24
    kept = datasets.load_dataset("parquet", data_files=str(out / "data" / "*.parquet"), split="train")
    assert "no_code" in kept["family"]  # exempt: its point is to answer without tools
    assert {
        e["needed"] for e, f in zip(kept["tool_evidence"], kept["family"], strict=True) if f != "no_code"
    } == {"yes"}


@pytest.mark.slow
def test_multi_process_run_writes_every_prompt_it_counts(tmp_path):
    """400 prompts of about 0.9 MB each on the default multi-process runner: rows passed whole into the
    shard writer's side-input stage lost 1-85 of them per run; staged rows lose none, and the shards match
    the counts."""
    cfg = load_config(ROOT / "pipeline.yaml", [f"run.output_dir={tmp_path}", "tasks.count=400"])
    assert cfg.runner.kind == "multi_process"
    assert build_rl.run(cfg) == 0
    out = tmp_path / "thyme-rl"
    stats = json.loads((out / "stats.json").read_text())
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in (out / "data").glob("*.parquet"))
    assert rows == stats["accepted"] == stats["written"]["data"] == 400


def _server():
    spec = importlib.util.spec_from_file_location(
        "scripted_server", ROOT / "tests" / "synthesis" / "scripted_server.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedTeacher


def _row(question: str, answer: str) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (80, 80), "white").save(buf, format="PNG")
    return RlPrompt(
        id="p",
        image=buf.getvalue(),
        question=question,
        image_size=(80, 80),
        answer=answer,
        answer_type="text",
        family="no_code",
        difficulty=0.0,
    ).to_row()


def test_difficulty_filter_asks_a_no_tool_model_over_http():
    with _server()() as server:
        backend = difficulty_backend(DifficultyConfig(base_url=server.base_url, model="scripted-teacher"))
        easy = solved_every_time(backend, _row("Trivial [answer]", "simple"), 3, 1.0, 64, AnswerCheckConfig())
        hard = solved_every_time(
            backend, _row("Trivial [answer]", "complex"), 3, 1.0, 64, AnswerCheckConfig()
        )
        broken = solved_every_time(
            backend, _row("Down [fault:400]", "simple"), 3, 1.0, 64, AnswerCheckConfig()
        )
        backend.close()
    assert (easy, hard, broken) == (True, False, False)
    assert len(server.bodies) >= 4  # three samples for the easy prompt, at least one for the others
