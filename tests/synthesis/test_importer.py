"""Importers: released-format SFT files (good and broken records, JSONL, paths, Parquet), plain task sources.

The released-format file is made here from our own programmatic teacher's trajectories, converted exactly to
the Hub format (thyme.md §4.5): base64 images [original, processed...], the §2.3 question with an authors'
absolute path, and that path inside the response's code. Every import runs in a real sandbox.
"""

import base64
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sandbox import Sandbox, SandboxConfig
from sandbox.layout import INPUT_DIR
from synthesis import format as fmt
from synthesis.importers import (
    IMPORT_REASONS,
    IMPORTER_VERSION,
    ImportFailure,
    import_thyme_file,
    import_thyme_record,
    imported_user_prompt,
    outputs_agree,
    read_task_source,
    read_thyme_file,
)
from synthesis.records import Provenance, SftRecord
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import Task, TasksConfig, generate_task
from synthesis.tasks.config import CropConfig, MultiRoundConfig
from synthesis.teacher import image_name, teach
from validators.execution import compare_execution, reexecute

AUTHORS = "/mnt/authors/data/"
SMALL = CropConfig(long_side_range=(1024, 1280), model_side=224)  # smaller scenes keep the module fast
CFG = TasksConfig(crop=SMALL, multi_round=MultiRoundConfig(crop=SMALL))


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxConfig(workers=1)) as sb:
        yield sb


@pytest.fixture(scope="module")
def taught(sandbox):
    """family -> (task, SftRecord) made by the programmatic teacher."""
    out = {}
    for family, seed in (("crop", 1), ("compute", 1), ("multi_round", 1), ("no_code", 1), ("rotate", 2)):
        task = generate_task(family, seed, CFG)
        rollout = teach(task, sandbox)
        out[family] = (
            task,
            record_from_rollout(
                task,
                rollout,
                Provenance(source="generated", generator="programmatic", generator_version="0", seed=0),
            ),
        )
    return out


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _hub(task: Task, record: SftRecord, number: int) -> dict:
    """The record in the released format: base64 images, the authors' path in the question and the code."""
    path = f"{AUTHORS}{number:08d}_00.jpg"
    return {
        "image": [_b64(b) for b in record.images],
        "question": fmt.render_user_prompt(task.question, path, (task.width, task.height)),
        "response": record.response.replace(INPUT_DIR + image_name(task), path),
    }


def _with_output(raw: dict, text: str) -> dict:
    traj = fmt.parse(raw["response"])
    segments = tuple(
        fmt.SandboxOutput(0, text) if isinstance(s, fmt.SandboxOutput) else s for s in traj.segments
    )
    return {**raw, "response": fmt.render(fmt.Trajectory(segments, traj.separator, traj.answer))}


def _rgba(raw: dict) -> dict:
    """The original as an RGBA PNG with a fully transparent top-left corner."""
    image = Image.open(io.BytesIO(base64.b64decode(raw["image"][0]))).convert("RGBA")
    image.paste((0, 0, 0, 0), (0, 0, 4, 4))
    return {**raw, "image": [_b64(_png(image)), *raw["image"][1:]]}


def _resized(raw: dict) -> dict:
    crop = Image.open(io.BytesIO(base64.b64decode(raw["image"][1])))
    return {**raw, "image": [raw["image"][0], _b64(_png(crop.resize((crop.width + 10, crop.height))))]}


@pytest.fixture(scope="module")
def cases(taught) -> list[tuple[dict, str, str]]:
    """(raw record, expected outcome: "ok" or a reason, family it came from)."""
    hub = {family: _hub(task, record, n) for n, (family, (task, record)) in enumerate(taught.items(), 1)}
    crop, compute = hub["crop"], hub["compute"]
    variant = crop["response"].replace("\nimg = ", '\nbackup = "some/dir/00000001_00.jpg"\nimg = ', 1)
    if variant == crop["response"]:
        variant = crop["response"].replace("\nimage = ", '\nbackup = "some/dir/00000001_00.jpg"\nimage = ', 1)
    return [
        ({**crop, "response": variant}, "ok", "crop"),
        ({**_with_output(compute, f"  {float(taught['compute'][0].answer):.4f} \n")}, "ok", "compute"),
        (hub["multi_round"], "ok", "multi_round"),
        (
            {**hub["no_code"], "question": hub["no_code"]["question"].split("\n\n### **Output")[0]},
            "ok",
            "no_code",
        ),
        (_rgba(hub["rotate"]), "ok", "rotate"),
        (
            {
                **crop,
                "response": crop["response"].replace("print(processed_path)", "raise RuntimeError('broken')"),
            },
            "import_exec_failed",
            "crop",
        ),
        (
            _with_output(compute, str(float(taught["compute"][0].answer) + 1)),
            "import_output_mismatch",
            "compute",
        ),
        (
            {
                **crop,
                "image": [*crop["image"], crop["image"][1]],
                "response": crop["response"].replace(
                    "<sandbox_output><image>", "<sandbox_output><image><image>"
                ),
            },
            "import_image_count_mismatch",
            "crop",
        ),
        ({**crop, "image": [*crop["image"], crop["image"][1]]}, "import_image_count_mismatch", "crop"),
        (_resized(crop), "import_image_size_mismatch", "crop"),
        ({**crop, "image": ["%%% not base64 %%%", *crop["image"][1:]]}, "import_bad_image", "crop"),
        ({**crop, "response": crop["response"].replace("</think>", "")}, "import_bad_format", "crop"),
        ({**crop, "question": "<image>\nWhat is shown?"}, "import_bad_question", "crop"),
        ({"image": crop["image"], "question": crop["question"]}, "import_missing_field", "crop"),
        (
            {"images": crop["image"][:1], "question": "What colour?", "solution": "red"},
            "import_missing_field",
            "rl",
        ),
    ]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)


