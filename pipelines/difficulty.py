"""Difficulty filtering of RL prompts: does a no-tool model already answer a prompt right every time?

GRPO learns nothing from a group whose rollouts all get the same reward; a prompt that a plain model solves at
every sample is such a group. The model is asked directly (no tools, no code), like the original's no-tool
fallback prompt, ``samples`` times with different seeds.
"""

from __future__ import annotations

from runconfig.keys import api_key
from synthesis import format as fmt
from synthesis.agent import Backend, Sampling, no_tool_conversation
from validators.answer import answers_match
from validators.config import AnswerCheckConfig

__all__ = ["difficulty_backend", "solved_every_time"]


def _predicted(text: str) -> str:
    answer = fmt.extract_answer(text)
    return (answer if answer is not None else text).strip()


def solved_every_time(
    backend: Backend,
    row: dict,
    samples: int,
    temperature: float,
    max_tokens: int,
    answer_cfg: AnswerCheckConfig,
) -> bool:
    """True when every one of ``samples`` direct answers matches the ground truth.

    Args:
        backend (`Backend`): the no-tool model.
        row (`dict`): an RL prompt row (``RlPrompt.to_row()``).
        samples (`int`): answers to sample (stops at the first wrong one).
        temperature (`float`): sampling temperature.
        max_tokens (`int`): tokens per answer.
        answer_cfg (`AnswerCheckConfig`): how answers are compared (the validators' answer check).
    """
    conversation = no_tool_conversation(row)
    for seed in range(samples):
        gen = backend.generate(
            conversation, Sampling(temperature=temperature, max_new_tokens=max_tokens, seed=seed), stop=[]
        )
        if gen.finish_reason == "error":
            return False  # unknown: keep the prompt rather than drop it on an endpoint failure
        verdict = answers_match(
            _predicted(gen.text), row["answer"], row["answer_type"], tuple(row["choices"]), answer_cfg
        )
        if not verdict.passed:
            return False
    return True


def difficulty_backend(cfg) -> Backend:
    """The no-tool model of :class:`~pipelines.config.DifficultyConfig` as an OpenAI-compatible backend."""
    from synthesis.endpoint.backend import OpenAIBackend
    from synthesis.endpoint.config import TeacherConfig, endpoint_of

    teacher = TeacherConfig(**endpoint_of(cfg), concurrency=cfg.concurrency, cache_path="")
    return OpenAIBackend(teacher, api_key(teacher.api_key_env))
