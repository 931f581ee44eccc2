"""Execution check: the pure comparison (synthetic results) and strict re-execution (real sandbox)."""

import io

import pytest
from PIL import Image

from sandbox import ExecResult, ExecStatus
from synthesis import format as fmt
from synthesis.records import Execution, SftRecord
from validators.config import ExecutionCheckConfig
from validators.execution import compare_execution, input_image_name, pixel_diff, reexecute


def _png(value: int, size=(80, 80)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (value, value, value)).save(buf, "PNG")
    return buf.getvalue()


def _record(outputs, images=(), runs=None):
    """``outputs``: per block, an int (number of images) or a str (printed text)."""
    segments, executions = [fmt.Text("Compute.")], []
    for i, out in enumerate(outputs):
        code = f"print({i})"
        segments += [
            fmt.Code(code),
            fmt.SandboxOutput(out, "") if isinstance(out, int) else fmt.SandboxOutput(0, out),
        ]
        executions.append(Execution(code=code, code_as_run=code, status="ok"))
    response = fmt.render(fmt.Trajectory(tuple(segments), " ", "1"))
    return SftRecord(
        id="t",
        images=(_png(0), *images),
        question="q",
        image_size=(80, 80),
        response=response,
        answer="1",
        answer_type="number",
        family="compute",
        executions=tuple(runs if runs is not None else executions),
    )


def _ok(feedback="", images=()):
    return ExecResult(ExecStatus.OK, feedback=feedback or "<image>" * len(images), images=list(images))


def test_matching_rerun_passes():
    rec = _record(["42", 1], images=(_png(10),))
    assert compare_execution(rec, [_ok("42"), _ok(images=[_png(11)])]).passed


def test_stored_only():
    assert compare_execution(_record(["42"]), None).detail == "stored executions only"


@pytest.mark.parametrize(
    "status, reason",
    [
        (ExecStatus.ERROR, "exec_error"),
        (ExecStatus.TIMEOUT, "exec_timeout"),
        (ExecStatus.MEMORY, "exec_memory"),
        (ExecStatus.KILLED, "exec_killed"),
        (ExecStatus.OUTPUT_LIMIT, "exec_output_limit"),
        (ExecStatus.REFUSED, "exec_refused"),
    ],
)
def test_rerun_failure_statuses(status, reason):
    assert compare_execution(_record(["42"]), [ExecResult(status, error_type="X")]).reason == reason


def test_output_mismatch():
    assert compare_execution(_record(["42"]), [_ok("43")]).reason == "exec_output_mismatch"
    assert compare_execution(_record(["42"]), [_ok(images=[_png(1)])]).reason == "exec_output_mismatch"


def test_image_reasons():
    rec = _record([2], images=(_png(10), _png(200)))
    assert compare_execution(rec, [_ok(images=[_png(10)])]).reason == "exec_image_count_mismatch"
    assert compare_execution(rec, [_ok(images=[_png(10), _png(120)])]).reason == "exec_image_mismatch"
    assert (
        compare_execution(rec, [_ok(images=[_png(10), _png(200, (90, 80))])]).reason
        == "exec_image_size_mismatch"
    )
    assert compare_execution(rec, [_ok(images=[_png(200), _png(10)])]).reason == "exec_image_order"


def test_pixel_tolerance():
    rec = _record([1], images=(_png(10),))
    assert compare_execution(rec, [_ok(images=[_png(14)])], ExecutionCheckConfig(max_pixel_diff=5)).passed
    assert pixel_diff(_png(1), _png(1, (2, 2))) is None


def test_stored_execution_reasons():
    base = Execution(code="print(0)", code_as_run="print(0)", status="ok")
    assert compare_execution(_record(["42"], runs=[]), None).reason == "exec_block_count_mismatch"
    assert (
        compare_execution(
            _record(["42"], runs=[Execution(code="print(9)", code_as_run="", status="ok")]), None
        ).reason
        == "exec_code_mismatch"
    )
    failed = Execution(code="print(0)", code_as_run="print(0)", status="error", error_type="NameError")
    assert compare_execution(_record(["42"], runs=[failed]), None).reason == "exec_error"
    fixed = Execution(code="print(0)", code_as_run="print(0)", status="ok", fixes=("fix_crop_clamp",))
    assert compare_execution(
        _record(["42"], runs=[fixed]), None, ExecutionCheckConfig(fixups="accept")
    ).passed
    assert (
        compare_execution(_record(["42"], runs=[fixed]), None, ExecutionCheckConfig(fixups="reject")).reason
        == "exec_fixups_applied"
    )
    transport = Execution(
        code="print(0)", code_as_run="print(0)", status="ok", fixes=("fix_output_dir",)
    )  # the supervisor's path mapping
    assert compare_execution(
        _record(["42"], runs=[transport]), None, ExecutionCheckConfig(fixups="reject")
    ).passed
    shown = _record(["Sandbox for t: Code execution failed: boom"], runs=[base])
    assert compare_execution(shown, None).reason == "exec_error"


def test_reexecute_runs_strictly_in_one_session(sb):
    code1 = "value = 6 * 7\nprint(value)"
    code2 = "print(value + 1)"  # needs the first block's state
    segments = (fmt.Code(code1), fmt.SandboxOutput(0, "42"), fmt.Code(code2), fmt.SandboxOutput(0, "43"))
    response = fmt.render(fmt.Trajectory(segments, " ", "43"))
    runs = (
        Execution(code=code1, code_as_run=code1, status="ok"),
        Execution(code=code2, code_as_run=code2, status="ok"),
    )
    rec = SftRecord(
        id="t",
        images=(_png(0),),
        question="q",
        image_size=(80, 80),
        response=response,
        answer="43",
        answer_type="number",
        family="compute",
        executions=runs,
    )
    results = reexecute(rec, sb)
    assert [r.feedback for r in results] == ["42", "43"] and all(not r.fixes for r in results)
    assert compare_execution(rec, results).passed


def test_strict_rerun_does_not_fix_out_of_range_crops(sb):
    """Fix-ups (e.g. crop clamping) are off in the re-run: code that only worked fixed up fails."""
    code = (
        "from PIL import Image\nimg = Image.open(image_path)\n"
        'img.crop((0, 0, 10, 10)).save("/mnt/data/temp_processed_images/a.png")\n'
        'print("/mnt/data/temp_processed_images/a.png")\nraise ValueError("strict")'
    )
    response = fmt.render(fmt.Trajectory((fmt.Code(code), fmt.SandboxOutput(1)), " ", "1"))
    rec = SftRecord(
        id="t",
        images=(_png(0), _png(0, (10, 10))),
        question="q",
        image_size=(80, 80),
        response=response,
        answer="1",
        answer_type="number",
        family="crop",
        executions=(Execution(code=code, code_as_run=code, status="ok"),),
    )
    assert compare_execution(rec, reexecute(rec, sb)).reason == "exec_error"


def test_input_image_name():
    rec = SftRecord(
        id="t",
        images=(b"",),
        question="q",
        image_size=(1, 1),
        response='image_path = "/mnt/data/input/task-1.jpg"',
        answer="",
        answer_type="text",
        family="crop",
    )
    assert input_image_name(rec) == "task-1.jpg"