def _assert_good(record, raw: dict, family: str, taught) -> None:
    task, teacher = taught[family]
    assert isinstance(record, SftRecord), record
    assert record.provenance == Provenance(
        source="imported",
        generator="thyme-sft",
        generator_version=IMPORTER_VERSION,
        seed=0,
        sandbox_config_hash="",
    )
    assert record.family == "imported" and record.id.startswith("imported-")
    assert record.question == task.question and record.image_size == (task.width, task.height)
    assert record.answer == task.answer
    name = record.task_params["image_name"]
    prompt = imported_user_prompt(record)
    assert prompt == fmt.render_user_prompt(task.question, f"{INPUT_DIR}{name}", (task.width, task.height))
    assert AUTHORS not in record.question + prompt + record.response
    assert not fmt.check(record.response)
    codes = fmt.code_blocks(fmt.parse(record.response))
    assert all(INPUT_DIR + name in code for code in codes if "image_path" in code)
    assert len(record.images) == len(teacher.images) == 1 + fmt.count_images(fmt.parse(record.response))
    for ours, theirs in zip(record.images[1:], teacher.images[1:], strict=True):  # reproduced, in order
        a, b = _pixels(ours), _pixels(theirs)
        assert a.shape == b.shape and np.abs(a - b).mean() < 4
    position = 1
    for execution in record.executions:
        assert execution.status == "ok"
        assert execution.image_indices == tuple(range(position, position + len(execution.image_indices)))
        position += len(execution.image_indices)
    assert position == len(record.images) and len(record.executions) == len(codes)


def test_released_format_file_good_and_broken_records(tmp_path, sandbox, taught, cases):
    results = list(import_thyme_file(_write_jsonl(tmp_path / "sft.jsonl", [c[0] for c in cases]), sandbox))
    got = ["ok" if isinstance(r, SftRecord) else r.reason for r in results]
    assert got == [expected for _, expected, _ in cases]
    for (raw, expected, family), result in zip(cases, results, strict=True):
        if expected == "ok":
            _assert_good(result, raw, family, taught)
        else:
            assert isinstance(result, ImportFailure) and result.reason in IMPORT_REASONS
    by_reason = {r.reason: r.detail for r in results if isinstance(r, ImportFailure)}
    assert "block 0" in by_reason["import_exec_failed"] and "RuntimeError" in by_reason["import_exec_failed"]
    assert by_reason["import_bad_image"].startswith("sft.jsonl record 10: image 0:")  # the file and the row
    assert by_reason["import_output_mismatch"].startswith("sft.jsonl record 6: block 0: the record shows")
    assert "format_missing_think_close" in by_reason["import_bad_format"]


def test_rewritten_paths_and_our_outputs(sandbox, taught, cases):
    crop, compute = cases[:2]
    record = import_thyme_record(crop[0], 0, sandbox)
    assert f'backup = "{INPUT_DIR}00000001_00.jpg"' in record.response
    assert record.task_params["original_image_path"] == f"{AUTHORS}00000001_00.jpg"
    assert record.images[0] == base64.b64decode(crop[0]["image"][0])  # an RGB original keeps its bytes
    mention = crop[0]["question"].replace("<image>\n", f"<image>\nIn {AUTHORS}00000001_00.jpg: ", 1)
    record = import_thyme_record({**crop[0], "question": mention}, 0, sandbox)
    assert record.question.startswith(f"In {INPUT_DIR}00000001_00.jpg: ")
    record = import_thyme_record(compute[0], 1, sandbox)  # claimed "  69.4000 " -> the output we printed
    assert f"<sandbox_output>{taught['compute'][0].answer}</sandbox_output>" in record.response
    assert record.answer_type == "number"


