"""The trainer on a real Qwen2-VL / Qwen2.5-VL architecture (tiny, random weights, built offline).

Images become Qwen2-VL vision blocks with ``image_grid_thw``; SFT on a repeated batch lowers a finite loss; a
generation sees the multimodal RoPE positions of the training forward (and its log-probabilities); a saved
checkpoint reloads to the same log-probabilities; ``train/run.py --config <yaml> --model <folder>`` runs SFT,
GRPO-ATS and evaluation on it unchanged and writes checkpoints that reload (about 15 s in all)."""

from __future__ import annotations

import math

import pytest

from synthesis import format as fmt
from synthesis.agent import Conversation, Piece, Sampling
from train.chat import Encoded, conversation_chunks, encode, prompt_text
from train.config import ModelConfig
from train.data import prompt_from_record
from train.policy import load_policy
from train.policy_backend import LocalBackend
from train.sft import collate, record_chunks, token_logprobs, token_loss
from train.tiny_qwen import build_tiny_qwen

# the conftest's tiny sizes; 112 px images are 6-8 x 8 patches, so M-RoPE positions differ from 1D ones
QWEN = ModelConfig(
    vocab_size=1600,
    hidden_size=32,
    layers=1,
    heads=2,
    vision_hidden=32,
    vision_layers=1,
    image_size=112,
    device="cpu",
)


def _texts(records) -> list[str]:
    texts = []
    for r in records:
        conv = prompt_from_record(r).conversation()
        texts += [prompt_text(conv.system, conv.user), r.response]
    return texts


@pytest.fixture(scope="module", params=["qwen2_vl", "qwen2_5_vl"])
def qwen_dir(request, tmp_path_factory, sft_records):
    return build_tiny_qwen(
        QWEN, _texts(sft_records), tmp_path_factory.mktemp(request.param), variant=request.param
    )


@pytest.fixture(scope="module")
def multi_image(sft_records):
    """A record with sandbox images: the input image and at least one output image."""
    return next(r for r in sft_records if len(r.images) >= 2)


def test_images_become_vision_blocks_and_sft_lowers_the_loss(qwen_dir, multi_image):
    import torch

    torch.manual_seed(0)
    policy = load_policy(qwen_dir, QWEN)
    tok, vision = policy.tokenizer, policy.vision
    assert vision.kind == "qwen2_vl" and type(policy.model).__name__.startswith("Qwen2")
    enc = encode(record_chunks(multi_image), tok, vision, max_len=None)
    grid = enc.pixels["image_grid_thw"]
    assert grid.shape == (len(multi_image.images), 3) and enc.images == len(multi_image.images)
    assert enc.pixels["pixel_values"].shape[0] == int(grid.prod(dim=1).sum())
    ids = torch.tensor(enc.ids)
    start, pad, end = (
        tok.convert_tokens_to_ids(t) for t in ("<|vision_start|>", "<|image_pad|>", "<|vision_end|>")
    )
    assert vision.token_ids == {"image": pad, "start": start, "end": end}
    starts = (ids == start).nonzero().view(-1).tolist()
    assert len(starts) == len(grid) and tok.convert_tokens_to_ids(fmt.IMAGE_PLACEHOLDER) not in enc.ids
    for at, (t, h, w) in zip(starts, grid.tolist(), strict=True):  # a pad per merged 2x2 patch, then the end
        pads = t * h * w // 4
        assert enc.ids[at + 1 : at + 1 + pads] == [pad] * pads and enc.ids[at + 1 + pads] == end
    assert all(m == 0 for i, m in zip(enc.ids, enc.mask, strict=True) if i in (start, pad, end))

    batch = collate([enc, enc], tok.pad_token_id)
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=1e-2)
    losses = []
    for _ in range(4):
        total, weight = token_loss(policy.model, batch, policy.device)
        loss = total / weight
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.detach().item())
    assert all(math.isfinite(x) for x in losses) and losses[-1] < losses[0], losses


def _positions(policy, run) -> tuple:
    """``run()``'s result and the position ids the decoder received, calls concatenated: (3, batch, len)."""
    import torch

    seen = []

    def hook(module, args, kwargs):
        seen.append(kwargs["position_ids"][-3:])  # generate() puts the 1D text positions first: 4 rows

    handle = policy.model.model.language_model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        out = run()
    finally:
        handle.remove()
    return out, torch.cat(seen, dim=-1)


