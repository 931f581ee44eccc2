"""Turn a finished rollout of any teacher into the SFT record it claims to be (before validation)."""

from __future__ import annotations

from synthesis.agent import Rollout
from synthesis.records import Execution, Provenance, SftRecord
from synthesis.tasks import Task

__all__ = ["EXCERPT_CHARS", "record_from_rollout"]

EXCERPT_CHARS = 2000  # stdout/stderr kept per execution; the full text is not needed to judge or replay


def _executions(rollout: Rollout) -> tuple[Execution, ...]:
    """Executions with the positions of their images in the record's image list (the input is image 0)."""
    executions, next_image = [], len(rollout.conversation.images)
    shown = iter(p for p in rollout.conversation.pieces if p.source == "sandbox")
    for step in rollout.executions:
        result = step.result
        piece = next(shown, None) if step.shown else None
        count = len(piece.images) if piece is not None else 0
        executions.append(
            Execution(
                code=step.code,
                code_as_run=result.code_as_run,
                status=result.status.value,
                stdout=result.stdout[:EXCERPT_CHARS],
                stderr=result.stderr[-EXCERPT_CHARS:],
                error_type=result.error_type,
                error_message=result.error_message[:EXCERPT_CHARS],
                fixes=tuple(result.fixes),
                image_indices=tuple(range(next_image, next_image + count)),
            )
        )
        next_image += count
    return tuple(executions)


def record_from_rollout(task: Task, rollout: Rollout, provenance: Provenance) -> SftRecord:
    """The SFT record of ``rollout`` on ``task``: images in ``<image>`` order, executions, no checks yet.

    Args:
        task (`Task`): the task the rollout answered.
        rollout (`Rollout`): the finished rollout (its response is stored as is; validators judge it).
        provenance (`Provenance`): who made it, with which seed and sandbox config.
    """
    return SftRecord(
        id=task.id,
        images=tuple(rollout.conversation.all_images),
        question=task.question,
        image_size=(task.width, task.height),
        response=rollout.response,
        answer=task.answer,
        answer_type=task.answer_type,
        family=task.family,
        task_params={
            "params": task.params,
            "choices": list(task.choices),
            "target": list(task.target) if task.target else None,
            "difficulty": task.difficulty,
        },
        executions=_executions(rollout),
        provenance=provenance,
    )
