"""What each stored record depends on, as a short key: resume recomputes exactly the records whose inputs
changed.

A record in the run's store is reused only when its key matches. The key of a trajectory covers its input (the
task's image, question and answer, or the released row's every field), the teacher's identity and sampling
(model, message layout, agent loop), and the sandbox's behaviour; the key of an accepted record adds the
validators' settings. Run knobs that change no record (endpoint URL, concurrency, timeouts, retries, cache
location, worker counts, output layout) are left out, so a rerun through another endpoint or runner reuses
everything.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

from runconfig.typed import to_dict
from validators.evidence import MEASURE_VERSION

__all__ = ["digest", "import_key", "task_key", "teacher_identity", "verified_key"]

_RUN_KNOBS = frozenset(
    {
        "base_url",
        "api_key_env",
        "timeout_s",
        "max_retries",
        "backoff_base_s",
        "backoff_max_s",
        "concurrency",
        "cache_path",
    }
)


def digest(*parts: Any) -> str:
    """16 hex of a sha256 over ``parts`` (bytes as they are, anything else as canonical JSON).

    Example:
        >>> digest(b"img", {"q": 1}) == digest(b"img", {"q": 1}) != digest(b"img", {"q": 2})
        True
    """
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=_plain).encode()
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    if hasattr(value, "__dataclass_fields__"):
        return to_dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return repr(value)


def teacher_identity(section: Any, version: str) -> dict:
    """The teacher settings a trajectory depends on: its kind and version, and for a model teacher its model,
    request layout and agent loop (never its endpoint URL, concurrency, timeouts or cache)."""
    if section.kind == "programmatic":
        return {"kind": "programmatic", "version": version}
    endpoint = {
        f.name: getattr(section.openai, f.name) for f in fields(section.openai) if f.name not in _RUN_KNOBS
    }
    return {
        "kind": section.kind,
        "version": version,
        "endpoint": to_dict(endpoint),
        "agent": to_dict(section.agent),
    }


def task_key(task: Any, teacher: dict, sandbox_hash: str) -> str:
    """Key of the trajectory written for ``task`` (a :class:`~synthesis.tasks.Task`)."""
    return digest(
        task.image, {k: v for k, v in task.to_dict().items() if k != "image"}, teacher, sandbox_hash
    )


def import_key(raw: dict, importer_version: str, sandbox_hash: str, strict: bool) -> str:
    """Key of the record imported from the released row ``raw`` (every field of the row counts)."""
    return digest(raw, importer_version, sandbox_hash, strict)


def verified_key(draft_key: str, validators: Any) -> str:
    """Key of an accepted record: its trajectory's key, the validators' settings and the evidence measure."""
    return digest(draft_key, to_dict(validators), MEASURE_VERSION)
