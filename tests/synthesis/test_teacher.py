"""The programmatic teacher: valid, executable, correct and reproducible trajectories for every family."""

import io
import random
from collections import Counter

import pytest
from PIL import Image

from sandbox import Sandbox, SandboxConfig
from synthesis import format as fmt
from synthesis.records import Provenance
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import FAMILIES, TasksConfig, generate_task, plan_tasks
from synthesis.teacher import teach
from synthesis.teacher.code import crop_code
from synthesis.teacher.phrases import PHRASES

CFG = TasksConfig(count=60)


@pytest.fixture(scope="module")
def strict_sandbox():
    with Sandbox(SandboxConfig(workers=2, fixups=False)) as sb:
        yield sb


def _audit(tasks, sandbox):
    """Per family: how many trajectories are format-valid, execute cleanly in strict mode and answer right."""
    good, bad = Counter(), []
    for task in tasks:
        rollout = teach(task, sandbox)
        problems = [v.code for v in fmt.check(rollout.response)]
        problems += [f"exec_{e.result.status.value}" for e in rollout.executions if not e.result.ok]
        problems += ["fixups_needed"] * any(e.result.fixes for e in rollout.executions)
        if rollout.answer != task.answer:
            problems.append(f"answer {rollout.answer!r} != {task.answer!r}")
        if problems:
            bad.append((task.id, problems))
        else:
            good[task.family] += 1
    return good, bad


def test_every_family_is_valid_executes_strictly_and_answers_right(strict_sandbox):
    tasks = [generate_task(f, s, CFG) for f, s in plan_tasks(CFG)]
    good, bad = _audit(tasks, strict_sandbox)
    assert set(good) == set(FAMILIES)
    assert not bad, bad  # the 500-task check (slow) allows 1%


@pytest.mark.slow
def test_five_hundred_tasks_at_least_99_percent_clean(strict_sandbox):
    cfg = TasksConfig(count=500, base_seed=10_000)
    good, bad = _audit([generate_task(f, s, cfg) for f, s in plan_tasks(cfg)], strict_sandbox)
    assert sum(good.values()) >= 495, bad


@pytest.mark.parametrize("family", FAMILIES)
def test_same_task_gives_identical_trajectory_and_images(strict_sandbox, family):
    task = generate_task(family, 7, CFG)
    a, b = teach(task, strict_sandbox), teach(task, strict_sandbox)
    assert a.response == b.response
    assert a.conversation.all_images == b.conversation.all_images


def test_code_families_produce_the_images_they_promise(strict_sandbox):
    task = generate_task("crop", 3, CFG)
    rollout = teach(task, strict_sandbox)
    record = record_from_rollout(
        task,
        rollout,
        Provenance(source="generated", generator="programmatic", generator_version="0", seed=task.seed),
    )
    assert len(record.images) == 1 + fmt.count_images(fmt.parse(record.response))
    x1, y1, x2, y2 = task.params["crop_box"]
    crop = Image.open(io.BytesIO(record.images[1]))
    assert crop.size == ((x2 - x1) * task.params["zoom"], (y2 - y1) * task.params["zoom"])
    assert record.executions[0].image_indices == (1,)
    assert task.params["crop_box"] and f"x1, y1, x2, y2 = {x1}, {y1}, {x2}, {y2}" in record.response


@pytest.mark.parametrize("seed", [0, 3])  # one PIL block, one OpenCV block
@pytest.mark.parametrize(
    "wrong", [(90, 80, 10, 20), (50, 40, 50, 40), (-30, -30, -5, -5), (9000, 10, 9500, 9000)]
)
def test_crop_code_runs_strictly_whatever_box_a_student_writes(strict_sandbox, seed, wrong):
    """Reversed, empty and out-of-image boxes all run as written; the true box is cropped unchanged."""
    img = Image.new("RGB", (160, 120), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    true = crop_code(random.Random(seed), "/mnt/data/input/a.png", (10, 20, 90, 80), 1, "c")
    student = true.replace("10, 20, 90, 80", ", ".join(map(str, wrong)))
    assert student != true and ("cv2" in true) == (seed == 0)
    for code, size in ((true, (80, 60)), (student, None)):
        r = strict_sandbox.run(code, [buf.getvalue()], image_name="a.png", strict=True)
        assert r.ok and not r.fixes and len(r.images) == 1, r
        w, h = Image.open(io.BytesIO(r.images[0])).size
        assert (w, h) == size if size else (1 <= w <= 160 and 1 <= h <= 120), (wrong, w, h)


def test_compute_answer_quotes_the_real_sandbox_output(strict_sandbox):
    task = generate_task("compute", 4, CFG)
    rollout = teach(task, strict_sandbox)
    assert f"<sandbox_output>{task.answer}</sandbox_output>" in rollout.response


def test_no_code_trajectory_writes_no_code(strict_sandbox):
    rollout = teach(generate_task("no_code", 5, CFG), strict_sandbox)
    assert "<code>" not in rollout.response and rollout.executions == []
    assert (
        "requires no additional processing" in rollout.response
        or "without any image operations" in rollout.response
    )


def test_phrasings_vary_across_tasks(strict_sandbox):
    openings = {teach(generate_task("crop", s, CFG), strict_sandbox).response[:60] for s in range(12)}
    assert len(openings) >= min(3, len(PHRASES["crop_intro"]))
