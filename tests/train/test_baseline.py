"""The no-tool baseline: direct-answer examples from the same records, trained like SFT, evaluated without
tools only."""

import json

from test_run import FAST, TINY

from synthesis import format as fmt
from synthesis.agent import NO_TOOL_SYSTEM
from synthesis.prompts import NO_TOOL_SUFFIX
from train.chat import prompt_text
from train.config import SftConfig
from train.metrics import MetricsLog, read_metrics
from train.run import main
from train.sft import direct_response, record_chunks, sft_examples, train_sft


def test_direct_answer_chunks_hold_the_question_and_answer_only(sft_records):
    for record in sft_records:
        head, *response = record_chunks(record, no_tools=True)
        user = f"{fmt.IMAGE_PLACEHOLDER}\n{record.question}{NO_TOOL_SUFFIX}"  # as the no-tool eval renders it
        assert head.text == prompt_text(NO_TOOL_SYSTEM, user)
        assert not head.trainable and head.images == record.images[:1]
        assert [c.trainable for c in response] == [True]
        text = response[0].text
        assert text.startswith(direct_response(record.answer)) and fmt.extract_answer(text) == record.answer
        assert "<code>" not in text and not fmt.check(direct_response(record.answer))


def test_direct_answer_examples_are_short_with_one_image(policy, sft_dir):
    cfg = SftConfig(no_tools=True, shuffle_buffer=4)
    tools = next(sft_examples(policy, sft_dir, SftConfig(shuffle_buffer=4), seed=0, input_stem="image"))
    direct = next(sft_examples(policy, sft_dir, cfg, seed=0, input_stem="image"))
    assert direct.images == 1 and len(direct.ids) < len(tools.ids)


def test_train_sft_logs_under_its_name(policy, sft_dir, tmp_path):
    cfg = SftConfig(steps=2, batch_size=2, log_every=1, save_every=2, no_tools=True, shuffle_buffer=4)
    train_sft(policy, cfg, sft_dir, tmp_path / "b", 0, MetricsLog(tmp_path / "m.jsonl"), "image", "baseline")
    assert {r["stage"] for r in read_metrics(tmp_path / "m.jsonl")} == {"baseline"}


def test_baseline_stage_is_evaluated_without_tools_only(sft_dir, rl_dir, tmp_path):
    out = tmp_path / "run"
    argv = ["--sft-data", str(sft_dir), "--rl-data", str(rl_dir), "--output-dir", str(out), *TINY, *FAST]
    assert main([*argv, "--stages", "baseline,eval"]) == 0
    assert (out / "baseline" / "latest").read_text() == "step-000004"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["eval"]) == {"sft_tools", "sft_no_tools", "baseline_no_tools"}
    assert "baseline_s" in summary["timings"]
    assert main([*argv, "--stages", "nope"]) == 2
