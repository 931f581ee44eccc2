"""Typed configuration of the OpenAI-compatible teacher (the ``teacher:`` section of ``pipeline.yaml``).

Sampling is not configured here: every call takes it from the agent loop's :class:`~synthesis.agent.Sampling`
(``temperature``, ``top_p``, ``max_new_tokens`` as ``max_tokens``, ``seed``). ``top_k`` and
``repetition_penalty`` are not OpenAI parameters; they are sent only when ``extended_sampling`` is on (vLLM
and SGLang read them from the request body; OpenAI rejects them).

The API key never lives in the file: ``api_key_env`` names the environment variable, and whoever builds the
backend reads it with :func:`runconfig.keys.api_key` (library code reads no environment).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

from runconfig import storage

__all__ = ["EndpointConfig", "endpoint_default", "endpoint_of", "NO_KEY", "TeacherConfig"]

NO_KEY = "none"  # what local servers (vLLM, SGLang, transformers serve) accept when no key is configured


@dataclass
class EndpointConfig:
    """An OpenAI-compatible endpoint, defined once for every section that talks to one (the teacher, the
    judge, the difficulty filter): where it is, which model, which variable holds its key, how long a request
    may take.

    Example:
        >>> EndpointConfig(base_url="localhost:8000")
        Traceback (most recent call last):
        ...
        ValueError: base_url must start with http:// or https://, got 'localhost:8000'
    """

    base_url: str = field(
        default="http://127.0.0.1:8000/v1", metadata={"help": "OpenAI-compatible endpoint, ending in /v1."}
    )
    model: str = field(
        default="Qwen2.5-VL-72B-Instruct", metadata={"help": "Model name sent in every request."}
    )
    api_key_env: str = field(
        default="OPENAI_API_KEY",
        metadata={"help": "Environment variable holding the key (never the key itself); unset means 'none'."},
    )
    timeout_s: float = field(default=120.0, metadata={"help": "Per-request timeout."})

    def __post_init__(self):
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.model:
            raise ValueError("model must name the served model (see GET <base_url>/models)")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")


def endpoint_default(name: str, value: Any) -> Any:
    """A section's own default for one :class:`EndpointConfig` field, the field's help kept (so the field is
    still defined once).

    Example:
        >>> endpoint_default("model", "m").metadata["help"]
        'Model name sent in every request.'
    """
    return field(default=value, metadata=EndpointConfig.__dataclass_fields__[name].metadata)


def endpoint_of(cfg: EndpointConfig) -> dict[str, Any]:
    """The :class:`EndpointConfig` fields of any section built on it, e.g. to build a :class:`TeacherConfig`.

    Example:
        >>> sorted(endpoint_of(TeacherConfig()))
        ['api_key_env', 'base_url', 'model', 'timeout_s']
    """
    return {f.name: getattr(cfg, f.name) for f in fields(EndpointConfig)}


@dataclass
class TeacherConfig(EndpointConfig):
    """Endpoint (a timeout is retried), retry policy, cache and request shape of the OpenAI-compatible
    teacher."""

    max_retries: int = field(
        default=5, metadata={"help": "Retries after the first attempt before the call is recorded as failed."}
    )
    backoff_base_s: float = field(
        default=1.0,
        metadata={"help": "First backoff; doubled per retry, with jitter (a server's Retry-After wins)."},
    )
    backoff_max_s: float = field(
        default=60.0, metadata={"help": "Cap on one backoff sleep (Retry-After included)."}
    )
    concurrency: int = field(
        default=8,
        metadata={
            "help": "Requests in flight at once through one backend; build_sft keeps this many rollouts "
            "running per worker process (and as many queued behind them)."
        },
    )
    fatal_after: int = field(
        default=3,
        metadata={
            "help": "Stop the run after this many identical failures in a row that no retry fixes (401/403, "
            "unknown model, the same 400); 0 never stops."
        },
    )
    preflight: bool = field(
        default=True,
        metadata={
            "help": "Before the first request the cache cannot answer, send one 1-token request and stop at "
            "once on a bad key, an unknown model, nothing listening or a 400 every request gets."
        },
    )
    cache_path: str = field(
        default="cache/teacher.sqlite",
        metadata={
            "help": "Persistent request cache: a sqlite file (relative to the working directory, or "
            "absolute), or an object-store prefix (s3://bucket/cache) that workers sharing no disk share; '' "
            "disables it. Reruns make no request twice."
        },
    )
    message_mode: Literal["turns", "continue"] = field(
        default="turns",
        metadata={
            "help": "How the partial assistant message is sent: 'turns' (portable: sandbox outputs as user "
            "messages) or 'continue' (vLLM/SGLang: one final assistant message, continue_final_message)."
        },
    )
    send_stop: bool = field(
        default=True,
        metadata={
            "help": "Send stop strings; false cuts at them client-side (transformers serve VLMs return 500)."
        },
    )
    extended_sampling: bool = field(
        default=False,
        metadata={"help": "Also send Sampling.top_k and repetition_penalty in the body (vLLM/SGLang only)."},
    )
    image_detail: Literal["auto", "low", "high", ""] = field(
        default="",
        metadata={"help": "OpenAI image_url detail; '' leaves it out (most local servers ignore it)."},
    )
    extra_body: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "Extra request fields passed through verbatim (server-specific)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.backoff_base_s < 0 or self.backoff_max_s < self.backoff_base_s:
            raise ValueError("need 0 <= backoff_base_s <= backoff_max_s")
        if self.max_retries < 0 or self.concurrency < 1 or self.fatal_after < 0:
            raise ValueError(
                "need max_retries >= 0, concurrency >= 1 and fatal_after >= 0, got "
                f"{self.max_retries}, {self.concurrency}, {self.fatal_after}"
            )
        problem = _cache_path_problem(self.cache_path)
        if problem:
            raise ValueError(f"cache_path {self.cache_path!r} {problem}")


def _cache_path_problem(path: str) -> str:
    """Why ``path`` cannot name the cache file ('' when it can, or when it is '' and disables the cache).

    Example:
        >>> [_cache_path_problem(p) for p in ("", "c.sqlite", "/abs/c.sqlite", "cache/", "a\\0b")]
        ['', '', '', 'names a folder, not a file', 'contains a NUL byte']
        >>> _cache_path_problem("s3://bucket/teacher-cache"), _cache_path_problem("s3:/bucket")[:19]
        ('', 'is not a local path')
    """
    if "\0" in path:
        return "contains a NUL byte"
    if storage.is_remote(path):  # a key prefix: one object per request under it
        return storage.location_problem(path, storage.CACHES_END_TO_END)
    if path and (path.endswith("/") or path.rsplit("/", 1)[-1] in (".", "..")):
        return "names a folder, not a file"
    return ""
