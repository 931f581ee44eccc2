"""GRPO with adaptive temperature sampling: group rollouts through the agent loop, then one clipped update.

Why an own loop rather than TRL's ``GRPOTrainer``: its ``rollout_func`` path feeds the training forward pass
only the dataset's images, so the crops and rotations the sandbox returns mid-trajectory would be missing
(training.md §0.5). Here every rollout is re-encoded exactly as it was generated (prompt, generated token ids,
sandbox outputs with their images in ``<image>`` order), policy tokens train and sandbox tokens do not;
rollouts without an answer (turn or token budget exhausted) are masked out when ``mask_truncated``; by default
they are scored like any other, as in Thyme, so code that never runs in strict mode costs reward. The maths
lives in :mod:`train.grpo_math`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from sandbox.opener import SessionOpener
from synthesis.agent import Backend, Rollout
from train.chat import conversation_chunks, encode
from train.checkpoint import latest_checkpoint, load_state, save_checkpoint
from train.config import GrpoConfig
from train.data import Prompt, iter_rows, prompt_from_row
from train.grpo_math import group_advantages, grpo_loss
from train.metrics import MetricsLog
from train.policy_backend import LocalBackend
from train.rewards import score
from train.rollouts import Timer, ats_agent_config, code_stats, rollout
from train.sft import collate, token_logprobs

__all__ = ["collect_groups", "compare_ats", "grpo_step", "train_grpo"]


def collect_groups(
    policy,
    sandbox: SessionOpener,
    prompts: Sequence[Prompt],
    cfg: GrpoConfig,
    ats: str | None = None,
    timer: Timer | None = None,
    seed: int = 0,
    backend: Backend | None = None,
) -> list[Rollout]:
    """``cfg.group_size`` rollouts per prompt, group after group, sampled under ``ats`` (default cfg's).

    Rollout ``i`` is sampled from torch's generator seeded with ``seed + i`` (its sandbox session gets the
    same seed): the same policy, prompts and seed give the same rollouts whatever ran before in the process
    (a ``compare`` stage, or none after a resume). The code runs with Thyme's fix-ups unless
    ``cfg.strict``. ``backend`` replaces the policy's own (any :class:`~synthesis.agent.Backend`, e.g. a
    scripted one).
    """
    import torch

    ats = ats or cfg.ats
    if backend is None:
        backend = LocalBackend(policy, ats_logits=ats == "logits_processor")
        policy.model.eval()
    agent = ats_agent_config(
        ats,
        cfg.text_temperature,
        cfg.code_temperature,
        cfg.max_calls,
        cfg.max_new_tokens,
        cfg.max_total_tokens,
        cfg.top_p,
    )
    out = []
    for p, prompt in enumerate(prompts):
        for g in range(cfg.group_size):
            torch.manual_seed(seed + p * cfg.group_size + g)
            out.append(
                rollout(
                    backend,
                    sandbox,
                    prompt,
                    agent,
                    strict=cfg.strict,
                    seed=seed + p * cfg.group_size + g,
                    timer=timer,
                )
            )
    return out


def _rewards(prompts: Sequence[Prompt], rollouts: Sequence[Rollout], cfg: GrpoConfig):
    group = [p for p in prompts for _ in range(cfg.group_size)]
    return score(
        [r.response for r in rollouts],
        cfg.weights,
        answer=[p.answer for p in group],
        answer_type=[p.answer_type for p in group],
        choices=[p.choices for p in group],
        question=[p.question for p in group],
    )


def _micro_batches(policy, rollouts: Sequence[Rollout], keep: Sequence[bool], size: int) -> list[tuple]:
    examples = [
        encode(conversation_chunks(r.conversation), policy.tokenizer, policy.vision) for r in rollouts
    ]
    out = []
    for start in range(0, len(examples), size):
        batch = collate(examples[start : start + size], policy.tokenizer.pad_token_id)
        alive = [
            keep[i] and sum(examples[i].mask) > 0 for i in range(start, min(start + size, len(examples)))
        ]
        out.append((batch, alive, slice(start, start + len(alive))))
    return out


def grpo_step(
    policy,
    reference,
    optimizer,
    sandbox: SessionOpener,
    prompts: Sequence[Prompt],
    cfg: GrpoConfig,
    seed: int = 0,
    micro_batch: int = 8,
) -> dict[str, Any]:
    """One GRPO step: rollouts, rewards, advantages, ``inner_epochs`` clipped updates; returns its metrics."""
    import torch

    timer = Timer()
    rollouts = collect_groups(policy, sandbox, prompts, cfg, timer=timer, seed=seed)
    rewards, parts = _rewards(prompts, rollouts, cfg)
    adv = group_advantages(torch.tensor(rewards, dtype=torch.float32), cfg.group_size)
    keep = [r.finish == "answer" or not cfg.mask_truncated for r in rollouts]
    batches = _micro_batches(policy, rollouts, keep, micro_batch)
    alive_total = max(1, sum(sum(a) for _, a, _ in batches))
    device, fwd_s, bwd_s = policy.device, 0.0, 0.0
    with torch.no_grad():
        refs = [token_logprobs(reference.model, b, device) if cfg.beta else None for b, _, _ in batches]
        olds = [
            token_logprobs(policy.model, b, device) if cfg.inner_epochs > 1 else None for b, _, _ in batches
        ]
    policy.model.train()
    losses, kls, clips = [], [], []
    for _ in range(cfg.inner_epochs):
        for (batch, alive, rows), ref, old in zip(batches, refs, olds, strict=True):
            if not any(alive):
                continue
            start = time.perf_counter()
            logp = token_logprobs(policy.model, batch, device)
            mask = batch["loss_mask"][:, 1:].to(device) * torch.tensor(alive, device=device).unsqueeze(1)
            old = logp.detach() if old is None else old
            loss, kl, clip = grpo_loss(
                logp,
                old,
                ref if ref is not None else logp.detach(),
                adv[rows].to(device),
                mask,
                cfg.beta,
                cfg.epsilon,
                cfg.epsilon_high,
            )
            fwd_s += time.perf_counter() - start
            start = time.perf_counter()
            (loss * sum(alive) / alive_total).backward()
            bwd_s += time.perf_counter() - start
            losses.append(float(loss.detach()))
            kls.append(float(kl))
            clips.append(float(clip))
        torch.nn.utils.clip_grad_norm_([p for p in policy.model.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    grouped = torch.tensor(rewards).view(-1, cfg.group_size)
    return {
        "reward": mean(rewards),
        **{f"reward_{k}": mean(v or 0.0 for v in vals) for k, vals in parts.items()},
        "loss": mean(losses) if losses else 0.0,
        "kl": mean(kls) if kls else 0.0,
        "clip_frac": mean(clips) if clips else 0.0,
        "frac_zero_std": float((grouped.std(dim=1) == 0).float().mean()),
        "answered": mean(keep),
        "completion_tokens": mean(r.completion_tokens for r in rollouts),
        **code_stats(rollouts),
        "generate_s": timer.generate_s,
        "sandbox_s": timer.sandbox_s,
        "forward_s": fwd_s,
        "backward_s": bwd_s,
    }


def _prompts(rl_dir: str | Path, seed: int, skip: int, buffer: int, stem: str) -> Iterator[Prompt]:
    rows = iter_rows(rl_dir, seed=seed, shuffle_buffer=buffer, loop=True)
    for i, row in enumerate(rows):
        if i >= skip:
            yield prompt_from_row(row).served(stem)


def train_grpo(
    policy,
    reference,
    sandbox: SessionOpener,
    cfg: GrpoConfig,
    rl_dir: str | Path,
    stage_dir: str | Path,
    seed: int,
    log: MetricsLog,
    input_stem: str = "",
) -> Path:
    """GRPO-ATS up to ``cfg.steps``, resuming from the stage's latest checkpoint; returns the final one.

    Args:
        policy (`train.policy.Policy`): loaded from ``resume_from(stage_dir, sft_checkpoint)``; trained in
            place.
        reference (`train.policy.Policy`): the frozen SFT policy of the KL term.
        sandbox (`sandbox.Sandbox`): runs the rollouts' code.
        cfg (`GrpoConfig`): group size, sampling, clipping, KL, bounds.
        rl_dir (`str | Path`): folder of RL prompt shards.
        stage_dir (`str | Path`): checkpoints go to ``stage_dir/step-N``.
        seed (`int`): prompt order and sandbox seeds.
        log (`MetricsLog`): one line per step.
        input_stem (`str`, *optional*): serve every input as this stem (``TrainConfig.input_stem``).
    """
    import torch

    optimizer = torch.optim.AdamW(
        [p for p in policy.model.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=0.0
    )
    step, consumed = 0, 0
    last = latest_checkpoint(stage_dir)
    if last is not None:
        state = load_state(last, optimizer, None)
        step, consumed = state["step"], state["extra"]["consumed"]
    prompts = _prompts(rl_dir, seed, consumed, cfg.shuffle_buffer, input_stem)
    while step < cfg.steps:
        batch = [next(prompts) for _ in range(cfg.prompts_per_step)]
        consumed += len(batch)
        started = time.perf_counter()
        stats = grpo_step(policy, reference, optimizer, sandbox, batch, cfg, seed=seed + 1000 * step)
        step += 1
        log.log("grpo", step, step_s=time.perf_counter() - started, **stats)
        if step % cfg.save_every == 0 or step == cfg.steps:
            save_checkpoint(stage_dir, step, policy, optimizer, None, {"consumed": consumed})
    final = latest_checkpoint(stage_dir)
    assert final is not None, "steps >= 1 and the last step saves, so a checkpoint exists"
    return final


def compare_ats(
    policy, sandbox: SessionOpener, prompts: Sequence[Prompt], cfg: GrpoConfig, seed: int = 0
) -> dict[str, Any]:
    """Code failure rates of the same policy on the same prompts: ATS (code greedy) vs everything at T=1.

    Returns ``{"ats": code_stats, "t1": code_stats}`` plus each scheme's mean reward, the paper's claim in
    miniature (thyme.md §6.2: sampled code fails more often).
    """
    out: dict[str, Any] = {}
    for name, ats in (("ats", "segments"), ("t1", "off")):
        rollouts = collect_groups(policy, sandbox, prompts, cfg, ats=ats, seed=seed)
        rewards, _ = _rewards(prompts, rollouts, cfg)
        out[name] = {**code_stats(rollouts), "reward": mean(rewards)}
    return out
