"""The CLI: every stage end to end on tiny settings, the artefact contract, and a rerun that resumes."""

import json

from train.metrics import read_metrics
from train.run import main

TINY = [
    "train.model.vocab_size=1600",
    "train.model.hidden_size=32",
    "train.model.layers=1",
    "train.model.heads=2",
    "train.model.vision_hidden=32",
    "train.model.vision_layers=1",
    "train.model.image_size=32",
]
FAST = [
    "train.sft.steps=4",
    "train.sft.save_every=2",
    "train.sft.log_every=1",
    "train.grpo.steps=1",
    "train.grpo.group_size=2",
    "train.grpo.prompts_per_step=1",
    "train.grpo.max_new_tokens=8",
    "train.grpo.max_total_tokens=16",
    "train.grpo.compare_prompts=1",
    "train.eval.count=6",
    "train.eval.max_new_tokens=8",
    "train.eval.max_total_tokens=16",
    "train.eval.long_side_range=[1100,1200]",
    "tasks.crop.model_side=224",
    "tasks.multi_round.crop.model_side=224",
    "sandbox.workers=1",
]


def test_all_stages_write_the_artefacts_and_rerun_resumes(sft_dir, rl_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--sft-data", str(sft_dir), "--rl-data", str(rl_dir), "--output-dir", str(out), *TINY, *FAST]
    assert main(argv) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "tiny",
        "sft",
        "grpo",
        "metrics.jsonl",
        "summary.json",
        "config.json",
        "ats_vs_t1.json",
        "curves_sft.png",
        "curves_grpo.png",
        "curves_eval_tools.png",
        "eval_sft_tools.json",
        "eval_grpo_tools.json",
        "eval_sft_no_tools.json",
        "eval_grpo_no_tools.json",
    } <= names
    assert (out / "sft" / "latest").read_text() == "step-000004"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["eval"]) == {"sft_tools", "sft_no_tools", "grpo_tools", "grpo_no_tools"}
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl") if r["stage"] == "sft"]
    assert main(argv + ["--stages", "sft"]) == 0  # finished stage: nothing retrained
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl") if r["stage"] == "sft"] == steps
    assert "SFT checkpoint" in capsys.readouterr().out
