"""Held-out benchmark and the evaluator: any backend through the same agent loop, with and without tools.

The benchmark is generated from seeds far from the training seeds (``eval.base_seed``) and with crop images
larger than the training range (held-out parameters). The evaluator decodes greedily like the original's
evaluation (thyme.md §7.1: no ATS, failed code segments discarded), runs the policy's code in strict mode, and
reports accuracy per family, format validity, code execution and use rates, turns and the RL reward. "Without
tools" asks the same questions with the direct-answer prompt of the difficulty filter and a single call, which
ends where the model opens a code block (nothing would run it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from statistics import mean
from typing import Any

from sandbox.opener import SessionOpener
from synthesis import format as fmt
from synthesis.agent import AgentConfig, Backend, Rollout, Sampling, no_tool_conversation
from synthesis.tasks import TasksConfig, generate_task, plan_tasks
from train.config import EvalConfig
from train.data import Prompt, prompt_from_task
from train.rewards import score
from train.rollouts import Timer, code_errors, code_stats, rollout

__all__ = ["build_benchmark", "evaluate", "held_out_tasks", "summarize"]


def held_out_tasks(cfg: EvalConfig, tasks: TasksConfig | None = None) -> TasksConfig:
    """The benchmark's task settings: the training ones with ``cfg``'s count, seeds and held-out sizes.

    Raises ``ValueError`` where ``cfg.grid_glyph_range`` is set but no task would use it (crop not in the mix,
    or not the grid layout) or is out of the crop config's bounds, so a bad override is refused at load
    rather than silently ignored or found after training.

    Args:
        cfg (`EvalConfig`): count, base seed, held-out crop sizes (and grid digit size, where set).
        tasks (`TasksConfig`, *optional*): the training task settings (family mix and the other families'
            parameters); defaults to ``TasksConfig()``.
    """
    tasks = tasks or TasksConfig()
    crop = replace(tasks.crop, long_side_range=cfg.long_side_range)  # CropConfig makes it a checked tuple
    if cfg.grid_glyph_range:
        if tasks.mix.get("crop", 0) <= 0 or tasks.crop.layout != "grid":
            raise ValueError(
                f"eval.grid_glyph_range {cfg.grid_glyph_range} needs crop tasks in the grid layout; "
                f"the mix is {tasks.mix} and the crop layout {tasks.crop.layout!r}"
            )
        lo, hi = cfg.grid_glyph_range
        crop = replace(crop, grid_glyph_range=(lo, hi))  # CropConfig checks its bounds
    return replace(
        tasks,
        count=cfg.count,
        base_seed=cfg.base_seed,
        crop=crop,
        multi_round=replace(
            tasks.multi_round, crop=replace(tasks.multi_round.crop, long_side_range=crop.long_side_range)
        ),
    )


def build_benchmark(cfg: EvalConfig, tasks: TasksConfig | None = None) -> list[Prompt]:
    """Held-out prompts: ``cfg.count`` tasks from ``cfg.base_seed`` with the held-out settings of
    :func:`held_out_tasks`."""
    held_out = held_out_tasks(cfg, tasks)
    return [prompt_from_task(generate_task(family, seed, held_out)) for family, seed in plan_tasks(held_out)]


def _config(cfg: EvalConfig, tools: bool) -> AgentConfig:
    tokens = cfg.max_new_tokens if tools or not cfg.no_tool_max_new_tokens else cfg.no_tool_max_new_tokens
    greedy = Sampling(temperature=0.0, max_new_tokens=tokens)
    return AgentConfig(
        max_calls=cfg.max_calls if tools else 1,
        max_total_tokens=cfg.max_total_tokens,
        text=greedy,
        show_errors=False,
        tools=tools,
    )


def evaluate(
    backend: Backend,
    prompts: Sequence[Prompt],
    sandbox: SessionOpener,
    cfg: EvalConfig,
    tools: bool = True,
    weights: dict[str, float] | None = None,
) -> tuple[dict[str, Any], list[Rollout]]:
    """Run ``backend`` on every prompt and summarise.

    Args:
        backend (`Backend`): local policy or OpenAI-compatible endpoint.
        prompts (`Sequence[Prompt]`): the benchmark.
        sandbox (`sandbox.Sandbox`): runs the code (strict when ``cfg.strict``).
        cfg (`EvalConfig`): bounds.
        tools (`bool`, *optional*, defaults to `True`): Thyme prompt and loop, or direct answer in one call.
        weights (`dict`, *optional*): reward weights for the reported mean reward.
    """
    timer, rollouts = Timer(), []
    for i, prompt in enumerate(prompts):
        conversation = (
            None
            if tools
            else no_tool_conversation({"question": prompt.question, "image": {"bytes": prompt.image}})
        )
        rollouts.append(
            rollout(
                backend,
                sandbox,
                prompt,
                _config(cfg, tools),
                cfg.strict,
                seed=i,
                timer=timer,
                conversation=conversation,
            )
        )
    report = summarize(prompts, rollouts, weights or {"accuracy": 1.0, "format": 0.5, "consistency": 0.5})
    report.update(tools=tools, generate_s=timer.generate_s, sandbox_s=timer.sandbox_s)
    return report, rollouts


def summarize(
    prompts: Sequence[Prompt], rollouts: Sequence[Rollout], weights: dict[str, float]
) -> dict[str, Any]:
    """Accuracy (overall and per family), format validity, code rates, errors by type, turns, mean reward."""
    completions = [r.response for r in rollouts]
    rewards, parts = score(
        completions,
        weights,
        answer=[p.answer for p in prompts],
        answer_type=[p.answer_type for p in prompts],
        choices=[p.choices for p in prompts],
        question=[p.question for p in prompts],
    )
    accuracy = parts.get("accuracy", [0.0] * len(prompts))
    per_family: dict[str, list[float]] = defaultdict(list)
    for prompt, acc in zip(prompts, accuracy, strict=True):
        per_family[prompt.family].append(acc or 0.0)
    return {
        "n": len(prompts),
        "accuracy": mean(a or 0.0 for a in accuracy) if prompts else 0.0,
        "accuracy_per_family": {f: mean(v) for f, v in sorted(per_family.items())},
        "format_valid_rate": mean(not fmt.check(c) for c in completions) if prompts else 0.0,
        "answered_rate": mean(r.finish == "answer" for r in rollouts) if prompts else 0.0,
        "mean_reward": mean(rewards) if prompts else 0.0,
        "mean_turns": mean(r.calls for r in rollouts) if prompts else 0.0,
        **code_stats(rollouts),
        "code_errors": code_errors(rollouts),
    }