def test_rgba_original_is_composited_onto_white(sandbox, cases):
    raw = cases[4][0]
    record = import_thyme_record(raw, 0, sandbox)
    image = Image.open(io.BytesIO(record.images[0]))
    assert (image.format, image.mode, image.getpixel((0, 0))) == ("PNG", "RGB", (255, 255, 255))


def test_imported_record_passes_the_strict_execution_check(sandbox, cases):
    for raw, _, _ in cases[:3]:
        record = import_thyme_record(raw, 0, sandbox, strict=True)
        assert compare_execution(record, reexecute(record, sandbox)).passed


def test_paths_jsonl_and_parquet_give_the_same_results(tmp_path, sandbox, cases):
    cases = [c for c in cases if c[1] in ("ok", "import_image_size_mismatch")]
    base = [import_thyme_record(raw, i, sandbox) for i, (raw, _, _) in enumerate(cases)]
    (tmp_path / "imgs").mkdir()
    rows = []
    for i, (raw, _, _) in enumerate(cases):
        paths = []
        for k, item in enumerate(raw["image"]):
            (tmp_path / "imgs" / f"{i}_{k}.png").write_bytes(base64.b64decode(item))
            paths.append(f"imgs/{i}_{k}.png")
        rows.append({**raw, "image": paths})
    rows.append({**rows[0], "image": ["imgs/missing.png", *rows[0]["image"][1:]]})
    from_paths = list(import_thyme_file(_write_jsonl(tmp_path / "paths.jsonl", rows), sandbox))
    table = pa.table(
        {
            "images": [[base64.b64decode(x) for x in raw["image"]] for raw, _, _ in cases],
            "question": [raw["question"] for raw, _, _ in cases],
            "response": [raw["response"] for raw, _, _ in cases],
        }
    )
    pq.write_table(table, tmp_path / "sft.parquet")
    assert [r["image"] for r in read_thyme_file(tmp_path / "sft.parquet")][0][0] == base64.b64decode(
        cases[0][0]["image"][0]
    )
    from_parquet = list(import_thyme_file(tmp_path / "sft.parquet", sandbox))

    def key(r):
        return (r.id, r.reason) if isinstance(r, ImportFailure) else (r.id, r.response, r.images)

    assert [key(r) for r in from_paths[:-1]] == [key(r) for r in base] == [key(r) for r in from_parquet]
    assert (from_paths[-1].reason, from_paths[-1].detail) == (
        "import_bad_image",
        f"paths.jsonl record {len(cases)}: image 0: image file not found: imgs/missing.png",
    )


def test_outputs_agree_tolerance():
    assert outputs_agree("3.14159265", "3.141592653589793")
    assert outputs_agree("", "Sandbox for x: No output captured.")
    assert outputs_agree("a  b\n 1", "a b 1.0")
    assert not outputs_agree("3.14", "3.15")
    assert not outputs_agree("area 3", "perimeter 3")
    assert not outputs_agree("1 2", "1")


# --- plain task sources -------------------------------------------------------------------------------------


def _jpeg(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _task_rows(tmp_path) -> list[tuple[dict | str, str]]:
    (tmp_path / "pic.jpg").write_bytes(_jpeg((50, 20)))
    webp = io.BytesIO()
    Image.new("RGBA", (8, 6), (0, 0, 0, 0)).save(webp, "WEBP")
    prompt = fmt.render_user_prompt("How many dots?", f"{AUTHORS}x.jpg", (40, 30))
    return [
        ({"image": _b64(_jpeg()), "question": "How many dots?", "answer": "7"}, "number"),
        (
            {
                "image": "pic.jpg",
                "question": "Which colour?",
                "answer": "blue",
                "choices": ["red", "blue"],
                "id": "mine-1",
            },
            "choice",
        ),
        ({"image": _b64(webp.getvalue()), "question": "Is it empty?", "answer": "yes"}, "yes_no"),
        ({"images": [_b64(_jpeg())], "question": prompt, "solution": "3"}, "number"),  # the RL release's row
        ({"image": _b64(_jpeg()), "question": "Q?"}, "import_missing_field"),
        ({"image": "!!!", "question": "Q?", "answer": "1"}, "import_bad_image"),
        ({"image": "gone.png", "question": "Q?", "answer": "1"}, "import_bad_image"),
        (
            {"image": _b64(_jpeg()), "question": "Q?", "answer": "1", "answer_type": "colour"},
            "import_bad_answer_type",
        ),
        (
            {"image": _b64(_jpeg()), "question": "Q?", "answer": "A", "answer_type": "choice"},
            "import_bad_choices",
        ),
        ("{not json", "import_bad_row"),
    ]


def test_task_source_jsonl(tmp_path):
    rows = _task_rows(tmp_path)
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r, _ in rows))
    out = list(read_task_source(path))
    assert len(out) == len(rows)
    assert [t.answer_type if isinstance(t, Task) else t.reason for t in out] == [e for _, e in rows]
    number, choice, yes_no, rl = out[:4]
    assert (number.family, number.seed, number.target, number.params) == (
        "user",
        0,
        None,
        {"source": "tasks.jsonl"},
    )
    assert number.id.startswith("user-") and (number.image_format, number.width, number.height) == (
        "jpeg",
        40,
        30,
    )
    assert (choice.id, choice.answer, choice.choices, choice.width) == ("mine-1", "B", ("red", "blue"), 50)
    assert yes_no.image_format == "png" and Image.open(io.BytesIO(yes_no.image)).mode == "RGB"
    assert (rl.question, rl.answer) == ("How many dots?", "3")
    failures = [t for t in out if isinstance(t, ImportFailure)]
    assert [f.detail.split(":")[0] for f in failures] == [f"tasks.jsonl row {i}" for i in range(4, 10)]
    assert failures[0].dead_letter({"row": 4}).reason == "import_missing_field"


