"""Supervised fine-tuning on the accepted trajectories: streaming, loss masks, accumulation, exact resume.

An own loop rather than TRL's ``SFTTrainer``: the loss mask must be per token inside the assistant message
(sandbox outputs and image tokens masked, optionally every round but the last), examples stream from Parquet
with no materialised dataset, and a resume must restore the data position exactly. ``bench/train.py``
compares its throughput with ``SFTTrainer`` driving the same collator.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import math
import random
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from synthesis.agent import no_tool_conversation
from synthesis.records import SftRecord
from train.chat import Chunk, Encoded, conversation_chunks, encode, prompt_text, response_chunks
from train.checkpoint import latest_checkpoint, load_state, save_checkpoint
from train.config import SftConfig
from train.copy_drills import copy_weighted, drill_batch, drill_templates, random_id
from train.data import prompt_from_record, sft_records, shuffled
from train.metrics import MetricsLog

__all__ = [
    "DIRECT_THINK",
    "collate",
    "direct_response",
    "lr_factor",
    "record_chunks",
    "sft_examples",
    "shrink_images",
    "token_loss",
    "train_sft",
]


# The reasoning of a direct answer (the teacher's no-code phrasing, without the observation).
DIRECT_THINK = "The problem is very simple and requires no additional processing."


def direct_response(answer: str) -> str:
    """The response of a direct-answer example: a one-line think, then the answer (format-valid).

    Example:
        >>> from synthesis import format as fmt
        >>> fmt.check(direct_response("7")), fmt.extract_answer(direct_response("7"))
        ([], '7')
    """
    return f"<think>{DIRECT_THINK}</think> <answer>{answer}</answer>"


def record_chunks(
    record: SftRecord, last_round_only: bool = False, rename: str | None = None, no_tools: bool = False
) -> list[Chunk]:
    """The chunks of an SFT record: ChatML prompt with the input image, then the masked response.

    Args:
        record (`SftRecord`): the trajectory.
        last_round_only (`bool`, *optional*, defaults to `False`): Thyme's last-round-only masking.
        rename (`str`, *optional*): a new stem for the input file, replacing the record's id in the image path
            of the prompt and of the code: a fresh id (the model learns to copy the path it is given instead
            of memorising training ids) or :data:`~train.config.FIXED_STEM`.
        no_tools (`bool`, *optional*, defaults to `False`): the record's question and answer without its
            trajectory: the direct-answer prompt (``synthesis.agent.no_tool_conversation``, the one the
            no-tool evaluation asks) and :func:`direct_response` (the ``baseline`` stage).
    """
    if no_tools:
        conv = no_tool_conversation({"question": record.question, "image": {"bytes": record.images[0]}})
        return [*conversation_chunks(conv), *response_chunks(direct_response(record.answer))]
    response = record.response
    prompt = prompt_from_record(record)
    if rename:
        response = response.replace(record.id, rename)
        prompt = prompt.served(rename)
    conv = prompt.conversation()
    head = Chunk(prompt_text(conv.system, conv.user), False, conv.images)
    return [head, *response_chunks(response, record.images[1:], last_round_only)]


class _CachedVision:
    """The policy's image adapter with its outputs kept per image list (decoding big images dominates SFT)."""

    def __init__(self, vision, size: int):
        self.vision, self.size = vision, size
        self.cache: dict[bytes, tuple[list[list[int]], dict[str, Any]]] = {}

    def __getattr__(self, name):
        return getattr(self.vision, name)

    def encode(self, images):
        key = hashlib.blake2b(b"".join(hashlib.blake2b(i, digest_size=16).digest() for i in images)).digest()
        hit = self.cache.get(key)
        if hit is None:
            hit = self.vision.encode(images)
            if len(self.cache) < self.size:
                self.cache[key] = hit
        return [list(b) for b in hit[0]], hit[1]


def shrink_images(record: SftRecord, side: int) -> SftRecord:
    """``record`` with every image replaced by the ``2 * side`` thumbnail the model's adapter decodes anyway.

    Same format as before (the prompt's path keeps its extension; JPEG at quality 95), so thousands of records
    fit a shuffle buffer: the shards' full-size crop images are megabytes each.
    """
    from train.policy import decode_image

    images = []
    for data in record.images:
        jpeg = data[:2] == b"\xff\xd8"
        out = io.BytesIO()
        decode_image(data, side).save(out, format="JPEG" if jpeg else "PNG", quality=95)
        images.append(out.getvalue())
    return replace(record, images=tuple(images))


