"""Record types of every shard this project writes, defined once: dataclasses plus their Arrow schemas.

Three records leave a pipeline: an accepted SFT trajectory (:class:`SftRecord`), an RL prompt
(:class:`RlPrompt`), and a rejected or failed input (:class:`DeadLetter`). Each schema is derived from a
Hugging Face ``datasets.Features`` so the Parquet files carry the ``huggingface`` metadata that makes
``datasets.load_dataset("parquet", ...)`` decode image columns as PIL images.

Rows hold no wall-clock values (timestamps, durations): the same config and seed must give byte-identical
shards. Timings go to the run's stats and manifest instead.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import datasets
import pyarrow as pa

__all__ = [
    "Check",
    "DeadLetter",
    "Execution",
    "Provenance",
    "RlPrompt",
    "SftRecord",
    "ToolEvidence",
    "DEAD_LETTER_SCHEMA",
    "RL_SCHEMA",
    "SFT_SCHEMA",
    "decode_payload",
    "encode_payload",
    "to_table",
]

_str, _bool, _i32, _i64, _f64 = (datasets.Value(t) for t in ("string", "bool", "int32", "int64", "float64"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """One executed code block of a trajectory, as the sandbox ran it."""

    code: str  # as the model wrote it
    code_as_run: str  # after fix-ups (equal to `code` in strict mode)
    status: str  # sandbox.ExecStatus value: ok / error / timeout / memory / output-limit / killed / refused
    stdout: str = ""  # capped excerpt
    stderr: str = ""  # capped excerpt
    error_type: str = ""  # exception type name as the model saw it, "" when ok
    error_message: str = ""
    fixes: tuple[str, ...] = ()  # fix-ups `code` needs to run as recorded, e.g. ("fix_crop_clamp",)
    image_indices: tuple[
        int, ...
    ] = ()  # positions in the record's `images` of the images this block produced
    fixes_rewritten: tuple[
        str, ...
    ] = ()  # fix-ups folded into `code` (the `rewrite` policy): it needs none now


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """A validator's verdict on a record; `reason` is a snake_case code prefixed by the check family."""

    name: str
    passed: bool
    reason: str = ""
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """Where a record came from, enough to regenerate it."""

    source: str  # "generated" | "imported" | "user"
    generator: str  # generator or teacher name, e.g. "programmatic" or "openai:gpt-4o"
    generator_version: str
    seed: int
    sandbox_config_hash: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolEvidence:
    """Why a record's tool step was needed, measured from its pixels and code (``validators.evidence``).

    ``needed`` is ``yes`` when the measurements show the model could not have read the answer at its input
    resolution (or the text did not do the arithmetic) and the code's effect made it readable; ``no`` when
    they show the step added nothing; ``unknown`` when what is needed to tell (e.g. the target's size in an
    imported record) is not known. Every number is ``None`` when it was not measured.
    """

    kind: str  # zoom | rotate | enhance | compute | none | unknown
    needed: str  # yes | no | unknown
    reason: str  # one line that explains the verdict with the numbers behind it
    input_scale: float | None = None  # model-input px per original px of images[0] (the processor's resize)
    magnification: float | None = (
        None  # model-input px per original px of the zoomed region, over input_scale
    )
    target_px_before: float | None = None  # target's short side at model input, original image
    target_px_after: float | None = None  # the same after the tool step
    angle_applied: float | None = None  # counter-clockwise degrees the code turned the image, measured
    angle_residual: float | None = None  # how far from upright the output is, when the correction is known
    contrast_before: float | None = None  # RMS contrast of the input
    contrast_after: float | None = None  # RMS contrast of the tool's output
    arithmetic_ops: int | None = None  # arithmetic operations in the code


