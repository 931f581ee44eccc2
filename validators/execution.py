"""Execution check: every block ran cleanly as written, and a strict re-run reproduces what the
trajectory claims.

Two parts. :func:`compare_execution` is pure: it compares the trajectory's claims (its code blocks, the
``<sandbox_output>`` after each, the images the placeholders stand for, the stored :class:`Execution` rows)
with the results of a strict re-run passed in. :func:`reexecute` is the I/O: it replays the blocks in one
strict session (no fix-ups) of a :class:`sandbox.Sandbox` the caller owns. Printed text must be identical
(after stripping); images must have the same size and a mean absolute pixel difference within
``max_pixel_diff``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import numpy as np

from sandbox import ExecResult
from sandbox.layout import INPUT_DIR
from sandbox.opener import SessionOpener
from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import ExecutionCheckConfig
from validators.verdict import Verdict, fail, ok

__all__ = ["code_fixes", "compare_execution", "input_image_name", "needs_fixups", "pixel_diff", "reexecute"]

CHECK = "exec"
_STATUS = {
    "error": "error",
    "timeout": "timeout",
    "memory": "memory",
    "output-limit": "output_limit",
    "killed": "killed",
    "refused": "refused",
}
_JPEG = b"\xff\xd8"
_TRANSPORT_FIXES = frozenset(
    {"fix_output_dir"}
)  # the supervisor's own path mapping, not a change to the code
_INPUT = re.compile(re.escape(INPUT_DIR) + r"([\w.-]+)")


def pixel_diff(a: bytes, b: bytes) -> float | None:
    """Mean absolute RGB difference (0-255) of two encoded images, None when their sizes differ.

    Example:
        >>> from PIL import Image
        >>> def png(v):
        ...     buf = io.BytesIO()
        ...     Image.new("RGB", (4, 4), (v, v, v)).save(buf, "PNG")
        ...     return buf.getvalue()
        >>> pixel_diff(png(10), png(13))
        3.0
    """
    from PIL import Image

    if a == b:
        return 0.0
    with Image.open(io.BytesIO(a)) as ia, Image.open(io.BytesIO(b)) as ib:
        if ia.size != ib.size:
            return None
        x = np.asarray(ia.convert("RGB"), np.int16)
        y = np.asarray(ib.convert("RGB"), np.int16)
    return float(np.abs(x - y).mean())


def _close(a: bytes, b: bytes, limit: float) -> bool:
    diff = pixel_diff(a, b)
    return diff is not None and diff <= limit


def _is_reordering(claimed: Sequence[bytes], got: Sequence[bytes], limit: float) -> bool:
    """Whether every claimed image matches a distinct re-run image (greedy; images are few)."""
    free = list(range(len(got)))
    for image in claimed:
        match = next((k for k in free if _close(image, got[k], limit)), None)
        if match is None:
            return False
        free.remove(match)
    return True


def _compare_images(claimed: Sequence[bytes], got: Sequence[bytes], limit: float) -> Verdict | None:
    """All produced images of the trajectory against all of the re-run's, in order."""
    if len(claimed) != len(got):
        return fail(
            CHECK,
            "image_count_mismatch",
            f"the trajectory holds {len(claimed)} produced images, the re-run produced {len(got)}",
        )
    for k, (c, g) in enumerate(zip(claimed, got, strict=True)):
        diff = pixel_diff(c, g)
        if diff is not None and diff <= limit:
            continue
        if _is_reordering(claimed, got, limit):
            return fail(CHECK, "image_order", "the produced images are the re-run's, in another order")
        if diff is None:
            return fail(CHECK, "image_size_mismatch", f"produced image {k + 1}: size differs from the re-run")
        return fail(CHECK, "image_mismatch", f"produced image {k + 1}: mean pixel difference {diff:.1f}")
    return None


def _stored(
    record: SftRecord, codes: list[str], outputs: list[fmt.SandboxOutput], cfg: ExecutionCheckConfig
) -> Verdict | None:
    """The stored executions agree with the blocks and report clean, unfixed runs."""
    if len(record.executions) != len(codes):
        return fail(
            CHECK,
            "block_count_mismatch",
            f"{len(codes)} code blocks but {len(record.executions)} stored executions",
        )
    for i, (code, out, run) in enumerate(zip(codes, outputs, record.executions, strict=True)):
        if run.code.strip() != code.strip():
            return fail(CHECK, "code_mismatch", f"block {i}: stored code differs from the trajectory's")
        if run.status != "ok":
            return fail(
                CHECK,
                _STATUS.get(run.status, "error"),
                f"block {i}: {run.error_type} {run.error_message}"[:200],
            )
        if out.text.startswith("Sandbox for "):
            return fail(CHECK, "error", f"block {i}: the trajectory shows an error: {out.text[:150]}")
        if cfg.fixups == "reject" and code_fixes(run.fixes):
            return fail(CHECK, "fixups_applied", f"block {i}: {', '.join(code_fixes(run.fixes))}")
    return None


