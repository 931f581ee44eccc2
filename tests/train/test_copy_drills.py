"""Copy drills: real prompt and code prefix with a fresh id, the copied id weighted, drawn reproducibly."""

import random

import pytest

from train.checkpoint import latest_checkpoint
from train.config import SftConfig
from train.copy_drills import drill_batch, drill_templates
from train.metrics import MetricsLog, read_metrics
from train.sft import lr_factor, train_sft


def test_templates_end_with_the_line_that_opens_the_input(sft_dir, sft_records):
    templates = drill_templates(sft_dir)
    opening = [r for r in sft_records if f'image_path = "/mnt/data/input/{r.id}.' in r.response]
    assert templates and len(templates) == len(opening)
    for t in templates:
        last = t.prefix.rstrip("\n").rsplit("\n", 1)[-1]
        assert last == f'image_path = "/mnt/data/input/{t.id}{t.extension}"' and t.extension in (
            ".jpg",
            ".png",
        )


def test_a_drill_copies_a_fresh_id_from_prompt_to_code(policy, sft_dir):
    templates = drill_templates(sft_dir)
    batch = drill_batch(templates, 6, random.Random(3), policy.tokenizer, policy.vision, 9)
    again = drill_batch(templates, 6, random.Random(3), policy.tokenizer, policy.vision, 9)
    assert [e.ids for e in batch] == [e.ids for e in again] and [e.mask for e in batch] == [
        e.mask for e in again
    ]
    known = {t.id for t in templates}
    for drill in batch:
        text = policy.tokenizer.decode(drill.ids)
        prompt, code = text.split("<|im_start|>assistant\n", 1)
        item = code.rsplit('image_path = "/mnt/data/input/', 1)[1].split(".")[0]
        assert item not in known and f'Path:** "/mnt/data/input/{item}.' in prompt
        assert "<image>" not in text and not drill.pixels
        weighted = policy.tokenizer.decode([i for i, m in zip(drill.ids, drill.mask, strict=True) if m == 9])
        assert item.split("-", 1)[1] in weighted and "image_path" not in weighted
        assert all(m == 0 for m in drill.mask[: len(policy.tokenizer(prompt)["input_ids"]) - 2])


def test_drills_come_first_and_count_as_steps(policy, sft_dir, tmp_path):
    cfg = SftConfig(
        steps=1,
        copy_drill_steps=2,
        copy_drill_batch=3,
        copy_weight=5,
        batch_size=2,
        log_every=1,
        save_every=10,
        lr=1e-3,
        warmup_steps=1,
    )
    train_sft(policy, cfg, sft_dir, tmp_path / "sft", 0, MetricsLog(tmp_path / "m.jsonl"))
    rows = [r for r in read_metrics(tmp_path / "m.jsonl") if r["stage"] == "sft"]
    assert [(r["step"], r["drills"]) for r in rows] == [(1, True), (2, True), (3, False)]
    assert rows[0]["copy_loss"] > 0 and latest_checkpoint(tmp_path / "sft").name == "step-000003"
    assert rows[0]["lr"] == rows[1]["lr"] == cfg.lr  # the drills keep the peak rate; the cosine is SFT's


def test_the_cosine_spans_the_sft_steps_only():
    plain, drilled = (
        SftConfig(steps=50, warmup_steps=5),
        SftConfig(steps=50, warmup_steps=5, copy_drill_steps=300),
    )
    assert all(lr_factor(drilled, s) == 1.0 for s in range(5, 300))
    assert [lr_factor(drilled, 300 + s) for s in range(50)] == pytest.approx(
        [lr_factor(plain, 5 + s * 45 / 50) for s in range(50)]
    )
