"""The optional LLM judge: an OpenAI-compatible chat endpoint asked the original's two questions.

The protocol follows the original reward plugin (thyme.md §6.5): text only (no image), temperature 0.1, at
most 256 tokens, up to 3 attempts, the first ``{...}`` of the reply parsed as JSON: ``{"Correctness": 0|1}``
for an answer against the reference, ``{"Consistency": 0|1}`` for the last 500 characters of reasoning against
the final answer. The judge is the one piece of I/O a check may use: it is passed in, never created by
a check.
"""

from __future__ import annotations

import json
import re
from typing import Protocol

from synthesis.prompts import CONSISTENCY_PROMPT, CORRECTNESS_PROMPT
from validators.config import JudgeConfig

__all__ = ["CONSISTENCY_PROMPT", "CORRECTNESS_PROMPT", "Judge", "OpenAIJudge", "parse_reply"]

_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


class Judge(Protocol):
    """What the answer and consistency checks need from a judge; None means "no usable verdict"."""

    def correct(self, question: str, predicted: str, truth: str) -> bool | None: ...

    def consistent(self, reasoning: str, answer: str) -> bool | None: ...


def parse_reply(text: str, key: str) -> bool | None:
    """The 0/1 value of ``key`` in the first JSON object of a judge reply, or None when there is none.

    Args:
        text (`str`): the judge's reply.
        key (`str`): ``"Correctness"`` or ``"Consistency"``.

    Example:
        >>> parse_reply('Sure. {"Correctness": 1} done', "Correctness")
        True
        >>> parse_reply("no json here", "Correctness") is None
        True
    """
    match = _OBJECT.search(text or "")
    if not match:
        return None
    try:
        value = json.loads(match.group(0)).get(key)
    except (json.JSONDecodeError, AttributeError):
        return None
    if value in (0, 1) or value in ("0", "1"):
        return bool(int(value))
    return None


class OpenAIJudge:
    """A :class:`Judge` behind an OpenAI-compatible endpoint (vLLM, ``transformers serve``, ...).

    Args:
        cfg (`JudgeConfig`): endpoint, model and sampling.
        api_key (`str`, *optional*, defaults to `"EMPTY"`): the key; whoever builds the judge reads it with
            ``runconfig.keys.api_key(cfg.api_key_env)`` (validators read no environment).
    """

    def __init__(self, cfg: JudgeConfig, api_key: str = "EMPTY") -> None:
        import openai

        self.cfg = cfg
        self._errors = (openai.OpenAIError, ValueError, KeyError, IndexError, TypeError)
        self._client = openai.OpenAI(
            base_url=cfg.base_url, api_key=api_key or "EMPTY", timeout=cfg.timeout_s, max_retries=0
        )

    def _ask(self, prompt: str, key: str) -> bool | None:
        for _ in range(self.cfg.attempts):
            try:
                reply = self._client.chat.completions.create(
                    model=self.cfg.model,
                    messages=[{"role": "user", "content": prompt}],
                    temperature=self.cfg.temperature,
                    max_tokens=self.cfg.max_tokens,
                )
                decision = parse_reply(reply.choices[0].message.content or "", key)
            except self._errors:
                decision = None
            if decision is not None:
                return decision
        return None

    def correct(self, question: str, predicted: str, truth: str) -> bool | None:
        """Ask whether ``predicted`` answers ``question`` correctly given the reference ``truth``."""
        return self._ask(
            CORRECTNESS_PROMPT.format(question=question, predicted=predicted, truth=truth), "Correctness"
        )

    def consistent(self, reasoning: str, answer: str) -> bool | None:
        """Ask whether the reasoning tail reaches the same conclusion as ``answer``."""
        return self._ask(CONSISTENCY_PROMPT.format(reasoning=reasoning, answer=answer), "Consistency")
