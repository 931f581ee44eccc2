"""The corrupted corpus: good teacher trajectories, each corrupted one way, each rejected by the right check
with the right reason; variants that stay correct are accepted; and good trajectories are never rejected."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import Image
from validators_corpus import codes, decode, png, rebuild, replace

from synthesis.records import Provenance
from synthesis.rollout_record import record_from_rollout
from synthesis.teacher import teach
from validators import CHECK_ORDER, DuplicateIndex, ValidatorsConfig, judge_record, tally, with_verdicts

Mutation = Callable[..., object]


@dataclass(frozen=True)
class Case:
    name: str
    base: str
    mutate: Mutation  # (record, sb) -> record
    reason: str  # expected first failure; "" means the variant must be accepted


def _sub(pattern: str, repl: str, count: int = 1) -> Mutation:
    return lambda r, sb: replace(r, response=re.sub(pattern, repl, r.response, count=count, flags=re.DOTALL))


def _answer(text: str) -> Mutation:
    return lambda r, sb: replace(
        r,
        response=re.sub(
            r"<answer>.*</answer>", lambda m: f"<answer>{text}</answer>", r.response, flags=re.DOTALL
        ),
    )


def _wrong_answer(r, sb):
    if r.answer_type == "choice":
        wrong = "A" if r.answer != "A" else "B"
    else:
        wrong = str(int(r.answer) + 1) if r.answer_type == "number" else "ZZ-000"
    return _answer(wrong)(r, sb)


def _choice_text(r):
    return r.task_params["choices"]["ABCDEFGH".index(r.answer)]


def _code_sub(pattern: str, repl) -> Mutation:
    def mutate(r, sb):
        new = [re.sub(pattern, repl(r) if callable(repl) else repl, c, count=1) for c in codes(r)]
        assert new != codes(r), "the mutation did not apply"
        return rebuild(r, sb, new)

    return mutate


def _box(fn) -> Mutation:
    """Rebuild the last crop with the box ``fn(record, (x1, y1, x2, y2))``."""

    def mutate(r, sb):
        blocks = codes(r)
        match = re.search(r"x1, y1, x2, y2 = (\d+), (\d+), (\d+), (\d+)", blocks[-1])
        box = fn(r, tuple(int(v) for v in match.groups()))
        blocks[-1] = blocks[-1].replace(match.group(0), "x1, y1, x2, y2 = {}, {}, {}, {}".format(*box))
        return rebuild(r, sb, blocks)

    return mutate


def _far_box(r, box):
    w, h = r.image_size
    bw, bh = box[2] - box[0], box[3] - box[1]
    x = 10 if box[0] > w / 2 else w - bw - 10
    y = 10 if box[1] > h / 2 else h - bh - 10
    return (x, y, x + bw, y + bh)


def _executions(fn) -> Mutation:
    return lambda r, sb: replace(r, executions=tuple(fn(list(r.executions))))


def _same_code(new_code: str) -> Mutation:
    """Swap the first block's code in the trajectory and in its stored execution; keep the claimed output."""

    def mutate(r, sb):
        old = codes(r)[0]
        runs = list(r.executions)
        runs[0] = replace(runs[0], code=new_code, code_as_run=new_code)
        return replace(r, response=r.response.replace(old, new_code, 1), executions=tuple(runs))

    return mutate


def _image(index: int, fn) -> Mutation:
    def mutate(r, sb):
        images = list(r.images)
        images[index] = fn(r, images)
        return replace(r, images=tuple(images))

    return mutate


def _swap(r, sb):
    images = list(r.images)
    images[1], images[2] = images[2], images[1]
    return replace(r, images=tuple(images))


_VOCAB = (
    "crop zoom region detail glyph colour border shadow corner texture pixel sign label letter digit".split()
)


def _long_reasoning(r, sb):
    import random

    rng = random.Random(0)
    words = " ".join(f"{rng.choice(_VOCAB)}{rng.randint(0, 99999)}" for _ in range(2500))
    return replace(r, response=r.response.replace("<think>", f"<think>{words} ", 1))