def _shrunk_records(folder: str | Path, side: int, cache: int) -> Iterator[SftRecord]:
    """Shrunk records in file order, forever; replayed from memory when the data set fits in ``cache``."""
    kept: list[SftRecord] = []
    for record in sft_records(folder):
        record = shrink_images(record, side)
        if len(kept) <= cache:
            kept.append(record)
        yield record
    while True:
        yield from kept if len(kept) <= cache else (shrink_images(r, side) for r in sft_records(folder))


def sft_examples(
    policy, folder: str | Path, cfg: SftConfig, seed: int, skip: int = 0, input_stem: str = ""
) -> Iterator[Encoded]:
    """Encoded examples streamed forever from ``folder``; the first ``skip`` are passed over (resume).

    Records are read in file order, shrunk (:func:`shrink_images`) and shuffled through
    ``cfg.shuffle_buffer``, which by default holds the whole default data set: the shards are sorted by
    family. With ``input_stem`` every example names its input ``input_stem`` + extension; otherwise, with
    ``cfg.randomize_ids``, the i-th example gets a fresh id from a RNG seeded by ``(seed, i)`` (identical
    after a resume), and the trained tokens that copy the id get loss weight ``cfg.copy_weight``; a data set
    of up to ``cfg.cache_examples`` records is kept in memory (shrunk, with its image inputs), so later epochs
    read and decode nothing.
    """
    light = _shrunk_records(folder, policy.vision.side, cfg.cache_examples)
    records = shuffled(light, cfg.shuffle_buffer, random.Random(seed))
    vision = _CachedVision(policy.vision, cfg.cache_examples)
    tokenizer = policy.tokenizer
    for index, record in enumerate(itertools.islice(records, skip, None), start=skip):
        rename = input_stem or (
            random_id(record.id, random.Random(f"{seed}:{index}")) if cfg.randomize_ids else None
        )
        chunks = record_chunks(record, cfg.last_round_only, rename, cfg.no_tools)
        encoded = encode(chunks, tokenizer, vision, cfg.max_len)
        yield copy_weighted(encoded, tokenizer, rename or record.id, cfg.copy_weight)


