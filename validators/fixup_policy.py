"""The fix-up policy: what becomes of a record whose code ran as recorded only thanks to Thyme's fix-ups.

Thyme's sandbox clamped crop boxes, widened print precision, aliased ``cv`` and fixed paths while its data was
made, and outside teachers lean on the same crutches, so rejecting every such record throws away good data
(every crop of a small target below 64 px). ``validators.execution.fixups`` chooses:

* ``reject``: the record is dead-lettered (``exec_fixups_applied``);
* ``accept``: the record is kept as written; its re-run applies the fix-ups and every fix stays recorded in
  ``executions[i].fixes``;
* ``rewrite`` (the default): each block's code is replaced by the code the fix-ups produced, and the record is
  kept only if a strict re-run of that code reproduces every recorded output exactly (pixel difference 0); the
  folded fixes move to ``executions[i].fixes_rewritten``. So the training data teaches code that needs no
  crutch. A record whose rewrite does not reproduce falls back to ``accept``.
"""

from __future__ import annotations

from dataclasses import replace

from sandbox.fixups import FixContext, apply_fixups
from sandbox.layout import INPUT_DIR
from sandbox.opener import SessionOpener
from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import ValidatorsConfig
from validators.execution import CHECK as EXEC_CHECK
from validators.execution import code_fixes, input_image_name, needs_fixups
from validators.record import judge_record
from validators.verdict import Verdict

__all__ = ["judge_with_policy", "rewrite_fixups"]


def rewrite_fixups(record: SftRecord, min_crop_side: int = 64) -> SftRecord | None:
    """``record`` with every block's code replaced by its code after the fix-ups, or None when there is
    nothing to fold in or the fix-ups now differ from the recorded ones (so the recorded outputs cannot be
    theirs).

    Args:
        record (`SftRecord`): a well-formed trajectory with one stored execution per block.
        min_crop_side (`int`, *optional*, defaults to `64`): the sandbox's minimum crop side.

    Example:
        >>> from synthesis.records import Execution
        >>> code = "x1, y1, x2, y2 = 0, 0, 10, 10\\nprint(x2)"
        >>> resp = (
        ...     f"<think>a{fmt.render_code(code)}<sandbox_output>64</sandbox_output></think>"
        ...     " <answer>1</answer>"
        ... )
        >>> run = Execution(code=code, code_as_run="", status="ok", fixes=("fix_crop_clamp",))
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(b"",),
        ...     question="q",
        ...     image_size=(100, 100),
        ...     response=resp,
        ...     answer="1",
        ...     answer_type="number",
        ...     family="crop",
        ...     executions=(run,),
        ... )
        >>> new = rewrite_fixups(r)
        >>> fmt.code_blocks(fmt.parse(new.response))[0].splitlines()[0], new.executions[0].fixes_rewritten
        ('x1, y1, x2, y2 = 0, 0, 64, 64', ('fix_crop_clamp',))
    """
    if not needs_fixups(record):
        return None
    name = INPUT_DIR + input_image_name(record)
    ctx = FixContext(
        image_path=name, input_paths=(name,), image_size=record.image_size, min_crop_side=min_crop_side
    )
    traj = fmt.parse(record.response)
    segments, runs, block = list(traj.segments), list(record.executions), 0
    for at, segment in enumerate(segments):
        if not isinstance(segment, fmt.Code):
            continue
        run, fixed = runs[block], apply_fixups(segment.code, ctx)
        if code_fixes(fixed.fixes) != code_fixes(run.fixes) or "fix_output_subdirs" in fixed.fixes:
            return None  # not what ran, or a fix that is no edit of the code (folders the sandbox made)
        segments[at] = replace(segment, code=fixed.code)
        runs[block] = replace(
            run, code=fixed.code, code_as_run=fixed.code, fixes=(), fixes_rewritten=code_fixes(run.fixes)
        )
        block += 1
    response = fmt.render(fmt.Trajectory(tuple(segments), traj.separator, traj.answer))
    return replace(record, response=response, executions=tuple(runs))


def judge_with_policy(
    record: SftRecord, cfg: ValidatorsConfig, *, sandbox: SessionOpener | None = None, **checks
) -> tuple[SftRecord, list[Verdict]]:
    """Apply the fix-up policy and judge: the record to keep (rewritten or as given) and its verdicts.

    Args:
        record (`SftRecord`): the trajectory.
        cfg (`ValidatorsConfig`): settings, ``execution.fixups`` among them.
        sandbox (`sandbox.Sandbox`, *optional*): the pool for re-execution (its ``min_crop_side`` is used).
        checks: the judge and duplicate index, passed on to :func:`~validators.record.judge_record`.
    """
    if cfg.execution.fixups == "rewrite" and cfg.format.enabled and not fmt.check(record.response):
        min_side = getattr(getattr(sandbox, "config", None), "min_crop_side", 64)
        rewritten = (
            rewrite_fixups(record, min_side)
            if len(fmt.code_blocks(fmt.parse(record.response))) == len(record.executions)
            else None
        )
        if rewritten is not None:
            exact = replace(cfg, execution=replace(cfg.execution, max_pixel_diff=0.0))
            verdicts = judge_record(rewritten, exact, sandbox=sandbox, **checks)
            failed = next((v for v in verdicts if not v.passed), None)
            if failed is None or failed.check != EXEC_CHECK:
                return rewritten, verdicts
    return record, judge_record(record, cfg, sandbox=sandbox, **checks)