_BLANK = (
    'from PIL import Image\nimg = Image.new("RGB", (200, 200), (255, 255, 255))\n'
    'processed_path = "/mnt/data/temp_processed_images/blank_1.png"\n'
    "img.save(processed_path)\nprint(processed_path)"
)

CORPUS = [
    # format: the strict grammar
    Case("missing_answer_close", "compute", _sub(r"</answer>$", ""), "format_missing_answer_close"),
    Case("doubled_think_open", "compute", _sub(r"^<think>", "<think><think>"), "format_duplicate_think_open"),
    Case(
        "doubled_answer_close",
        "no_code",
        _sub(r"</answer>$", "</answer></answer>"),
        "format_duplicate_answer_close",
    ),
    Case(
        "text_after_answer",
        "crop_text",
        _sub(r"</answer>$", "</answer>\nHope this helps!"),
        "format_text_after_answer",
    ),
    Case(
        "two_newlines_before_answer",
        "compute",
        _sub(r"</think>\s<answer>", "</think>\n\n<answer>"),
        "format_separator_not_single_whitespace",
    ),
    Case("missing_think_open", "no_code", _sub(r"^<think>", ""), "format_missing_think_open"),
    Case("missing_think_close", "no_code", _sub(r"</think>", ""), "format_missing_think_close"),
    Case("text_before_think", "compute", _sub(r"^<think>", "Sure! <think>"), "format_text_before_think"),
    Case("empty_answer", "crop_text", _answer(" "), "format_empty_answer"),
    Case(
        "code_without_fence",
        "compute",
        _sub(r"<code>\n```python\n(.*?)\n```\n</code>", r"<code>\n\1\n</code>"),
        "format_code_without_fence",
    ),
    Case("bad_fence_language", "compute", _sub(r"```python", "```py"), "format_bad_fence_language"),
    Case(
        "missing_sandbox_output",
        "compute",
        _sub(r"<sandbox_output>.*?</sandbox_output>", ""),
        "format_code_not_followed_by_sandbox_output",
    ),
    Case("unclosed_code", "compute", _sub(r"</code>", ""), "format_unclosed_code"),
    Case(
        "extra_image_placeholder",
        "crop_text",
        _sub(r"<image></sandbox_output>", "<image><image></sandbox_output>"),
        "format_image_count_mismatch",
    ),
    # hygiene
    Case(
        "repetition_loop",
        "crop_text",
        _sub(r"</think>", "Let me look at the crop once more. " * 12 + "</think>"),
        "hygiene_repetition",
    ),
    Case(
        "leaked_path_in_reasoning",
        "crop_text",
        _sub(r"^<think>", "<think>The file is /home/alice/thyme/raw/img_0042.png. "),
        "hygiene_leaked_path",
    ),
    Case(
        "leaked_path_in_question",
        "compute",
        lambda r, sb: replace(r, question=r.question + '\nImage: "/Users/bob/data/chart.png"'),
        "hygiene_leaked_path",
    ),
    Case(
        "answer_in_question",
        "crop_text",
        lambda r, sb: replace(r, question=f"{r.question}\n(hint: {r.answer})"),
        "hygiene_answer_leak",
    ),
    Case("too_long", "compute", _long_reasoning, "hygiene_too_long"),
    # answer
    Case("wrong_text_answer", "crop_text", _wrong_answer, "answer_mismatch"),
    Case("wrong_option", "crop_choice", _wrong_answer, "answer_mismatch"),
    Case("wrong_number", "compute", _wrong_answer, "answer_mismatch"),
    Case(
        "wrong_option_text",
        "crop_choice",
        lambda r, sb: _answer(
            "B. " + next(c for i, c in enumerate(r.task_params["choices"]) if "ABCD"[i] != r.answer)
        )(r, sb),
        "answer_mismatch",
    ),
    # images
    Case("crop_misses_target", "crop_text", _box(_far_box), "images_crop_misses_target"),
    Case(
        "crop_out_of_bounds",
        "crop_text",
        _box(lambda r, b: (b[0], b[1], r.image_size[0] + 120, b[3])),
        "images_crop_out_of_bounds",
    ),
    Case(
        "crop_too_small",
        "crop_text",
        _box(lambda r, b: (b[0], b[1], b[0] + 20, b[1] + 20)),
        "images_too_small",
    ),
    Case("multi_round_second_crop_wrong", "multi_round", _box(_far_box), "images_crop_misses_target"),
    Case(
        "rotation_wrong_direction",
        "rotate",
        _code_sub(r"angle = \d+", lambda r: f"angle = {r.task_params['params']['rotation']}"),
        "images_not_upright",
    ),
    Case("rotation_not_applied", "rotate", _code_sub(r"angle = \d+", "angle = 0"), "images_not_upright"),
    Case(
        "contrast_lowered",
        "contrast",
        _code_sub(
            r"(?:enhance\(|alpha=)[\d.]+",
            lambda r: "enhance(0.5" if "enhance(" in codes(r)[0] else "alpha=0.5",
        ),
        "images_contrast_not_raised",
    ),
    Case("blank_image", "crop_text", lambda r, sb: rebuild(r, sb, [_BLANK]), "images_blank"),
    # execution
    Case("code_error", "compute", _same_code("result = undefined_value * 2\nprint(result)"), "exec_error"),
    Case("code_prints_other_value", "compute", _same_code("print(12345)"), "exec_output_mismatch"),
    Case(
        "claimed_output_edited",
        "compute",
        lambda r, sb: replace(
            r,
            response=re.sub(
                r"<sandbox_output>(\d+)</sandbox_output>",
                lambda m: f"<sandbox_output>{int(m.group(1)) + 7}</sandbox_output>",
                r.response,
            ),
        ),
        "exec_output_mismatch",
    ),
    Case(
        "shows_sandbox_error",
        "compute",
        _sub(
            r"<sandbox_output>.*?</sandbox_output>",
            "<sandbox_output>Sandbox for x: Code execution failed: NameError</sandbox_output>",
        ),
        "exec_error",
    ),
    Case("wrong_image_order", "multi_round", _swap, "exec_image_order"),
    Case(
        "image_replaced",
        "crop_text",
        _image(1, lambda r, imgs: png(decode(imgs[1]).transpose(Image.Transpose.ROTATE_180))),
        "exec_image_mismatch",
    ),
    Case(
        "image_resized",
        "crop_text",
        _image(1, lambda r, imgs: png(decode(imgs[1]).resize((300, 200)))),
        "exec_image_size_mismatch",
    ),
    Case(
        "stored_fixups",
        "crop_text",
        _executions(lambda e: [replace(e[0], fixes=("fix_crop_clamp",))]),
        "exec_fixups_mismatch",
    ),  # claims a fix its code never needed
    Case(
        "stored_timeout", "compute", _executions(lambda e: [replace(e[0], status="timeout")]), "exec_timeout"
    ),
    Case("executions_missing", "compute", _executions(lambda e: []), "exec_block_count_mismatch"),
    Case(
        "stored_code_differs",
        "compute",
        _executions(lambda e: [replace(e[0], code="print(0)")]),
        "exec_code_mismatch",
    ),
    # consistency
    Case(
        "reasoning_concludes_other",
        "compute",
        _sub(r"answer is (\d+)\.", lambda m: f"answer is {int(m.group(1)) + 3}."),
        "consistency_reasoning_contradicted",
    ),
    Case(
        "reasoning_other_option",
        "crop_choice",
        _sub(
            r"option is [A-D]|answer is [A-D]",
            lambda m: m.group(0)[:-1] + ("D" if m.group(0)[-1] != "D" else "A"),
        ),
        "consistency_reasoning_contradicted",
    ),
    Case(
        "printed_value_contradicts_answer",
        "compute",
        lambda r, sb: rebuild(r, sb, [f"print({int(r.answer) + 4})"]),
        "consistency_output_contradicted",
    ),
    # duplicates (against the reference index of the good records)
    Case("exact_duplicate", "no_code", lambda r, sb: replace(r, id=r.id + "-copy"), "duplicates_exact"),
    Case(
        "near_duplicate",
        "no_code",
        lambda r, sb: replace(
            r,
            id=r.id + "-near",
            question=r.question.upper() + "  ",
            images=(png(decode(r.images[0]).point(lambda v: min(255, v + 3))),),
        ),
        "duplicates_near",
    ),
    # answers in another format that is still correct: accepted
    Case("option_in_parentheses", "crop_choice", lambda r, sb: _answer(f"({r.answer})")(r, sb), ""),
    Case(
        "option_with_text", "crop_choice", lambda r, sb: _answer(f"{r.answer}. {_choice_text(r)}")(r, sb), ""
    ),
    Case("option_text_only", "crop_choice", lambda r, sb: _answer(_choice_text(r))(r, sb), ""),
    Case("number_as_float", "compute", lambda r, sb: _answer(f"{r.answer}.0")(r, sb), ""),
    Case("number_boxed", "compute", lambda r, sb: _answer(f"\\boxed{{{r.answer}}}")(r, sb), ""),
    Case("text_lower_case", "crop_text", lambda r, sb: _answer(r.answer.lower())(r, sb), ""),
    Case("text_with_prefix", "crop_text", lambda r, sb: _answer(f"The answer is {r.answer}.")(r, sb), ""),
]