def collate(examples: list[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded batch: ``input_ids``, ``attention_mask``, ``loss_mask`` and concatenated pixel inputs.

    Example:
        >>> b = collate([Encoded([1, 2, 3], [0, 1, 1]), Encoded([4], [1])], pad_id=0)
        >>> b["input_ids"].tolist(), b["loss_mask"].tolist()
        ([[1, 2, 3], [4, 0, 0]], [[0, 1, 1], [1, 0, 0]])
    """
    import torch

    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    attn = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for i, e in enumerate(examples):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        attn[i, : len(e.ids)] = 1
        mask[i, : len(e.mask)] = torch.tensor(e.mask)
    batch = {"input_ids": ids, "attention_mask": attn, "loss_mask": mask}
    keys = {k for e in examples for k in e.pixels}
    for key in keys:
        batch[key] = torch.cat([e.pixels[key] for e in examples if key in e.pixels])
    return batch


def token_logprobs(model, batch: dict[str, Any], device: str):
    """Log-probability of every next token (position t scores token t+1): shape ``(batch, len - 1)``."""
    import torch

    inputs = {k: v.to(device) for k, v in batch.items() if k != "loss_mask"}
    logits = model(**inputs).logits[:, :-1].float()
    targets = inputs["input_ids"][:, 1:]
    return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def token_loss(model, batch: dict[str, Any], device: str):
    """Negative log-likelihood of the targets summed with the mask's weights, and the sum of the weights."""
    losses = _weighted_nll(model, batch, device)
    return losses["weighted"], losses["weight"]


def _weighted_nll(model, batch: dict[str, Any], device: str) -> dict[str, Any]:
    """Summed NLL: mask-weighted (the objective), plain over trained tokens, and over copied-path tokens."""
    nll = -token_logprobs(model, batch, device)
    weights = batch["loss_mask"][:, 1:].to(device).float()
    trained, copied = (weights > 0).float(), (weights > 1).float()
    return {
        "weighted": (nll * weights).sum(),
        "weight": weights.sum(),
        "plain": (nll * trained).sum().detach(),
        "tokens": trained.sum(),
        "copy": (nll * copied).sum().detach(),
        "copy_tokens": copied.sum(),
    }


def lr_factor(cfg: SftConfig, step: int) -> float:
    """Factor of ``cfg.lr`` at ``step``: linear warmup, constant through the copy drills, then cosine to 0.1.

    The drills keep the peak rate because the copying circuit forms late (a drop in ``copy_loss`` after about
    900 drill steps at 1e-3) and a decaying rate delayed it; the cosine spans the SFT steps only.

    Example:
        >>> cfg = SftConfig(steps=10, warmup_steps=2, copy_drill_steps=5)
        >>> [round(lr_factor(cfg, s), 2) for s in (0, 1, 4, 5, 10, 15)]
        [0.5, 1.0, 1.0, 1.0, 0.55, 0.1]
    """
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if step < cfg.copy_drill_steps:
        return 1.0
    start = max(cfg.warmup_steps, cfg.copy_drill_steps)
    progress = (step - start) / max(1, cfg.total_steps - start)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train_sft(
    policy,
    cfg: SftConfig,
    data_dir: str | Path,
    stage_dir: str | Path,
    seed: int,
    log: MetricsLog,
    input_stem: str = "",
    name: str = "sft",
) -> Path:
    """Run the copy drills and SFT up to ``cfg.total_steps`` (resuming); returns the last checkpoint.

    The policy must come from ``resume_from(stage_dir, base)``: the latest checkpoint when there is one, whose
    optimizer, scheduler, RNG states and data position are restored here.

    Args:
        policy (`train.policy.Policy`): the model to train, in place.
        cfg (`SftConfig`): steps, batch, accumulation, lengths, masking option.
        data_dir (`str | Path`): folder of SFT shards.
        stage_dir (`str | Path`): checkpoints go to ``stage_dir/step-N``.
        seed (`int`): data-order seed.
        log (`MetricsLog`): receives ``loss``, ``lr``, ``tokens_per_s`` every ``cfg.log_every`` steps.
        input_stem (`str`, *optional*): serve every input as this stem (``TrainConfig.input_stem``); empty
            keeps the record ids.
        name (`str`, *optional*, defaults to `"sft"`): the stage name of the metrics (``baseline``).
    """
    import torch

    params = [p for p in policy.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(lr_factor, cfg))
    step, consumed = 0, 0
    last = latest_checkpoint(stage_dir)
    if last is not None:
        state = load_state(last, optimizer, scheduler)
        step, consumed = state["step"], state["extra"]["consumed"]
    examples = sft_examples(policy, data_dir, cfg, seed, skip=consumed, input_stem=input_stem)
    templates = drill_templates(data_dir) if step < cfg.copy_drill_steps else []
    pad = policy.tokenizer.pad_token_id
    policy.model.train()
    started, tokens = time.perf_counter(), 0
    sums = dict.fromkeys(("plain", "tokens", "copy", "copy_tokens"), 0.0)  # since the last log line
    while step < cfg.total_steps:
        if step < cfg.copy_drill_steps:  # drills are drawn by step, so a resume draws the same ones
            rng = random.Random(f"{seed}:drill:{step}")
            micro = [
                collate(
                    drill_batch(
                        templates, cfg.copy_drill_batch, rng, policy.tokenizer, policy.vision, cfg.copy_weight
                    ),
                    pad,
                )
            ]
        else:
            micro = [
                collate([next(examples) for _ in range(cfg.batch_size)], pad) for _ in range(cfg.grad_accum)
            ]
            consumed += cfg.batch_size * cfg.grad_accum
        total = sum(int(b["loss_mask"][:, 1:].sum()) for b in micro)
        for batch in micro:
            losses = _weighted_nll(policy.model, batch, policy.device)
            (losses["weighted"] / max(total, 1)).backward()
            for key in sums:
                sums[key] += float(losses[key])
            tokens += int(batch["attention_mask"].sum())
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        if step % cfg.log_every == 0 or step == cfg.total_steps:
            elapsed = time.perf_counter() - started
            copy = {"copy_loss": sums["copy"] / sums["copy_tokens"]} if sums["copy_tokens"] else {}
            log.log(
                name,
                step,
                loss=sums["plain"] / max(sums["tokens"], 1),
                lr=scheduler.get_last_lr()[0],
                tokens_per_s=tokens / elapsed,
                drills=step <= cfg.copy_drill_steps,
                **copy,
            )
            sums = dict.fromkeys(sums, 0.0)
        if step % cfg.save_every == 0 or step == cfg.total_steps:
            save_checkpoint(stage_dir, step, policy, optimizer, scheduler, {"consumed": consumed})
    final = latest_checkpoint(stage_dir)
    assert final is not None, "steps >= 1 and the last step saves, so a checkpoint exists"
    return final