def test_generation_sees_the_training_positions_and_checkpoint_reloads(qwen_dir, multi_image, tmp_path):
    import torch

    torch.manual_seed(0)
    policy = load_policy(qwen_dir, QWEN, trainable=False)
    backend = LocalBackend(policy)
    first = backend.generate(
        Conversation("S", f"{fmt.IMAGE_PLACEHOLDER}\nQ", multi_image.images[:1]),
        Sampling(max_new_tokens=3, seed=1),
        [],
    )
    # a rollout's later call: input image, the model's earlier ids, then a sandbox output with an image
    output = f"{fmt.OUTPUT_OPEN}{fmt.IMAGE_PLACEHOLDER}{fmt.OUTPUT_CLOSE}"
    pieces = [
        Piece("model", first.text, token_ids=first.token_ids),
        Piece("sandbox", output, multi_image.images[1:2]),
    ]
    conv = Conversation("S", f"{fmt.IMAGE_PLACEHOLDER}\nQ", multi_image.images[:1], pieces)
    sampling = Sampling(temperature=1.0, max_new_tokens=6, seed=0)
    gen, generated = _positions(policy, lambda: backend.generate(conv, sampling, []))
    assert len(gen.token_ids) == 6
    # the training forward of prompt + generated ids: the same M-RoPE positions (mm_token_type_ids passed by
    # the backend), which are not the 1D ones (the image's 2D grid), and the log-probabilities generate() gave
    prompt = encode(conversation_chunks(conv), policy.tokenizer, policy.vision)
    ids = prompt.ids + list(gen.token_ids)
    full = collate([Encoded(ids, [0] * len(ids), prompt.pixels)], policy.tokenizer.pad_token_id)
    with torch.no_grad():
        logprobs, trained = _positions(policy, lambda: token_logprobs(policy.model, full, policy.device))
    assert torch.equal(generated, trained[..., :-1])
    assert prompt.pixels["image_grid_thw"].shape[0] == 2
    assert not torch.equal(trained[0, 0], torch.arange(len(ids)))
    assert torch.allclose(logprobs[0, len(prompt.ids) - 1 :], torch.tensor(gen.logprobs), atol=1e-4)

    policy.model.save_pretrained(tmp_path)
    policy.tokenizer.save_pretrained(tmp_path)
    policy.vision.image_processor.save_pretrained(tmp_path)
    again = load_policy(tmp_path, QWEN, trainable=False)
    with torch.no_grad():
        assert torch.allclose(
            token_logprobs(again.model, full, "cpu"), token_logprobs(policy.model, full, "cpu")
        )


RUN_YAML = """\
train:
  model: {image_size: 112, device: cpu}
  sft: {steps: 4, batch_size: 2, save_every: 2, log_every: 1, warmup_steps: 1}
  grpo: {steps: 1, group_size: 2, prompts_per_step: 1, max_new_tokens: 8, max_total_tokens: 16}
  eval: {count: 2, max_new_tokens: 8, max_total_tokens: 16, long_side_range: [1100, 1200]}
tasks:
  crop: {model_side: 224}
  multi_round: {crop: {model_side: 224}}
sandbox: {workers: 1}
"""


def test_run_trains_and_evaluates_a_qwen2_vl_checkpoint(sft_records, sft_dir, rl_dir, tmp_path):
    """``train/run.py --config <yaml> --model <folder> --stages sft,grpo,eval``: unchanged trainer code."""
    from train.metrics import read_metrics
    from train.run import main

    model = build_tiny_qwen(QWEN, _texts(sft_records), tmp_path / "qwen")
    (tmp_path / "run.yaml").write_text(RUN_YAML)
    out = tmp_path / "run"
    argv = ["--config", str(tmp_path / "run.yaml"), "--model", str(model), "--sft-data", str(sft_dir)]
    argv += ["--rl-data", str(rl_dir), "--output-dir", str(out), "--stages", "sft,grpo,eval"]
    assert main(argv) == 0
    assert (out / "sft" / "latest").read_text() == "step-000004"
    assert (out / "grpo" / "latest").read_text() == "step-000001"
    assert {"eval_sft_tools.json", "eval_grpo_tools.json", "summary.json"} <= {p.name for p in out.iterdir()}
    metrics = read_metrics(out / "metrics.jsonl")
    sft = [r["loss"] for r in metrics if r["stage"] == "sft"]
    assert len(sft) == 4 and all(math.isfinite(x) for x in sft) and sft[-1] < sft[0], sft
    assert any(r["stage"] == "grpo" for r in metrics)
    for stage in ("sft", "grpo"):
        policy = load_policy(out / stage / (out / stage / "latest").read_text(), QWEN, trainable=False)
        assert type(policy.model).__name__ == "Qwen2VLForConditionalGeneration"
        assert policy.vision.kind == "qwen2_vl" and policy.vision.side == 112