@dataclass(frozen=True, slots=True, kw_only=True)
class SftRecord:
    """An accepted SFT trajectory: original image first, then every processed image in order."""

    id: str
    images: tuple[bytes, ...]
    question: str  # the raw question (the Thyme user template is rendered from it at training time)
    image_size: tuple[int, int]  # (width, height) of images[0]
    response: str  # the full assistant message in Thyme format
    answer: str  # ground truth
    answer_type: str  # choice / number / text / yes_no
    family: str  # crop / rotate / contrast / compute / multi_round / no_code / imported
    task_params: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable generator parameters
    executions: tuple[Execution, ...] = ()
    checks: tuple[Check, ...] = ()
    provenance: Provenance | None = None
    tool_evidence: ToolEvidence | None = None

    def to_row(self) -> dict[str, Any]:
        """The Parquet row of this record (images as ``{"bytes", "path"}``, params as canonical JSON)."""
        return {
            "id": self.id,
            "images": [_image(b) for b in self.images],
            "question": self.question,
            "image_size": {"width": self.image_size[0], "height": self.image_size[1]},
            "response": self.response,
            "answer": self.answer,
            "answer_type": self.answer_type,
            "family": self.family,
            "task_params": _canonical_json(self.task_params),
            "executions": [_plain(e) for e in self.executions],
            "checks": [_plain(c) for c in self.checks],
            "provenance": _plain(self.provenance) if self.provenance else None,
            "tool_evidence": _plain(self.tool_evidence) if self.tool_evidence else None,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> SftRecord:
        """Inverse of :meth:`to_row` (accepts rows read back with pyarrow, and rows written before
        ``tool_evidence`` existed)."""
        prov, evidence = row.get("provenance"), row.get("tool_evidence")
        return cls(
            id=row["id"],
            images=tuple(img["bytes"] for img in row["images"]),
            question=row["question"],
            image_size=(row["image_size"]["width"], row["image_size"]["height"]),
            response=row["response"],
            answer=row["answer"],
            answer_type=row["answer_type"],
            family=row["family"],
            task_params=json.loads(row["task_params"] or "{}"),
            executions=tuple(_build(Execution, e) for e in row["executions"] or ()),
            checks=tuple(_build(Check, c) for c in row["checks"] or ()),
            provenance=_build(Provenance, prov) if prov else None,
            tool_evidence=_build(ToolEvidence, evidence) if evidence else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RlPrompt:
    """An RL prompt: no trajectory, only what the reward needs."""

    id: str
    image: bytes
    question: str
    image_size: tuple[int, int]
    answer: str
    answer_type: str
    family: str
    difficulty: float
    choices: tuple[str, ...] = ()
    task_params: dict[str, Any] = field(default_factory=dict)
    provenance: Provenance | None = None
    tool_evidence: ToolEvidence | None = None

    @classmethod
    def from_task(cls, task: Any) -> RlPrompt:
        """The RL prompt of a generated :class:`~synthesis.tasks.Task` (its params kept for analysis,
        never shown to the policy); the one mapping of a task to a prompt, which the trainer's held-out set
        reads too."""
        return cls(
            id=task.id,
            image=task.image,
            question=task.question,
            image_size=(task.width, task.height),
            answer=task.answer,
            answer_type=task.answer_type,
            family=task.family,
            difficulty=float(task.difficulty),
            choices=tuple(task.choices),
            task_params={"params": task.params, "target": list(task.target) if task.target else None},
            provenance=Provenance(
                source="generated",
                generator=f"tasks.{task.family}",
                generator_version="0.1.0",
                seed=task.seed,
            ),
        )

    def to_row(self) -> dict[str, Any]:
        """The Parquet row of this prompt."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["image"] = _image(self.image)
        row["image_size"] = {"width": self.image_size[0], "height": self.image_size[1]}
        row["choices"] = list(self.choices)
        row["task_params"] = _canonical_json(self.task_params)
        row["provenance"] = _plain(self.provenance) if self.provenance else None
        row["tool_evidence"] = _plain(self.tool_evidence) if self.tool_evidence else None
        return row


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    """A record that did not make it, with the stage and reason, and its complete input for replay."""

    id: str
    stage: str  # pipeline stage that rejected it, e.g. "teacher", "execute", "validate"
    reason: str  # snake_case reason code, e.g. "answer_mismatch" or "exception_ValueError"
    detail: str  # human-readable explanation
    payload: Any = None  # the complete input: JSON-like data, bytes allowed anywhere inside

    def to_row(self) -> dict[str, Any]:
        """The Parquet row: the payload as JSON text, with its bytes values moved to ``payload_blobs``."""
        text, blobs = encode_payload(self.payload)
        return {
            "id": self.id,
            "stage": self.stage,
            "reason": self.reason,
            "detail": self.detail,
            "payload": text,
            "payload_blobs": blobs,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DeadLetter:
        """Inverse of :meth:`to_row`; the payload comes back with its bytes restored, ready for replay."""
        return cls(
            id=row["id"],
            stage=row["stage"],
            reason=row["reason"],
            detail=row["detail"],
            payload=decode_payload(row["payload"], row["payload_blobs"]),
        )


_EXECUTION = {
    "code": _str,
    "code_as_run": _str,
    "status": _str,
    "stdout": _str,
    "stderr": _str,
    "error_type": _str,
    "error_message": _str,
    "fixes": datasets.List(_str),
    "image_indices": datasets.List(_i32),
    "fixes_rewritten": datasets.List(_str),
}
_CHECK = {"name": _str, "passed": _bool, "reason": _str, "detail": _str}
_PROVENANCE = {
    "source": _str,
    "generator": _str,
    "generator_version": _str,
    "seed": _i64,
    "sandbox_config_hash": _str,
}
_SIZE = {"width": _i32, "height": _i32}
_EVIDENCE = {
    "kind": _str,
    "needed": _str,
    "reason": _str,
    "input_scale": _f64,
    "magnification": _f64,
    "target_px_before": _f64,
    "target_px_after": _f64,
    "angle_applied": _f64,
    "angle_residual": _f64,
    "contrast_before": _f64,
    "contrast_after": _f64,
    "arithmetic_ops": _i32,
}

SFT_FEATURES = datasets.Features(
    {
        "id": _str,
        "images": datasets.List(datasets.Image()),
        "question": _str,
        "image_size": _SIZE,
        "response": _str,
        "answer": _str,
        "answer_type": _str,
        "family": _str,
        "task_params": _str,
        "executions": datasets.List(_EXECUTION),
        "checks": datasets.List(_CHECK),
        "provenance": _PROVENANCE,
        "tool_evidence": _EVIDENCE,
    }
)
RL_FEATURES = datasets.Features(
    {
        "id": _str,
        "image": datasets.Image(),
        "question": _str,
        "image_size": _SIZE,
        "answer": _str,
        "answer_type": _str,
        "family": _str,
        "difficulty": _f64,
        "choices": datasets.List(_str),
        "task_params": _str,
        "provenance": _PROVENANCE,
        "tool_evidence": _EVIDENCE,
    }
)
DEAD_LETTER_FEATURES = datasets.Features(
    {
        "id": _str,
        "stage": _str,
        "reason": _str,
        "detail": _str,
        "payload": _str,
        "payload_blobs": datasets.List(datasets.Value("binary")),
    }
)

SFT_SCHEMA: pa.Schema = SFT_FEATURES.arrow_schema
RL_SCHEMA: pa.Schema = RL_FEATURES.arrow_schema
DEAD_LETTER_SCHEMA: pa.Schema = DEAD_LETTER_FEATURES.arrow_schema


def to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows (from ``to_row``) as an Arrow table with exactly ``schema``, metadata included.

    Example:
        >>> to_table(
        ...     [DeadLetter(id="a", stage="validate", reason="format_bad", detail="x").to_row()],
        ...     DEAD_LETTER_SCHEMA,
        ... ).num_rows
        1
    """
    return pa.Table.from_pylist(rows, schema=schema)


def encode_payload(payload: Any) -> tuple[str, list[bytes]]:
    """Canonical JSON text of ``payload`` with every ``bytes`` value replaced by a reference into a blob list.

    Tuples become lists. Non-JSON values (other than bytes) are written as their ``repr`` under
    ``{"__repr__": ...}`` so a dead letter can always be written, whatever the failing input held.

    Example:
        >>> encode_payload({"img": b"\\x89PNG", "n": 1})
        ('{"img":{"__blob__":0},"n":1}', [b'\\x89PNG'])
    """
    blobs: list[bytes] = []

    def enc(value: Any) -> Any:
        if isinstance(value, bytes | bytearray | memoryview):
            blobs.append(bytes(value))
            return {"__blob__": len(blobs) - 1}
        if isinstance(value, dict):
            return {str(k): enc(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [enc(v) for v in value]
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if hasattr(value, "__dataclass_fields__"):
            return enc(asdict(value))
        return {"__repr__": repr(value)}

    return _canonical_json(enc(payload)), blobs


def decode_payload(text: str, blobs: list[bytes]) -> Any:
    """Inverse of :func:`encode_payload` (tuples come back as lists).

    Example:
        >>> decode_payload(*encode_payload({"img": b"x", "ok": [1, 2]}))
        {'img': b'x', 'ok': [1, 2]}
    """

    def dec(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"__blob__"}:
                return blobs[value["__blob__"]]
            return {k: dec(v) for k, v in value.items()}
        if isinstance(value, list):
            return [dec(v) for v in value]
        return value

    return dec(json.loads(text))


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _image(data: bytes) -> dict[str, Any]:
    return {"bytes": data, "path": None}


def _plain(obj: Any) -> dict[str, Any]:
    return {f.name: (list(v) if isinstance(v := getattr(obj, f.name), tuple) else v) for f in fields(obj)}


def _build(cls: type, row: dict[str, Any]) -> Any:
    kwargs = {f.name: row[f.name] for f in fields(cls) if f.name in row}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()})