@pytest.fixture(scope="module")
def index(good):
    return DuplicateIndex.from_records(good.values())


def test_corpus_is_large_enough():
    rejected = [c for c in CORPUS if c.reason]
    assert len(rejected) >= 40
    assert len({c.name for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_corrupted_trajectory_is_judged_by_the_right_check(case, good, sb, index):
    record = case.mutate(good[case.base], sb)
    uses_index = case.reason.startswith("duplicates_")
    verdicts = judge_record(record, ValidatorsConfig(), sandbox=sb, index=index if uses_index else None)
    failed = [v for v in verdicts if not v.passed]
    if not case.reason:
        assert not failed, failed
        return
    assert failed, f"{case.name} was accepted"
    assert failed[0].reason == case.reason, failed[0]
    assert failed[0].check == case.reason.split("_")[0]


def test_good_bases_are_accepted(good, sb):
    for name, record in good.items():
        verdicts = judge_record(record, sandbox=sb)
        assert all(v.passed for v in verdicts), (name, verdicts)
        assert [v.check for v in verdicts] == [c for c in CHECK_ORDER if c != "duplicates"]


def test_all_checks_run_without_fail_fast(good, sb):
    record = _wrong_answer(good["compute"], sb)
    cfg = ValidatorsConfig(fail_fast=False)
    verdicts = judge_record(record, cfg, sandbox=sb)
    assert [v.reason for v in verdicts if not v.passed] == [
        "answer_mismatch",
        "consistency_reasoning_contradicted",
    ]
    assert len(verdicts) == len(CHECK_ORDER) - 1  # no duplicate index given


def test_reexecution_needs_a_sandbox(good):
    with pytest.raises(ValueError, match="reexecute"):
        judge_record(good["compute"])


def test_verdicts_become_record_checks(good, sb):
    record = with_verdicts(good["compute"], judge_record(good["compute"], sandbox=sb))
    assert [c.name for c in record.checks][:2] == ["format", "hygiene"] and all(
        c.passed for c in record.checks
    )


def _judged(sb, task):
    record = record_from_rollout(
        task,
        teach(task, sb),
        Provenance(source="generated", generator="programmatic", generator_version="test", seed=task.seed),
    )
    return record.id, judge_record(record, sandbox=sb)


def _zero_false_rejects(sb, count: int):
    """Tasks are generated in worker processes (CPU-bound), then taught and judged on threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    from synthesis.tasks import TasksConfig, generate_task, plan_tasks

    plan = plan_tasks(TasksConfig(count=count, base_seed=1000))
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as procs:
        tasks = list(procs.map(generate_task, *zip(*plan, strict=True), chunksize=4))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda task: _judged(sb, task), tasks))
    rejected = [
        (rid, [v for v in verdicts if not v.passed])
        for rid, verdicts in results
        if not all(v.passed for v in verdicts)
    ]
    assert not rejected
    assert tally(verdicts for _, verdicts in results) == {"total": count, "accepted": count}


def test_zero_false_rejects_on_50_programmatic_trajectories(sb):
    _zero_false_rejects(sb, 50)


@pytest.mark.slow
def test_zero_false_rejects_on_500_programmatic_trajectories(sb):
    _zero_false_rejects(sb, 500)
