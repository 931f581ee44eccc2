"""Rollouts of any backend on :class:`~train.data.Prompt` s through the one agent loop, with timing and stats.

GRPO, the ATS comparison and evaluation all call :func:`rollout`: one sandbox session per trajectory (seeded,
strict or not), ``synthesis.agent.run_agent`` for the protocol, and wrappers that time generation and sandbox
execution separately (the GRPO step breakdown of ``bench/train.py``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.opener import SessionOpener
from synthesis.agent import AgentConfig, Backend, Conversation, Generation, Rollout, Sampling, run_agent
from train.data import Prompt

__all__ = ["Timer", "ats_agent_config", "code_errors", "code_stats", "dangling_code", "rollout"]


@dataclass
class Timer:
    """Seconds spent generating and executing code, accumulated over rollouts."""

    generate_s: float = 0.0
    sandbox_s: float = 0.0
    calls: int = 0
    blocks: int = 0
    per_call: list[float] = field(default_factory=list)


class _TimedBackend:
    def __init__(self, backend: Backend, timer: Timer):
        self.backend, self.timer = backend, timer

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        start = time.perf_counter()
        try:
            return self.backend.generate(conversation, sampling, stop)
        finally:
            self.timer.generate_s += time.perf_counter() - start
            self.timer.calls += 1


class _TimedSession:
    def __init__(self, session, timer: Timer):
        self.session, self.timer = session, timer

    def run(self, code: str):
        start = time.perf_counter()
        try:
            return self.session.run(code)
        finally:
            self.timer.sandbox_s += time.perf_counter() - start
            self.timer.blocks += 1


def ats_agent_config(
    ats: str,
    text_temperature: float,
    code_temperature: float,
    max_calls: int,
    max_new_tokens: int,
    max_total_tokens: int,
    top_p: float = 1.0,
    seed: int | None = None,
    show_errors: bool = True,
) -> AgentConfig:
    """The loop's settings for a sampling scheme.

    ``segments`` stops text at ``<code>`` and samples the block with ``code_temperature`` (Thyme's ATS);
    ``logits_processor`` and ``off`` sample every call like text (the backend does per-token ATS for the
    former).

    Example:
        >>> ats_agent_config("segments", 1.0, 0.0, 5, 64, 256).code.temperature
        0.0
        >>> ats_agent_config("off", 1.0, 0.0, 5, 64, 256).code is None
        True
    """
    text = Sampling(temperature=text_temperature, top_p=top_p, max_new_tokens=max_new_tokens, seed=seed)
    code = (
        Sampling(temperature=code_temperature, max_new_tokens=max_new_tokens, seed=seed)
        if ats == "segments"
        else None
    )
    return AgentConfig(
        max_calls=max_calls, max_total_tokens=max_total_tokens, text=text, code=code, show_errors=show_errors
    )


def rollout(
    backend: Backend,
    sandbox: SessionOpener,
    prompt: Prompt,
    cfg: AgentConfig,
    strict: bool = True,
    seed: int = 0,
    timer: Timer | None = None,
    conversation: Conversation | None = None,
) -> Rollout:
    """One trajectory of ``backend`` on ``prompt`` in a fresh sandbox session.

    Args:
        backend (`Backend`): the policy or an endpoint.
        sandbox (`sandbox.Sandbox`): the pool.
        prompt (`Prompt`): question, image and ground truth.
        cfg (`AgentConfig`): bounds and sampling.
        strict (`bool`, *optional*, defaults to `True`): run code as written (no fix-ups).
        seed (`int`, *optional*, defaults to `0`): the session's ``random``/``numpy`` seed.
        timer (`Timer`, *optional*): receives generation and sandbox time.
        conversation (`Conversation`, *optional*): a different rendering of the prompt (e.g. no tools).
    """
    timer = timer or Timer()
    conv = conversation or prompt.conversation()
    with sandbox.session(
        images=[prompt.image], image_name=prompt.image_file, strict=strict, item_id=prompt.id, seed=seed
    ) as session:
        return run_agent(_TimedBackend(backend, timer), _TimedSession(session, timer), conv, cfg)


def dangling_code(r: Rollout) -> bool:
    """Whether the rollout ended inside a code block it never got to run (malformed or cut off).

    Example:
        >>> from synthesis.agent import Piece
        >>> dangling_code(Rollout(Conversation("s", "u", (), [Piece("model", "<think>a<code>x = (")])))
        True
    """
    tail = []
    for piece in reversed(r.conversation.pieces):
        if piece.source == "sandbox":
            break
        tail.append(piece.text)
    text = "".join(reversed(tail))
    return "<code>" in text and "</answer>" not in text


def code_errors(rollouts: Sequence[Rollout]) -> dict[str, int]:
    """Failed blocks by the exception class the model saw (its status when none), most frequent first.

    Rates say how often code fails; this says why (a wrong input path is a ``FileNotFoundError`` in strict
    mode, a crop box with five numbers a ``ValueError``). A block the loop could not run is ``unclosed``.

    Example:
        >>> code_errors([Rollout(Conversation("s", "u", ()))])
        {}
    """
    counts = Counter(
        e.result.error_type or e.result.status.value
        for r in rollouts
        for e in r.executions
        if not e.result.ok
    )
    counts["unclosed"] += sum(1 for r in rollouts if dangling_code(r))
    return {kind: n for kind, n in counts.most_common() if n}


def code_stats(rollouts: Sequence[Rollout]) -> dict[str, float]:
    """Code use and execution over rollouts; a block the loop could not run counts as a failed attempt.

    Example:
        >>> code_stats([Rollout(Conversation("s", "u", ()))])
        {'code_attempts': 0, 'code_failure_rate': 0.0, 'code_exec_rate': 0.0, 'code_use_rate': 0.0}
    """
    blocks = [e for r in rollouts for e in r.executions]
    dangling = sum(1 for r in rollouts if dangling_code(r))
    attempts = len(blocks) + dangling
    failed = sum(1 for e in blocks if not e.result.ok) + dangling
    return {
        "code_attempts": attempts,
        "code_failure_rate": failed / attempts if attempts else 0.0,
        "code_exec_rate": (attempts - failed) / attempts if attempts else 0.0,
        "code_use_rate": sum(1 for r in rollouts if r.executions or dangling_code(r)) / len(rollouts)
        if rollouts
        else 0.0,
    }
