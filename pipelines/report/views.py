"""One shard row as what the report shows of it (a JSON-able view) and what its filters need (an
:class:`Entry`).

Accepted rows are SFT records or RL prompts; dead letters carry their input as a JSON payload whose bytes are
in ``payload_blobs``. When that input is itself a record or a task (it holds a question), its images, turns
and checks are shown like an accepted record's, beside the raw payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.report.images import image_ext, write_images
from pipelines.report.trajectory import turns_of

__all__ = [
    "PAYLOAD_CHARS",
    "Entry",
    "accepted_images",
    "accepted_view",
    "dead_images",
    "dead_view",
    "find_record",
]

PAYLOAD_CHARS = 20_000  # the payload shown per dead letter; the shard keeps all of it
_SEARCH_CHARS = 400


@dataclass(frozen=True, slots=True)
class Entry:
    """The filterable facts of one record: its facets, its checks as ``(name, passed)``, and search text."""

    id: str
    kind: str  # "a" (accepted) or "d" (dead letter)
    family: str = ""
    stage: str = ""
    reason: str = ""
    checks: tuple[tuple[str, bool], ...] = ()
    text: str = field(default="", repr=False)


def accepted_images(row: dict[str, Any]) -> list[bytes]:
    """The image bytes an accepted row shows: an SFT record's ``images``, an RL prompt's ``image``."""
    return [img["bytes"] for img in row["images"]] if "images" in row else [row["image"]["bytes"]]


def dead_images(row: dict[str, Any]) -> list[bytes]:
    """The image bytes a dead-letter row shows: its input record's images (broken ones included), then any
    other payload blob that is an image by its bytes."""
    return _dead_input(row)[2]


def _dead_input(row: dict[str, Any]) -> tuple[Any, dict[str, Any] | None, list[bytes]]:
    """``(payload, the record or task in it, the images it shows)`` of a dead-letter row."""
    blobs = row["payload_blobs"] or []
    payload = json.loads(row["payload"]) if row["payload"] else None
    record = find_record(payload)
    refs = (
        [i for i in _blob_refs(record.get("images", record.get("image"))) if i < len(blobs)] if record else []
    )
    picked = refs + [i for i, b in enumerate(blobs) if i not in refs and image_ext(b) is not None]
    return payload, record, [blobs[i] for i in picked]


def accepted_view(row: dict[str, Any], root: Path, shard: str) -> tuple[dict[str, Any], Entry]:
    """The view of an accepted row: an SFT record, or an RL prompt (``image`` instead of ``images``)."""
    view = {"kind": "a", "shard": shard, **_record(row, write_images(root, accepted_images(row)))}
    return view, _entry(view, "a")


def dead_view(row: dict[str, Any], root: Path, shard: str) -> tuple[dict[str, Any], Entry]:
    """The view of a dead-letter row: stage, reason, detail, the payload, and its input shown as a record."""
    blobs = row["payload_blobs"] or []
    payload, record, shown = _dead_input(row)
    images = write_images(root, shown)
    text = json.dumps(payload, indent=1, ensure_ascii=False)
    view: dict[str, Any] = {
        "kind": "d",
        "shard": shard,
        "id": row["id"],
        "stage": row["stage"],
        "reason": row["reason"],
        "detail": row["detail"],
        "payload": text[:PAYLOAD_CHARS],
        "payload_chars": len(text),
        "blobs": [len(b) for b in blobs],
    }
    view["record"] = _record(record, images) if record is not None else {"images": images}
    return view, _entry(view, "d")


def find_record(payload: Any, depth: int = 3) -> dict[str, Any] | None:
    """The first dict in ``payload`` (breadth first, ``depth`` levels) that holds a question or a family: the
    record or task a dead letter was made from.

    Example:
        >>> find_record({"input": {"id": "a", "family": "crop"}, "traceback": "..."})
        {'id': 'a', 'family': 'crop'}
    """
    level = [payload]
    for _ in range(depth):
        for item in level:
            if isinstance(item, dict) and ("question" in item or "family" in item):
                return item
        level = [v for item in level if isinstance(item, dict | list) for v in _children(item)]
    return None


def _children(item: dict | list) -> list[Any]:
    return list(item.values()) if isinstance(item, dict) else item


def _blob_refs(images: Any) -> list[int]:
    """Blob numbers of a payload's image field: a list of ``{"bytes": {"__blob__": n}}`` or one such value."""
    items = images if isinstance(images, list) else [images]
    refs = []
    for item in items:
        ref = item.get("bytes", item) if isinstance(item, dict) else None
        if isinstance(ref, dict) and isinstance(ref.get("__blob__"), int):
            refs.append(ref["__blob__"])
    return refs


def _record(row: dict[str, Any], images: list[dict[str, Any]]) -> dict[str, Any]:
    """What a record or task shows: question, answer, images, turns, checks, tool evidence, provenance,
    parameters."""
    executions = row.get("executions") or []
    view = {
        "id": row.get("id", ""),
        "family": row.get("family") or "",
        "question": row.get("question") or "",
        "answer": row.get("answer") or "",
        "answer_type": row.get("answer_type") or "",
        "size": row.get("image_size"),
        "images": images,
        "checks": row.get("checks") or [],
        "provenance": row.get("provenance"),
        "params": row.get("task_params") or "",
        "evidence": row.get("tool_evidence"),
    }
    for key in ("difficulty", "choices"):
        if key in row:
            view[key] = row[key]
    if row.get("response"):
        view["trajectory"] = turns_of(row["response"], executions)
        if "raw" in view["trajectory"]:
            view["executions"] = executions  # no turn to attach them to
    return view


def _entry(view: dict[str, Any], kind: str) -> Entry:
    record = view if kind == "a" else view["record"]
    checks = tuple((c["name"], bool(c["passed"])) for c in record.get("checks", []))
    failed = " ".join(f"{c['reason']} {c['detail']}" for c in record.get("checks", []) if not c["passed"])
    parts = (view["id"], record.get("family", ""), view.get("reason", ""), view.get("detail", ""), failed)
    text = " ".join((*parts, record.get("question", ""), record.get("answer", "")))
    return Entry(
        id=view["id"],
        kind=kind,
        family=record.get("family", ""),
        stage=view.get("stage", ""),
        reason=view.get("reason", ""),
        checks=checks,
        text=text.lower()[:_SEARCH_CHARS],
    )
