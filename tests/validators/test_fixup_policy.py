"""The fix-up policy (reject | accept | rewrite) on records whose code ran only thanks to Thyme's fix-ups, in
the real sandbox: a crop box below the 64-px minimum, a box outside the image, and a printed float widened to
8 decimals, as the released data and outside teachers produce them."""

import io
from dataclasses import replace

import pytest
from PIL import Image

from sandbox.layout import INPUT_DIR
from synthesis import format as fmt
from synthesis.records import Execution, SftRecord
from validators.config import ValidatorsConfig
from validators.fixup_policy import judge_with_policy, rewrite_fixups

NAME = "scene.png"
CROP_SMALL = f"""from PIL import Image
img = Image.open("{INPUT_DIR}{NAME}")
x1, y1, x2, y2 = 100, 90, 130, 120  # a 30 px box: the sandbox widens it to 64 px
out = img.crop((x1, y1, x2, y2)).resize((128, 128))
path = "/mnt/data/temp_processed_images/scene_crop.png"
out.save(path)
print(path)"""
CROP_OUTSIDE = CROP_SMALL.replace("100, 90, 130, 120", "-20, 150, 90, 260").replace(
    "a 30 px", "partly outside"
)
PRECISION = 'import math\nratio = math.pi * 2\nprint(f"{ratio:.2f}")'
CLEAN = CROP_SMALL.replace("100, 90, 130, 120", "80, 70, 160, 150")


def _image() -> bytes:
    img = Image.new("RGB", (240, 200), (230, 230, 230))
    img.paste((200, 30, 30), (100, 90, 140, 130))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _recorded(sb, code: str, answer: str, answer_type: str) -> SftRecord:
    """What a Thyme-era sandbox recorded: the code as written, the outputs its fix-ups produced."""
    image = _image()
    with sb.session(images=[image], image_name=NAME, strict=False, item_id="r", seed=0) as session:
        result = session.run(code)
    assert result.ok, result.error_message
    output = fmt.SandboxOutput(len(result.images), "" if result.images else result.feedback)
    traj = fmt.Trajectory(
        (fmt.Text("Let me look closer."), fmt.Code(code), output, fmt.Text(f"So the answer is {answer}.")),
        " ",
        answer,
    )
    run = Execution(
        code=code,
        code_as_run=result.code_as_run,
        status="ok",
        stdout=result.stdout,
        fixes=tuple(result.fixes),
        image_indices=tuple(range(1, 1 + len(result.images))),
    )
    return SftRecord(
        id="r",
        images=(image, *result.images),
        question="What is shown?",
        image_size=(240, 200),
        response=fmt.render(traj),
        answer=answer,
        answer_type=answer_type,
        family="imported",
        executions=(run,),
    )


def _cfg(policy: str) -> ValidatorsConfig:
    cfg = ValidatorsConfig()
    cfg.execution.fixups = policy
    cfg.images.enabled = False  # judged elsewhere; these records have no task parameters
    return cfg


@pytest.mark.parametrize(
    "code, answer, kind, fix",
    [
        (CROP_SMALL, "red", "text", "fix_crop_clamp"),
        (CROP_OUTSIDE, "red", "text", "fix_crop_clamp"),
        (PRECISION, "6.28318531", "number", "fix_precision"),
    ],
)
def test_each_policy_on_a_record_that_needs_fixups(sb, code, answer, kind, fix):
    record = _recorded(sb, code, answer, kind)
    assert fix in record.executions[0].fixes
    kept, verdicts = judge_with_policy(record, _cfg("reject"), sandbox=sb)
    assert [v.reason for v in verdicts if not v.passed] == ["exec_fixups_applied"]

    kept, verdicts = judge_with_policy(record, _cfg("accept"), sandbox=sb)
    assert all(v.passed for v in verdicts) and kept is record and fix in kept.executions[0].fixes

    kept, verdicts = judge_with_policy(record, _cfg("rewrite"), sandbox=sb)
    assert all(v.passed for v in verdicts), verdicts
    run = kept.executions[0]
    assert run.fixes == () and fix in run.fixes_rewritten and run.code != code
    assert fmt.code_blocks(fmt.parse(kept.response)) == [run.code]
    assert kept.images == record.images  # the strict re-run of the rewritten code made the same pixels
    with sb.session(images=[record.images[0]], image_name=NAME, strict=True, item_id="r", seed=0) as session:
        again = session.run(run.code)
    assert (
        again.ok
        and again.fixes == []
        and (
            again.images == list(record.images[1:])
            or again.feedback.strip() == fmt.parse(kept.response).segments[2].text.strip()
        )
    )


def test_rewrite_leaves_clean_records_alone(sb):
    record = _recorded(sb, CLEAN, "red", "text")
    assert record.executions[0].fixes == () and rewrite_fixups(record) is None
    kept, verdicts = judge_with_policy(record, _cfg("rewrite"), sandbox=sb)
    assert kept is record and all(v.passed for v in verdicts)


def test_rewrite_falls_back_to_accept_when_the_rewrite_does_not_reproduce(sb):
    record = _recorded(sb, CROP_SMALL, "red", "text")
    # The recorded image is a few grey levels off what the code makes: within the accept policy's pixel
    # tolerance, but a rewrite must reproduce exactly, so the record is kept as written with its fixes.
    with Image.open(io.BytesIO(record.images[1])) as img:
        shifted = Image.eval(img.convert("RGB"), lambda v: min(v + 1, 255))
    buf = io.BytesIO()
    shifted.save(buf, "PNG")
    nudged = replace(record, images=(record.images[0], buf.getvalue()))
    kept, verdicts = judge_with_policy(nudged, _cfg("rewrite"), sandbox=sb)
    assert kept is nudged and all(v.passed for v in verdicts) and kept.executions[0].fixes


def test_wrong_outputs_are_rejected_under_every_policy(sb):
    record = _recorded(sb, PRECISION, "6.28318531", "number")
    traj = fmt.parse(record.response)
    lied = fmt.Trajectory(
        (*traj.segments[:2], fmt.SandboxOutput(0, "7.00000000"), traj.segments[3]), " ", "7.0"
    )
    wrong = replace(record, response=fmt.render(lied), answer="7.0")
    for policy in ("reject", "accept", "rewrite"):
        _, verdicts = judge_with_policy(wrong, _cfg(policy), sandbox=sb)
        assert not all(v.passed for v in verdicts), policy
