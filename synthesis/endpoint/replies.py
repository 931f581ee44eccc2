"""Endpoint replies and errors as ``teacher_*`` reason codes: what the teacher retries, and what it records.

Reason codes: ``teacher_rate_limited`` (429), ``teacher_server_error`` (5xx), ``teacher_timeout`` (client
timeout or 408), ``teacher_connection_error`` (refused or dropped), ``teacher_truncated_reply`` (the body
ended before its declared length), ``teacher_malformed_reply`` (not JSON, no choices, empty content, an
unexpected finish_reason, text that is not valid Unicode) are retried; ``teacher_auth_error`` (401/403),
``teacher_model_not_found`` (404: no such model, or no chat-completions route at the URL),
``teacher_bad_request`` (other 4xx), ``teacher_content_filter`` and ``teacher_unencodable_request`` (the
conversation holds text no JSON body can carry) are not, since resending the same request cannot help. The
first three, repeated, stop the run (:mod:`synthesis.endpoint.errors`).
"""

from __future__ import annotations

from typing import Any

from synthesis.endpoint.cache import CachedReply

__all__ = ["TeacherFailure", "classify", "parse_completion"]


class TeacherFailure(Exception):
    """One failed attempt: a ``teacher_*`` reason code, a detail, whether to retry, a server-given delay."""

    def __init__(self, reason: str, detail: str, retry: bool = True, retry_after: float | None = None):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.retry, self.retry_after = reason, detail, retry, retry_after


def classify(openai: Any, err: Exception) -> TeacherFailure:
    """The reason code of a client exception, and whether it is worth retrying.

    Args:
        openai (`module`): the ``openai`` package (imported lazily by the backend), for its exception classes.
        err (`Exception`): what the client raised; a 429's ``Retry-After`` header is kept for the backoff.
    """
    detail = f"{type(err).__name__}: {str(err)[:300]}"
    if isinstance(err, openai.APITimeoutError):
        return TeacherFailure("teacher_timeout", detail)
    if isinstance(err, openai.APIConnectionError):
        if type(err.__cause__).__name__ == "RemoteProtocolError":  # httpx: the body ended before its length
            return TeacherFailure("teacher_truncated_reply", f"{detail} ({err.__cause__})")
        return TeacherFailure("teacher_connection_error", detail)
    if isinstance(err, openai.RateLimitError):
        return TeacherFailure("teacher_rate_limited", detail, retry_after=_retry_after(err))
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        if status >= 500:
            return TeacherFailure("teacher_server_error", detail)
        if status == 408:
            return TeacherFailure("teacher_timeout", detail)
        if status in (401, 403):
            return TeacherFailure("teacher_auth_error", detail, retry=False)
        if status == 404:
            return TeacherFailure("teacher_model_not_found", detail, retry=False)
        return TeacherFailure("teacher_bad_request", detail, retry=False)
    return TeacherFailure(
        "teacher_malformed_reply", detail
    )  # APIResponseValidationError and other decode trouble


def _retry_after(err: Any) -> float | None:
    value = err.response.headers.get("retry-after") if getattr(err, "response", None) is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def parse_completion(completion: Any) -> CachedReply:
    """The text, finish reason and usage of a chat completion; raises a retryable failure when it is
    malformed.

    Args:
        completion (`Any`): the decoded reply (an ``openai`` ``ChatCompletion``); read defensively, since
            OpenAI-compatible servers differ (vLLM adds ``stop_reason``, some omit ``usage``).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> msg = NS(content="<think>a", model_extra={})
        >>> parse_completion(
        ...     NS(choices=[NS(message=msg, finish_reason="length", model_extra={})], usage=None)
        ... )
        CachedReply(text='<think>a', finish_reason='length', prompt_tokens=0, completion_tokens=0,
        stop_reason=None)
    """
    choices = getattr(completion, "choices", None)
    if not choices:
        raise TeacherFailure("teacher_malformed_reply", "reply has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str) or not text:
        raise TeacherFailure("teacher_malformed_reply", "reply has empty content")
    bad = _lone_surrogate(text)
    if bad is not None:  # a JSON "\ud800" escape: no record, request or Parquet file can hold it
        raise TeacherFailure(
            "teacher_malformed_reply", f"reply is not valid Unicode (lone surrogate at {bad})"
        )
    finish = choice.finish_reason or "stop"
    if finish == "content_filter":
        raise TeacherFailure("teacher_content_filter", "the server filtered the reply", retry=False)
    if finish not in ("stop", "length"):
        raise TeacherFailure("teacher_malformed_reply", f"unexpected finish_reason {finish!r}")
    stop_reason = (getattr(choice, "model_extra", None) or {}).get("stop_reason")
    usage = getattr(completion, "usage", None)
    return CachedReply(
        text,
        finish,
        int(getattr(usage, "prompt_tokens", 0) or 0),
        int(getattr(usage, "completion_tokens", 0) or 0),
        stop_reason if isinstance(stop_reason, str) else None,
    )


def _lone_surrogate(text: str) -> int | None:
    """Index of the first lone surrogate in ``text``, None when it is valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return err.start
    return None
