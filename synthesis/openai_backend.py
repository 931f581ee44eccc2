"""The OpenAI-compatible teacher: a :class:`~synthesis.agent.Backend` over any chat-completions endpoint.

OpenAI, vLLM, SGLang and ``transformers serve`` all work through the ``openai`` client: images travel as data
URLs, the conversation is rendered by :mod:`synthesis.openai_messages`, and replies are stored in a persistent
:class:`~synthesis.request_cache.RequestCache` so a rerun makes no request twice and returns identical output.

Endpoint trouble never raises into the agent loop. 429, 5xx, timeouts, dropped connections and malformed
replies (no choices, empty content, a body that is not JSON) are retried with exponential backoff and jitter
(the client's own retries are off, so the policy, its counts and its reasons are ours); after ``max_retries``
the call returns ``Generation(finish_reason="error", error="teacher_<reason>: <detail>")`` and the rollout ends
as a recorded ``backend_error``. A reply cut at ``max_tokens`` is not an error: it comes back as ``"length"``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from synthesis.agent import Conversation, Generation, Sampling
from synthesis.openai_config import NO_KEY, TeacherConfig
from synthesis.openai_messages import CONTINUE_FLAGS, cut_at_stop, restore_stop, to_messages
from synthesis.openai_replies import TeacherFailure, classify, parse_completion
from synthesis.request_cache import CachedReply, RequestCache, request_key

__all__ = ["OpenAIBackend", "TeacherStats"]

logger = logging.getLogger(__name__)


@dataclass
class TeacherStats:
    """Totals of one backend, for the run stats; token counts are split into fetched and served from cache."""

    calls: int = 0
    requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (reason counters as sorted dicts), ready for a JSON stats file."""
        out = {k: v for k, v in vars(self).items() if not isinstance(v, Counter)}
        out["retries"], out["failures"] = dict(sorted(self.retries.items())), dict(sorted(self.failures.items()))
        return out


class OpenAIBackend:
    """Continue Thyme conversations through an OpenAI-compatible endpoint, with retries and a request cache.

    Thread-safe: many rollouts may call :meth:`generate` at once (see :func:`synthesis.batch.run_many`); at most
    ``cfg.concurrency`` requests are in flight through one backend.

    Args:
        cfg (`TeacherConfig`): endpoint, retry policy, cache and request shape.
        api_key (`str`, *optional*, defaults to `"none"`): the key; the pipeline reads it with
            :func:`synthesis.openai_config.api_key` from the variable ``cfg.api_key_env`` names.
        sleep (`Callable[[float], None]`, *optional*, defaults to `time.sleep`): how backoff waits (tests pass a
            recorder).
    """

    def __init__(self, cfg: TeacherConfig, api_key: str = NO_KEY, sleep: Callable[[float], None] = time.sleep):
        import openai
        from openai.types.chat import ChatCompletion

        self.cfg = cfg
        self.stats = TeacherStats()
        self._openai, self._completion_type = openai, ChatCompletion
        self._client = openai.OpenAI(base_url=cfg.base_url, api_key=api_key or NO_KEY, timeout=cfg.timeout_s,
                                     max_retries=0)
        self.cache = RequestCache(cfg.cache_path) if cfg.cache_path else None
        self._slots = threading.BoundedSemaphore(cfg.concurrency)
        self._lock = threading.Lock()
        self._sleep = sleep
        self._rng = random.Random()  # jitter only: it never changes what is generated

    def request(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> dict[str, Any]:
        """The request body of one call, exactly as sent (and as hashed into the cache key)."""
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "messages": to_messages(conversation, self.cfg.message_mode, self.cfg.image_detail),
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_new_tokens,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if self.cfg.send_stop and stop:
            body["stop"] = list(stop)
        extra = dict(self.cfg.extra_body)
        if self.cfg.extended_sampling:
            extra |= {"top_k": sampling.top_k if sampling.top_k > 0 else -1,
                      "repetition_penalty": sampling.repetition_penalty}
        if self.cfg.message_mode == "continue" and conversation.pieces:
            extra |= CONTINUE_FLAGS
        return body | extra

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        """Continue ``conversation`` until a stop string; endpoint trouble comes back as ``finish_reason="error"``.

        Args:
            conversation (`Conversation`): system, user turn and the assistant message so far.
            sampling (`Sampling`): this call's decoding settings (``max_new_tokens`` is sent as ``max_tokens``).
            stop (`Sequence[str]`): stop strings; the returned text ends with the one that ended it.
        """
        body = self.request(conversation, sampling, stop)
        key = request_key(body)
        reply = self.cache.get(key) if self.cache is not None else None
        with self._lock:
            self.stats.calls += 1
            self.stats.cache_hits += reply is not None
            self.stats.cache_misses += reply is None and self.cache is not None
            if reply is not None:
                self.stats.cached_prompt_tokens += reply.prompt_tokens
                self.stats.cached_completion_tokens += reply.completion_tokens
        if reply is None:
            try:
                reply = self._fetch(body)
            except TeacherFailure as failure:
                with self._lock:
                    self.stats.failures[failure.reason] += 1
                return Generation("", "error", error=str(failure))
            if self.cache is not None:
                self.cache.put(key, reply)
        return self._generation(conversation, reply, stop)

    def _generation(self, conversation: Conversation, reply: CachedReply, stop: Sequence[str]) -> Generation:
        text, finish = reply.text, reply.finish_reason
        if not self.cfg.send_stop:
            text, found = cut_at_stop(text, stop)
            finish = "stop" if found else finish
        elif finish == "stop":
            text = restore_stop(conversation.assistant, text, stop, reply.stop_reason)
        return Generation(text, "length" if finish == "length" else "stop", prompt_tokens=reply.prompt_tokens,
                          completion_tokens=reply.completion_tokens)

    def _fetch(self, body: dict[str, Any]) -> CachedReply:
        """One call with the retry policy; raises :class:`TeacherFailure` once it gives up."""
        for attempt in range(self.cfg.max_retries + 1):
            try:
                with self._slots:
                    return self._attempt(body)
            except TeacherFailure as failure:
                if not failure.retry or attempt == self.cfg.max_retries:
                    raise
                with self._lock:
                    self.stats.retries[failure.reason] += 1
                logger.debug("retrying after %s (attempt %d)", failure, attempt + 1)
                self._sleep(self._backoff(attempt, failure.retry_after))
        raise AssertionError("unreachable")  # the last attempt either returns or raises

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cfg.backoff_max_s)
        delay = min(self.cfg.backoff_max_s, self.cfg.backoff_base_s * 2**attempt)
        return delay * (0.5 + 0.5 * self._rng.random())

    def _attempt(self, body: dict[str, Any]) -> CachedReply:
        with self._lock:
            self.stats.requests += 1
        try:  # post() sends the body as is: no per-call params transform (milliseconds), and exactly what is hashed
            completion = self._client.post("/chat/completions", cast_to=self._completion_type, body=body)
        except self._openai.OpenAIError as err:
            raise classify(self._openai, err) from None
        except ValueError as err:  # a body the client could not decode
            raise TeacherFailure("teacher_malformed_reply", f"{type(err).__name__}: {err}") from None
        reply = parse_completion(completion)
        with self._lock:
            self.stats.prompt_tokens += reply.prompt_tokens
            self.stats.completion_tokens += reply.completion_tokens
        return reply

    def close(self) -> None:
        """Close the HTTP client and the cache (best effort)."""
        self._client.close()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