def compare_execution(
    record: SftRecord, reproduced: Sequence[ExecResult] | None, cfg: ExecutionCheckConfig | None = None
) -> Verdict:
    """Compare what the trajectory claims with the stored executions and, when given, a strict re-run.

    Args:
        record (`SftRecord`): a trajectory that passed the format check.
        reproduced (`Sequence[ExecResult]`, *optional*): results of :func:`reexecute`, one per block; None
            checks the stored executions only.
        cfg (`ExecutionCheckConfig`, *optional*): settings; defaults to ``ExecutionCheckConfig()``.

    Example:
        >>> from synthesis.records import SftRecord
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(b"",),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="<think>t</think> <answer>1</answer>",
        ...     answer="1",
        ...     answer_type="number",
        ...     family="no_code",
        ... )
        >>> compare_execution(r, []).passed
        True
    """
    cfg = cfg or ExecutionCheckConfig()
    traj = fmt.parse(record.response)
    codes = fmt.code_blocks(traj)
    outputs = [s for s in traj.segments if isinstance(s, fmt.SandboxOutput)]
    bad = _stored(record, codes, outputs, cfg)
    if bad is not None or reproduced is None:
        return bad or ok(CHECK, "stored executions only")
    if len(reproduced) != len(codes):
        return fail(
            CHECK, "block_count_mismatch", f"{len(codes)} blocks but {len(reproduced)} re-run results"
        )
    with_fixups = cfg.fixups != "reject" and needs_fixups(record)  # the re-run applied the fix-ups too
    for i, (out, got, run) in enumerate(zip(outputs, reproduced, record.executions, strict=True)):
        if not got.ok:
            return fail(
                CHECK,
                _STATUS.get(got.status.value, "error"),
                f"block {i} {'re-run' if with_fixups else 'strict re-run'}: {got.error_type} "
                f"{got.error_message}"[:200],
            )
        if with_fixups and code_fixes(got.fixes) != code_fixes(run.fixes):
            return fail(
                CHECK,
                "fixups_mismatch",
                f"block {i}: the record claims fix-ups {list(code_fixes(run.fixes))}, "
                f"the re-run needed {list(code_fixes(got.fixes))}",
            )
        if out.images == 0 and (got.images or got.feedback.strip() != out.text.strip()):
            shown = "<image>" * len(got.images) or got.feedback.strip()
            return fail(
                CHECK,
                "output_mismatch",
                f"block {i}: claims {out.text.strip()[:60]!r}, re-run printed {shown[:60]!r}",
            )
    rerun_images = [image for got in reproduced for image in got.images]
    bad = _compare_images(record.images[1:], rerun_images, cfg.max_pixel_diff)
    if bad is not None:
        return bad
    return ok(CHECK, f"{len(codes)} blocks reproduced")


def input_image_name(record: SftRecord) -> str:
    """The input image's file name the record's code opens (``INPUT_DIR + name``), else ``<id>.png|jpg``.

    Example:
        >>> from synthesis.records import SftRecord
        >>> input_image_name(
        ...     SftRecord(
        ...         id="t-1",
        ...         images=(b"\\xff\\xd8",),
        ...         question="q",
        ...         image_size=(1, 1),
        ...         response="",
        ...         answer="",
        ...         answer_type="text",
        ...         family="crop",
        ...     )
        ... )
        't-1.jpg'
    """
    match = _INPUT.search(record.response)
    if match:
        return match.group(1)
    jpeg = bool(record.images) and record.images[0][:2] == _JPEG
    return f"{record.id}.{'jpg' if jpeg else 'png'}"


def code_fixes(fixes: Sequence[str]) -> tuple[str, ...]:
    """The fix-ups among ``fixes`` that changed what the code does (not how the sandbox mapped its folders).

    Example:
        >>> code_fixes(["fix_output_dir", "fix_crop_clamp"])
        ('fix_crop_clamp',)
    """
    return tuple(f for f in fixes if f not in _TRANSPORT_FIXES)


def needs_fixups(record: SftRecord) -> bool:
    """Whether some block of ``record`` ran as recorded only thanks to a fix-up.

    Example:
        >>> from synthesis.records import Execution
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="",
        ...     answer="",
        ...     answer_type="text",
        ...     family="crop",
        ...     executions=(Execution(code="c", code_as_run="c", status="ok"),),
        ... )
        >>> needs_fixups(r)
        False
    """
    return any(code_fixes(run.fixes) for run in record.executions)


def reexecute(
    record: SftRecord, sandbox: SessionOpener, seed: int | None = None, strict: bool = True
) -> list[ExecResult]:
    """Re-run every code block of ``record`` in one session, by default strict (code exactly as written).

    Args:
        record (`SftRecord`): a trajectory that passed the format check.
        sandbox (`sandbox.Sandbox`): the caller's pool (a check never creates one).
        seed (`int`, *optional*): session seed; defaults to ``record.provenance.seed`` (0 without provenance).
        strict (`bool`, *optional*, defaults to `True`): False applies the fix-ups (the ``accept`` policy's
            re-run of a record that needs them).
    """
    codes = fmt.code_blocks(fmt.parse(record.response))
    if not codes:
        return []
    if seed is None:
        seed = record.provenance.seed if record.provenance is not None else 0
    with sandbox.session(
        images=[record.images[0]],
        image_name=input_image_name(record),
        strict=strict,
        item_id=record.id,
        seed=seed,
    ) as session:
        return [session.run(code) for code in codes]
