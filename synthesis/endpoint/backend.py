"""The OpenAI-compatible teacher: a :class:`~synthesis.agent.Backend` over any chat-completions endpoint.

OpenAI, vLLM, SGLang and ``transformers serve`` all work through the ``openai`` client: images travel as data
URLs, the conversation is rendered by :mod:`synthesis.endpoint.messages`, and replies are stored in a
persistent :class:`~synthesis.endpoint.cache.RequestCache` so a rerun makes no request twice and returns
identical output.

Endpoint trouble never raises into the agent loop. 429, 5xx, timeouts, dropped connections and malformed
replies (no choices, empty content, a body that is not JSON) are retried with exponential backoff and jitter
(the client's own retries are off, so the policy, its counts and its reasons are ours); after ``max_retries``
the call returns ``Generation(finish_reason="error", error="teacher_<reason>: <detail>")`` and the rollout
ends as a recorded ``backend_error``. A reply cut at ``max_tokens`` is not an error: it comes back as
``"length"``.

Trouble that fails every request alike is not per-record: it raises
:class:`~synthesis.endpoint.errors.FatalTeacherError` with one line naming the cause, either at the preflight
(one uncached 1-token request before the first request the cache cannot answer, so a rerun served from the
cache sends none) or after ``fatal_after`` identical non-retryable failures in a row (401/403, 404, the same
400). From then on every call raises it at once, so the rollouts still in flight stop without another request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from synthesis.agent import Conversation, Generation, Sampling, cut_at_stop
from synthesis.endpoint.cache import CachedReply, open_cache, request_key
from synthesis.endpoint.config import NO_KEY, TeacherConfig
from synthesis.endpoint.errors import FATAL_REASONS, FatalTeacherError, fatal_error
from synthesis.endpoint.messages import CONTINUE_FLAGS, restore_stop, to_messages
from synthesis.endpoint.replies import TeacherFailure, classify, parse_completion
from synthesis.format import ANSWER_CLOSE, CODE_CLOSE

__all__ = ["OpenAIBackend", "TeacherStats"]

logger = logging.getLogger(__name__)

PREFLIGHT_USER = "Describe the image in one word."


@dataclass
class TeacherStats:
    """Totals of one backend, for the run stats; token counts are split into fetched and served from cache.

    ``requests`` counts every attempt sent for a call (retries included), ``retries`` and ``failures`` count
    by reason code, ``preflight_requests`` the uncached probes, and ``fatal`` holds the line that stopped the
    run.
    """

    calls: int = 0
    requests: int = 0
    preflight_requests: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    retries: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)
    fatal: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Plain data (reason counters as sorted dicts), ready for a JSON stats file."""
        out = {k: v for k, v in vars(self).items() if not isinstance(v, Counter)}
        out["retries"], out["failures"] = (
            dict(sorted(self.retries.items())),
            dict(sorted(self.failures.items())),
        )
        return out