def test_task_source_json_array_matches_jsonl(tmp_path):
    rows = [r for r, _ in _task_rows(tmp_path) if isinstance(r, dict)]
    (tmp_path / "a.json").write_text(json.dumps(rows))
    _write_jsonl(tmp_path / "a.jsonl", rows)
    as_array, as_lines = (
        list(read_task_source(tmp_path / "a.json")),
        list(read_task_source(tmp_path / "a.jsonl")),
    )
    assert len(as_array) == len(rows)
    assert [t.id if isinstance(t, Task) else t.reason for t in as_array] == [
        t.id if isinstance(t, Task) else t.reason for t in as_lines
    ]


def test_task_source_parquet(tmp_path):
    table = pa.table(
        {
            "image": [_jpeg(), b"junk", _jpeg((9, 9))],
            "question": ["A?", "B?", "C?"],
            "answer": ["2", "3", "no"],
        }
    )
    pq.write_table(table, tmp_path / "tasks.parquet")
    out = list(read_task_source(tmp_path / "tasks.parquet"))
    assert [t.answer_type if isinstance(t, Task) else t.reason for t in out] == [
        "number",
        "import_bad_image",
        "yes_no",
    ]
    assert out[0].image == _jpeg() and out[2].width == 9
    again = list(read_task_source(tmp_path / "tasks.parquet"))
    assert [t.id for t in again] == [t.id for t in out]  # stable ids


def test_ground_truth_is_the_rows_own_answer_read_with_the_question(sandbox, cases):
    from validators.answer import read_answer

    raw = cases[0][0]  # a crop record answering a word, made multiple choice in the released style
    word = fmt.extract_answer(raw["response"]).strip()
    question = raw["question"].replace(
        "\n\n### User Image Path", f"\n(A) APPLE\n(B) {word}\n(C) CANDLE\n\n### User Image Path", 1
    )
    styled = {
        **raw,
        "question": question,
        "response": raw["response"].replace(f"<answer>{word}</answer>", f"<answer>**B. {word}**</answer>"),
    }
    assert styled["question"] != raw["question"] and styled["response"] != raw["response"]
    record = import_thyme_record(styled, 0, sandbox, read_answer=read_answer)
    assert (record.answer, record.answer_type, record.task_params["choices"]) == (
        "B",
        "choice",
        ["APPLE", word, "CANDLE"],
    )
    given = import_thyme_record(
        {**styled, "solution": "<answer> C </answer>"}, 0, sandbox, read_answer=read_answer
    )
    assert given.answer == "C"  # the row's own ground truth wins over what <answer> says
    assert import_thyme_record(styled, 0, sandbox).answer_type == "text"  # without the reader: a guess


def test_strict_import_follows_the_pool_and_says_so_in_its_provenance(cases):
    strict_cfg = SandboxConfig(workers=1, fixups=False)
    raw = cases[0][0]
    with Sandbox(strict_cfg) as strict_pool:
        fixed = raw["response"].replace(
            "print(processed_path)", "print(processed_path)\nprint(cv.__name__)", 1
        )
        assert fixed != raw["response"]
        result = import_thyme_record(
            {**raw, "response": fixed}, 0, strict_pool, sandbox_config_hash=strict_cfg.behaviour_hash()
        )
        assert isinstance(result, ImportFailure)  # `cv` is only an alias with the fix-ups on
        record = import_thyme_record(raw, 0, strict_pool, sandbox_config_hash=strict_cfg.behaviour_hash())
        assert (
            record.provenance.sandbox_config_hash
            == strict_cfg.behaviour_hash()
            != SandboxConfig().behaviour_hash()
        )
        assert all(e.fixes == () for e in record.executions)
