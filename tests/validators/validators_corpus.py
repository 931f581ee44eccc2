"""Good trajectories from the programmatic teacher, and the tools to corrupt them.

``good_record`` runs the real teacher (real sandbox, real images) on the first seed of a family whose task has
a wanted property. ``rebuild`` swaps code blocks and re-runs them in a strict session, so a corrupted record
is self-consistent (its images and printed values are what its code really produces) and only the defect that
the corruption introduces remains.
"""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from synthesis import format as fmt
from synthesis.records import Execution, Provenance, SftRecord
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import generate_task
from synthesis.teacher import teach
from validators.execution import input_image_name


def teacher_record(sb, family: str, seed: int) -> SftRecord:
    task = generate_task(family, seed)
    rollout = teach(task, sb)
    return record_from_rollout(
        task,
        rollout,
        Provenance(source="generated", generator="programmatic", generator_version="test", seed=task.seed),
    )


def _params(r: SftRecord) -> dict:
    return r.task_params.get("params") or {}


BASES = {
    "crop_text": ("crop", lambda r: r.answer_type == "text"),
    "crop_choice": ("crop", lambda r: r.answer_type == "choice"),
    "compute": ("compute", lambda r: r.answer_type == "number" and "." not in r.answer),
    "rotate": ("rotate", lambda r: _params(r).get("rotation") not in (180,)),
    "contrast": ("contrast", lambda r: True),
    "multi_round": ("multi_round", lambda r: len(r.images) == 3 and _params(r).get("mode") == "wrong"),
    "no_code": ("no_code", lambda r: True),
}


def good_record(sb, family: str, predicate, seeds: range = range(200)) -> SftRecord:
    for seed in seeds:
        record = teacher_record(sb, family, seed)
        if predicate(record):
            return record
    raise LookupError(f"no {family} seed in {seeds} has the wanted property")


def replace(record: SftRecord, **changes) -> SftRecord:
    return dataclasses.replace(record, **changes)


def rebuild(record: SftRecord, sb, codes: list[str]) -> SftRecord:
    """``record`` with ``codes`` as its code blocks, re-run strictly: new outputs, images, executions."""
    traj = fmt.parse(record.response)
    codes_iter = iter(codes)
    segments, images, executions = [], [record.images[0]], []
    seed = record.provenance.seed if record.provenance else 0
    with sb.session(
        images=[record.images[0]],
        image_name=input_image_name(record),
        strict=True,
        item_id=record.id,
        seed=seed,
    ) as session:
        for segment in traj.segments:
            if isinstance(segment, fmt.Code):
                code = next(codes_iter)
                result = session.run(code)
                segments.append(fmt.Code(code, segment.lead, segment.trail))
            elif isinstance(segment, fmt.SandboxOutput):
                start = len(images)
                images.extend(result.images)
                segments.append(
                    fmt.SandboxOutput(len(result.images), "" if result.images else result.feedback)
                )
                executions.append(
                    Execution(
                        code=code,
                        code_as_run=result.code_as_run,
                        status=result.status.value,
                        stdout=result.stdout,
                        stderr=result.stderr,
                        error_type=result.error_type,
                        error_message=result.error_message,
                        fixes=tuple(result.fixes),
                        image_indices=tuple(range(start, len(images))),
                    )
                )
            else:
                segments.append(segment)
    response = fmt.render(fmt.Trajectory(tuple(segments), traj.separator, traj.answer))
    return replace(record, response=response, images=tuple(images), executions=tuple(executions))


def codes(record: SftRecord) -> list[str]:
    return fmt.code_blocks(fmt.parse(record.response))


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")
