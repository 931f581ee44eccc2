"""Where a dead letter of build_sft re-enters the pipeline, decided from its stage and the payload it carries.

A dead letter's payload is the input of the stage that turned it down (``stages.reject`` gets it from the
DoFn; ``exception_letters`` wraps it as ``{"input", "traceback"}``), so each letter re-enters at that stage: a
planned item before ``GenerateTasks``, a source-file row (or a whole file slice) before the task-file or Thyme
import, a task before the teacher, a stored draft before ``VerifyTrajectories``, an accepted record before the
duplicate checks. A letter that cannot re-enter keeps its stage and payload and gets a ``replay_*`` reason
that says why: nothing a replay cannot handle vanishes, and a later replay (once the file is back) retries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import SourcesConfig
from synthesis.importers.common import RowGroup
from synthesis.records import DeadLetter
from synthesis.tasks.task import Task

__all__ = ["ENTRIES", "Selection", "entry_of", "record_row", "stays"]

ENTRIES = (
    "generate",
    "task_rows",
    "thyme_rows",
    "task_slices",
    "thyme_slices",
    "tasks",
    "drafts",
    "accepted",
)
"""Where letters re-enter, in pipeline order; ``dead`` is the letters that cannot."""


@dataclass(frozen=True)
class Selection:
    """Which dead letters a replay re-runs: those of any of ``stages`` and any of ``reasons`` (empty = all).

    Example:
        >>> s = Selection(stages=("validate",), reasons=("images_contrast_not_raised", "answer_mismatch"))
        >>> s.matches("validate", "answer_mismatch"), s.matches("dedupe", "answer_mismatch")
        (True, False)
        >>> Selection().matches("any", "thing")
        True
    """

    reasons: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()

    def matches(self, stage: str, reason: str) -> bool:
        return (not self.stages or stage in self.stages) and (not self.reasons or reason in self.reasons)


def stays(letter: DeadLetter, reason: str, why: str) -> DeadLetter:
    """``letter`` kept, with its stage and payload, under a ``replay_*`` reason saying why it was not re-run.

    Example:
        >>> letter = DeadLetter(id="a", stage="import", reason="import_bad_image", detail="x")
        >>> stays(letter, "replay_source_missing", "f.jsonl is gone").detail
        'f.jsonl is gone (was import_bad_image: x)'
    """
    detail = f"{why} (was {letter.reason}: {letter.detail})"[:2000]
    return DeadLetter(id=letter.id, stage=letter.stage, reason=reason, detail=detail, payload=letter.payload)


def record_row(payload: Any) -> dict | None:
    """The SFT record row a validate or dedupe letter carries, or None when it carries none (an exception's
    payload holds only the record id).

    Example:
        >>> record_row({"id": "a", "response": "r", "images": []})["id"]
        'a'
        >>> record_row({"input": "a", "traceback": ""}) is None
        True
    """
    if isinstance(payload, dict) and {"id", "response", "images"} <= set(payload):
        return payload
    return None


def _stage_input(payload: Any) -> Any:
    """The stage's input: unwrapped from an exception letter's ``{"input", "traceback"}``."""
    if isinstance(payload, dict) and set(payload) == {"input", "traceback"}:
        return payload["input"]
    return payload


def _source_kind(path: str, sources: SourcesConfig) -> str | None:
    """``task`` or ``thyme``: which of the run's sources the file ``path`` is, None when neither."""
    wanted = Path(path).resolve()
    for kind, files in (("task", sources.task_files), ("thyme", sources.thyme_files)):
        if any(Path(f).resolve() == wanted for f in files):
            return kind
    return None


def _from_file(letter: DeadLetter, given: dict, sources: SourcesConfig) -> tuple[str, Any]:
    """A row (``{"id", "path", "index", "raw"}``) or a slice (``{"id", "group"}``) of a source file."""
    path = str(given["path"] if "raw" in given else given["group"]["path"])
    kind = _source_kind(path, sources)
    if kind is None:
        why = f"{path} is in neither sources.task_files nor sources.thyme_files of the run's config"
        return "dead", stays(letter, "replay_unknown_source", why)
    if not Path(path).is_file():  # its rows may name images relative to it, and a slice must be re-read
        return "dead", stays(letter, "replay_source_missing", f"source file {path} is gone")
    if "raw" in given:
        return f"{kind}_rows", given
    return f"{kind}_slices", {"id": given["id"], "group": RowGroup(**given["group"])}


def entry_of(letter: DeadLetter, sources: SourcesConfig) -> tuple[str, Any]:
    """Where ``letter`` re-enters build_sft, and the element it re-enters with: one of :data:`ENTRIES`, or
    ``("dead", letter)`` with a ``replay_*`` reason when its payload cannot be re-run.

    Args:
        letter (`DeadLetter`): a dead letter of a build_sft run, payload decoded.
        sources (`SourcesConfig`): the run's sources: an import letter's file must be one of them.

    Example:
        >>> letter = DeadLetter(
        ...     id="crop-000001",
        ...     stage="generate",
        ...     reason="exception_ValueError",
        ...     detail="",
        ...     payload={"input": {"id": "crop-000001", "family": "crop", "seed": 1}, "traceback": "tb"},
        ... )
        >>> entry_of(letter, SourcesConfig())
        ('generate', {'id': 'crop-000001', 'family': 'crop', 'seed': 1})
        >>> entry_of(DeadLetter(id="x", stage="validate", reason="format_bad", detail=""), SourcesConfig())[0]
        'drafts'
        >>> odd = DeadLetter(id="x", stage="teacher", reason="r", detail="", payload=[])
        >>> kept = entry_of(odd, SourcesConfig())
        >>> kept[0], kept[1].reason
        ('dead', 'replay_unsupported')
    """
    given = _stage_input(letter.payload)
    try:
        if letter.stage == "generate" and isinstance(given, dict):
            return "generate", {"id": given["id"], "family": given["family"], "seed": int(given["seed"])}
        if letter.stage == "import" and isinstance(given, dict) and ("raw" in given or "group" in given):
            return _from_file(letter, given, sources)
        if letter.stage == "teacher" and isinstance(given, dict):
            return "tasks", Task.from_dict(given)
        if letter.stage in ("validate", "dedupe"):  # their record is in the run's store, or in the payload
            return ("drafts" if letter.stage == "validate" else "accepted"), letter
    except (KeyError, TypeError, ValueError) as err:
        why = f"its payload is not a {letter.stage} input ({type(err).__name__}: {err})"
        return "dead", stays(letter, "replay_unsupported", why)
    return "dead", stays(letter, "replay_unsupported", f"no {letter.stage} input in its payload to re-run")