class OpenAIBackend:
    """Continue Thyme conversations through an OpenAI-compatible endpoint, with retries and a request cache.

    Thread-safe: many rollouts may call :meth:`generate` at once (see
    :func:`synthesis.endpoint.batch.run_many`); at most ``cfg.concurrency`` requests are in flight through one
    backend. :meth:`generate` raises :class:`~synthesis.endpoint.errors.FatalTeacherError` (a
    ``BaseException``) when the endpoint refuses every request; any other trouble comes back as a failed
    :class:`~synthesis.agent.Generation`.

    Args:
        cfg (`TeacherConfig`): endpoint, retry policy, cache and request shape.
        api_key (`str`, *optional*, defaults to `"none"`): the key; the pipeline reads it with
            :func:`runconfig.keys.api_key` from the variable ``cfg.api_key_env`` names.
        sleep (`Callable[[float], None]`, *optional*, defaults to `time.sleep`): how backoff waits (tests pass
            a recorder).
    """

    def __init__(
        self, cfg: TeacherConfig, api_key: str = NO_KEY, sleep: Callable[[float], None] = time.sleep
    ):
        import openai
        from openai.types.chat import ChatCompletion

        self.cfg = cfg
        self.stats = TeacherStats()
        self._openai, self._completion_type = openai, ChatCompletion
        self._client = openai.OpenAI(
            base_url=cfg.base_url, api_key=api_key or NO_KEY, timeout=cfg.timeout_s, max_retries=0
        )
        self.cache = open_cache(cfg.cache_path) if cfg.cache_path else None
        self._slots = threading.BoundedSemaphore(cfg.concurrency)
        self._lock = threading.Lock()
        self._sleep = sleep
        self._rng = random.Random()  # jitter only: it never changes what is generated
        self._preflight_lock = threading.Lock()
        self._preflight_done = False
        self._streak: tuple[tuple[str, str] | None, int] = (
            None,
            0,
        )  # the last non-retryable failure, repeats

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
            extra |= {
                "top_k": sampling.top_k if sampling.top_k > 0 else -1,
                "repetition_penalty": sampling.repetition_penalty,
            }
        if self.cfg.message_mode == "continue" and conversation.pieces:
            extra |= CONTINUE_FLAGS
        return body | extra

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        """Continue ``conversation`` until a stop string; endpoint trouble comes back as
        ``finish_reason="error"``.

        Args:
            conversation (`Conversation`): system, user turn and the assistant message so far.
            sampling (`Sampling`): this call's decoding settings (``max_new_tokens`` is sent as
                ``max_tokens``).
            stop (`Sequence[str]`): stop strings; the returned text ends with the one that ended it.
        """
        self._raise_if_fatal()
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
            if self.cfg.preflight:
                self.preflight()
            try:
                reply = self._fetch(body)
            except TeacherFailure as failure:
                self._failed(failure)  # raises FatalTeacherError when the same refusal repeats
                return Generation("", "error", error=str(failure))
            with self._lock:
                self._streak = (None, 0)
            if self.cache is not None:
                self.cache.put(key, reply)
        return self._generation(conversation, reply, stop)

    def preflight(self) -> None:
        """Send one uncached 1-token request shaped like a real one; raise if the endpoint refuses every
        request.

        Raises :class:`~synthesis.endpoint.errors.FatalTeacherError` on a bad key (401/403), an unknown model
        (404), nothing listening (connection refused, unknown host) or a 400 (the probe carries the configured
        extra fields, sampling fields, stop strings and an image, so a shape the server refuses is refused
        here too). A slow, overloaded or odd reply passes: the retries handle those per request. Runs once per
        backend; with ``cfg.preflight`` :meth:`generate` calls it before its first request the cache cannot
        answer.
        """
        if self._preflight_done:
            return
        with self._preflight_lock:
            if self._preflight_done:
                return
            self._raise_if_fatal()
            try:
                self._probe()
            except FatalTeacherError as err:
                self._set_fatal(str(err))
                raise
            self._preflight_done = True

    def check_endpoint(self, timeout_s: float = 5.0) -> None:
        """A free check before a run starts: ``GET /models`` (no tokens, nothing cached, nothing billed).

        Raises :class:`~synthesis.endpoint.errors.FatalTeacherError` when nothing listens, the key is refused,
        or the server lists models and the configured one is not among them. Anything inconclusive (no
        ``/models`` route, a 5xx, a timeout) passes: the preflight and the retries judge those. The launcher
        calls it, so a refused run ends before any worker starts; a rerun served from the record store sends
        nothing else.
        """
        client = self._client.with_options(max_retries=0, timeout=timeout_s)
        try:
            listed = [model.id for model in client.models.list().data]
        except self._openai.APIConnectionError as err:
            if type(err.__cause__).__name__ == "ConnectError":
                raise FatalTeacherError(f"cannot connect to {self.cfg.base_url}: {err.__cause__}") from None
            return
        except self._openai.OpenAIError as err:
            failure = classify(self._openai, err)
            if failure.reason == "teacher_auth_error":
                raise fatal_error(failure.reason, failure.detail, self.cfg.base_url, self.cfg.model) from None
            return
        except (ValueError, AttributeError, TypeError):  # a /models reply in another shape: inconclusive
            return
        if listed and self.cfg.model not in listed:
            raise fatal_error(
                "teacher_model_not_found",
                f"the server lists {', '.join(listed[:5])}",
                self.cfg.base_url,
                self.cfg.model,
            )

    def _probe(self) -> None:
        conversation = Conversation("You are a helpful assistant.", PREFLIGHT_USER, (_probe_image(),))
        body = self.request(conversation, Sampling(max_new_tokens=1), [CODE_CLOSE, ANSWER_CLOSE])
        with self._lock:
            self.stats.preflight_requests += 1
        try:
            self._client.post(
                "/chat/completions",
                cast_to=self._completion_type,
                body=body,
                options={"headers": {"X-Thyme-Preflight": "1"}},
            )  # tells it apart in server logs
        except self._openai.APIConnectionError as err:
            if type(err.__cause__).__name__ == "ConnectError":  # httpx: refused, unknown host, unreachable
                raise FatalTeacherError(f"cannot connect to {self.cfg.base_url}: {err.__cause__}") from None
            logger.warning("teacher preflight: %s (left to the retries)", classify(self._openai, err))
        except self._openai.OpenAIError as err:
            failure = classify(self._openai, err)
            if failure.reason in FATAL_REASONS:
                raise fatal_error(failure.reason, failure.detail, self.cfg.base_url, self.cfg.model) from None
            logger.warning("teacher preflight: %s (left to the retries)", failure)
        except ValueError as err:  # a body the client could not decode: the server answered
            logger.warning("teacher preflight: undecodable reply (%s)", err)

    def _failed(self, failure: TeacherFailure) -> None:
        """Count a failed call; the ``fatal_after``-th identical refusal in a row makes the backend fatal."""
        with self._lock:
            self.stats.failures[failure.reason] += 1
            refusal = (failure.reason, failure.detail) if failure.reason in FATAL_REASONS else None
            repeats = self._streak[1] + 1 if refusal is not None and refusal == self._streak[0] else 1
            self._streak = (refusal, repeats)
            if refusal is not None and 0 < self.cfg.fatal_after <= repeats and not self.stats.fatal:
                err = fatal_error(failure.reason, failure.detail, self.cfg.base_url, self.cfg.model)
                self.stats.fatal = f"{err} ({repeats} requests in a row)"
        self._raise_if_fatal()

    def _set_fatal(self, message: str) -> None:
        with self._lock:
            self.stats.fatal = self.stats.fatal or message

    def _raise_if_fatal(self) -> None:
        if self.stats.fatal:  # a fresh instance per raise: threads must not share one traceback
            raise FatalTeacherError(self.stats.fatal)

    def _generation(self, conversation: Conversation, reply: CachedReply, stop: Sequence[str]) -> Generation:
        text, finish = reply.text, reply.finish_reason
        if not self.cfg.send_stop:
            text, found = cut_at_stop(text, stop)
            finish = "stop" if found else finish
        elif finish == "stop":  # from the model's own segment only: sandbox outputs may print any tag
            text = restore_stop(conversation.segment, text, stop, reply.stop_reason)
        return Generation(
            text,
            "length" if finish == "length" else "stop",
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
        )

    def _fetch(self, body: dict[str, Any]) -> CachedReply:
        """One call with the retry policy; raises :class:`TeacherFailure` once it gives up."""
        for attempt in range(self.cfg.max_retries + 1):
            self._raise_if_fatal()  # another rollout found the endpoint dead: stop retrying
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
        # post() sends the body as is: no per-call params transform (milliseconds), and exactly what is hashed
        try:
            completion = self._client.post("/chat/completions", cast_to=self._completion_type, body=body)
        except self._openai.OpenAIError as err:
            raise classify(self._openai, err) from None
        except UnicodeEncodeError as err:  # the conversation itself holds text no JSON body can carry
            raise TeacherFailure("teacher_unencodable_request", str(err)[:300], retry=False) from None
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


@cache
def _probe_image() -> bytes:
    """A small grey PNG for the preflight: real requests all carry an image, so the probe does too."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (128, 128, 128)).save(buf, format="PNG")
    return buf.getvalue()
