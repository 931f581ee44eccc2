"""Tool-necessity evidence: measured from pixels and code (never copied from task params), for every family,
imported records and RL prompts; the validator option and the schema."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageEnhance
from validators_corpus import codes, decode, png, rebuild

from synthesis import format as fmt
from synthesis.records import RL_SCHEMA, SFT_SCHEMA, RlPrompt, SftRecord, ToolEvidence, to_table
from synthesis.tasks import generate_task
from validators import ValidatorsConfig, judge_record
from validators.config import EvidenceConfig
from validators.evidence import (
    check_evidence,
    input_scale,
    measure_evidence,
    model_input_size,
    prompt_evidence,
    target_side,
)

KIND = {
    "crop_text": "zoom",
    "crop_choice": "zoom",
    "multi_round": "zoom",
    "rotate": "rotate",
    "contrast": "enhance",
    "compute": "compute",
    "no_code": "none",
}


def _box(code: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.search(r"x1, y1, x2, y2 = (\d+), (\d+), (\d+), (\d+)", code).groups())


def _with_box(code: str, box: tuple[int, ...]) -> str:
    return re.sub(
        r"x1, y1, x2, y2 = \d+, \d+, \d+, \d+", "x1, y1, x2, y2 = {}, {}, {}, {}".format(*box), code
    )


def test_model_input_size_is_the_qwen2_vl_processor_rule():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    for cfg in (EvidenceConfig(), EvidenceConfig(max_pixels=64 * 64, min_pixels=32 * 32, patch_factor=8)):
        for width, height in [(64, 64), (448, 448), (2048, 1152), (3584, 2016), (8192, 1024), (300, 5000)]:
            h, w = smart_resize(height, width, cfg.patch_factor, cfg.min_pixels, cfg.max_pixels)
            assert model_input_size(width, height, cfg) == (w, h)


def test_every_family_carries_evidence_of_its_kind(good):
    for name, record in good.items():
        evidence = measure_evidence(record)
        assert evidence.kind == KIND[name], (name, evidence)
        assert evidence.needed in ("yes", "no", "unknown") and evidence.reason
        assert evidence.input_scale == pytest.approx(
            input_scale(*record.image_size, EvidenceConfig()), abs=1e-3
        )
    assert measure_evidence(good["rotate"]).needed == "yes"
    assert measure_evidence(good["contrast"]).needed == "yes"
    assert measure_evidence(good["compute"]).needed == "yes"
    assert measure_evidence(good["no_code"]).needed == "no"


def test_target_size_is_the_ink_measured_in_pixels_not_the_box():
    image = Image.new("RGB", (400, 300), (200, 210, 190))
    image.paste((20, 20, 20), (100, 100, 160, 109))  # 60x9 px of "ink"
    assert target_side(image, (100, 100, 160, 109)) == 9
    assert target_side(image, (80, 80, 200, 140)) == 9  # a loose box in the params measures the same ink
    assert target_side(image, (300, 200, 350, 250)) is None  # nothing there


def test_zoom_evidence_follows_what_the_code_cropped(good, sb):
    record = good["crop_text"]
    target = tuple(record.task_params["target"])
    evidence = measure_evidence(record)
    side = target_side(decode(record.images[0]), target)
    scale = input_scale(*record.image_size, EvidenceConfig())
    assert evidence.target_px_before == pytest.approx(side * scale, abs=0.05)
    assert evidence.magnification > 1.5 and evidence.target_px_after > evidence.target_px_before

    # the code crops a region away from the target; the params still name the right crop box
    code = codes(record)[0]
    x1, y1, x2, y2 = _box(code)
    w, h = x2 - x1, y2 - y1
    width, height = record.image_size
    left = 0 if (target[0] + target[2]) / 2 > width / 2 else width - w  # the half without the target
    top = 0 if (target[1] + target[3]) / 2 > height / 2 else height - h
    away = (left, top, left + w, top + h)
    moved = rebuild(record, sb, [_with_box(code, away)])
    assert moved.task_params["params"]["crop_box"] == record.task_params["params"]["crop_box"]
    missed = measure_evidence(moved)
    assert (missed.kind, missed.needed) == ("zoom", "no") and "holds 0%" in missed.reason

    # the same crop, not enlarged: the model sees the region at the input's detail at best
    flat = rebuild(record, sb, [re.sub(r"(zoom_factor = |fx=|fy=)\d+", r"\g<1>1", code)])
    assert measure_evidence(flat).magnification < evidence.magnification / 1.5


def test_rotation_is_measured_from_the_output_pixels(good, sb):
    record = good["rotate"]
    correction = record.task_params["params"]["correction"]
    evidence = measure_evidence(record)
    assert evidence.angle_applied == pytest.approx(correction, abs=1)
    assert evidence.needed == "yes" and abs(evidence.angle_residual) <= 1

    code = codes(record)[0]
    wrong = (correction + 90) % 360
    turned = rebuild(record, sb, [re.sub(r"angle = \d+", f"angle = {wrong}", code)])
    measured = measure_evidence(turned)
    assert measured.angle_applied == pytest.approx(wrong, abs=1)
    assert measured.needed == "no" and abs(abs(measured.angle_residual) - 90) <= 1


def test_contrast_before_and_after_are_measured(good, sb):
    record = good["contrast"]
    evidence = measure_evidence(record)
    assert evidence.contrast_after > 2 * evidence.contrast_before
    code = codes(record)[0]
    unchanged = rebuild(record, sb, [re.sub(r"enhance\([\d.]+\)|alpha=[\d.]+", _one, code)])
    assert measure_evidence(unchanged).needed == "no"
    # a normal-contrast input does not need enhancing, whatever the family says
    crisp = decode(record.images[0])
    crisp = ImageEnhance.Contrast(crisp).enhance(1 / max(evidence.contrast_before * 5, 0.05))
    assert measure_evidence(replace(record, images=(png(crisp), *record.images[1:]))).needed == "no"


def _one(match: re.Match) -> str:
    return "enhance(1.0)" if match.group(0).startswith("enhance") else "alpha=1.0"


def test_compute_evidence_reads_the_code_and_the_text(good):
    record = good["compute"]
    evidence = measure_evidence(record)
    assert evidence.kind == "compute" and evidence.arithmetic_ops >= 1 and evidence.needed == "yes"
    told = replace(record, question=f"{record.question} (Hint: it is {record.answer}.)")
    assert measure_evidence(told).needed == "no" and "already in the text" in measure_evidence(told).reason


def test_an_answer_equal_to_an_input_value_is_still_computed(sb):
    from synthesis.records import Provenance
    from synthesis.rollout_record import record_from_rollout
    from synthesis.teacher import teach

    task = generate_task("compute", 69)  # the average of 99, 86, 72 and 87 is 86, one of the values read
    assert task.answer == "86" and 86 in task.params["variables"]["values"]
    record = record_from_rollout(
        task, teach(task, sb), Provenance(source="generated", generator="t", generator_version="0", seed=69)
    )
    assert measure_evidence(record).needed == "yes"


def test_an_imported_record_without_params_gets_what_pixels_can_tell(good):
    record = good["crop_text"]
    imported = replace(record, family="imported", task_params={})
    evidence, known = measure_evidence(imported), measure_evidence(record)
    assert evidence.kind == "zoom" and evidence.needed == "unknown"
    assert evidence.magnification == known.magnification and evidence.target_px_before is None
    # a crop of an image the model sees whole, not enlarged, shows nothing new: "no" without any params
    small = Image.new("RGB", (320, 240), "white")
    small.paste((0, 0, 0), (100, 100, 140, 110))
    crop = small.crop((80, 80, 180, 160))
    code = "from PIL import Image\nimg = Image.open('a.png')\nimg.crop((80, 80, 180, 160)).save('b.png')"
    response = (
        "<think>Look closer."
        + fmt.render_code(code)
        + "<sandbox_output><image></sandbox_output>It is a bar.</think> <answer>bar</answer>"
    )
    plain = SftRecord(
        id="imported-1",
        images=(png(small), png(crop)),
        question="What is it?",
        image_size=(320, 240),
        response=response,
        answer="bar",
        answer_type="text",
        family="imported",
    )
    flat = measure_evidence(plain)  # 1.08: the processor rounds 100x80 up to 112x84
    assert flat.needed == "no" and flat.magnification == pytest.approx(1.0, abs=0.1)


def test_validator_option_rejects_unneeded_tools_except_exempt_families(good):
    cfg = ValidatorsConfig()
    cfg.execution.reexecute = False
    cfg.evidence.reject_unneeded = True
    no_tool = replace(
        good["crop_text"], tool_evidence=ToolEvidence(kind="zoom", needed="no", reason="legible")
    )
    verdicts = judge_record(no_tool, cfg)
    assert verdicts[-1].reason == "evidence_tool_not_needed" and "legible" in verdicts[-1].detail
    assert check_evidence(good["no_code"], cfg.evidence).passed  # exempt by default
    cfg.evidence.reject_unneeded = False
    assert check_evidence(no_tool, cfg.evidence).passed


def test_evidence_round_trips_through_parquet_and_datasets(good, tmp_path):
    record = replace(good["rotate"], tool_evidence=measure_evidence(good["rotate"]))
    pq.write_table(to_table([record.to_row()], SFT_SCHEMA), tmp_path / "sft.parquet")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "sft.parquet"), split="train")
    assert ds.features["tool_evidence"]["needed"] == datasets.Value("string")
    assert ds[0]["tool_evidence"]["angle_applied"] == record.tool_evidence.angle_applied
    assert SftRecord.from_row(pq.read_table(tmp_path / "sft.parquet").to_pylist()[0]) == record
    old = {k: v for k, v in record.to_row().items() if k != "tool_evidence"}  # a row written before the field
    assert SftRecord.from_row(old).tool_evidence is None

    task = generate_task("contrast", 3)
    prompt = RlPrompt.from_task(task)
    prompt = replace(prompt, tool_evidence=prompt_evidence(prompt))
    pq.write_table(to_table([prompt.to_row()], RL_SCHEMA), tmp_path / "rl.parquet")
    rl = datasets.load_dataset("parquet", data_files=str(tmp_path / "rl.parquet"), split="train")
    assert rl[0]["tool_evidence"]["kind"] == "enhance" and rl[0]["tool_evidence"]["contrast_before"] > 0


def test_prompt_evidence_measures_the_prompt_image():
    crop = RlPrompt.from_task(generate_task("crop", 11))
    evidence = prompt_evidence(crop)
    image = Image.open(io.BytesIO(crop.image))
    side = target_side(image, crop.task_params["target"])
    assert evidence.target_px_before == pytest.approx(
        side * input_scale(*image.size, EvidenceConfig()), abs=0.05
    )

    contrast = RlPrompt.from_task(generate_task("contrast", 4))
    assert prompt_evidence(contrast).needed == "yes"
    crisp = ImageEnhance.Contrast(Image.open(io.BytesIO(contrast.image)).convert("RGB")).enhance(12)
    assert prompt_evidence(replace(contrast, image=png(crisp))).needed == "no"


def test_a_crop_of_a_crop_is_measured_where_it_really_lies():
    """The second block's literal box is in the first crop's coordinates; the evidence finds the region in
    the input by its pixels instead of trusting the numbers."""
    rng = np.random.default_rng(1)
    original = Image.fromarray(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8))
    first = original.crop((200, 100, 400, 250)).resize((400, 300))
    second = first.crop((100, 50, 300, 200))  # = the input's (250, 125, 350, 200), enlarged 2x
    codes = [
        "img = Image.open(path)\nimg.crop((200, 100, 400, 250)).resize((400, 300)).save(out)",
        "img = Image.open(out)\nimg.crop((100, 50, 300, 200)).save(out2)",
    ]
    response = "<think>Zoom in." + "".join(
        fmt.render_code(c) + "<sandbox_output><image></sandbox_output>" for c in codes
    )
    record = SftRecord(
        id="imported-2",
        images=(png(original), png(first), png(second)),
        question="What is there?",
        image_size=(600, 400),
        response=response + "Noise.</think> <answer>noise</answer>",
        answer="noise",
        answer_type="text",
        family="imported",
    )
    evidence = measure_evidence(record)
    assert evidence.kind == "zoom" and evidence.magnification == pytest.approx(2.0, rel=0.1)
