"""beam replay: a run whose checks wrongly rejected records, replayed with the fix, equals a clean run."""

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines import build_sft
from pipelines.cli import main
from runconfig.root import PipelineConfig, load_config
from runconfig.typed import to_dict
from synthesis.records import DeadLetter

ROOT = Path(__file__).resolve().parents[2]
COUNT = 10
MIX = "tasks.mix={crop: 0.2, contrast: 0.3, compute: 0.2, no_code: 0.3}"  # three contrast tasks of ten
STRICT = "validators.images.min_contrast_gain=100"  # no contrast enhancement gains 100x: the family fails
FIXED = "validators.images.min_contrast_gain=0.1"  # the default


def _config(tmp_path, *overrides):
    return load_config(
        ROOT / "pipeline.yaml",
        [
            f"run.output_dir={tmp_path}",
            f"tasks.count={COUNT}",
            MIX,
            "sandbox.workers=1",
            "run.rows_per_shard=4",
            "runner.kind=in_process",
            *overrides,
        ],
    )


def _digests(out: Path, folder: str) -> dict[str, str]:
    return {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted((out / folder).glob("*.parquet"))
    }


def _letter_rows(out: Path) -> list[dict]:
    return [r for f in sorted((out / "dead_letter").glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def _letters(out: Path) -> list[tuple[str, str, str]]:
    return sorted((r["id"], r["stage"], r["reason"]) for r in _letter_rows(out))


def _ids(out: Path) -> list[str]:
    return sorted(
        i for f in (out / "data").glob("*.parquet") for i in pq.read_table(f).column("id").to_pylist()
    )


def _json(out: Path, name: str) -> dict:
    return json.loads((out / name).read_text())


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The run as it should have been: every family accepted."""
    tmp = tmp_path_factory.mktemp("clean")
    assert build_sft.run(_config(tmp)) == 0
    return tmp / "thyme-sft"


@pytest.fixture(scope="module")
def broken(clean, tmp_path_factory):
    """The same run under a too strict images check (the contrast family rejected) and a reference set holding
    one of its compute records (rejected as a duplicate): two reasons, so a replay can pick one."""
    tmp = tmp_path_factory.mktemp("broken")
    table = next(
        t
        for f in sorted((clean / "data").glob("*.parquet"))
        if "compute" in (t := pq.read_table(f)).column("family").to_pylist()
    )
    at = table.column("family").to_pylist().index("compute")
    (tmp / "reference").mkdir()
    pq.write_table(table.slice(at, 1), tmp / "reference" / "eval.parquet")
    assert build_sft.run(_config(tmp, STRICT, f"validators.duplicates.reference={tmp / 'reference'}")) == 0
    out = tmp / "thyme-sft"
    contrast = sorted(i for i in _ids(clean) if i.startswith("contrast-"))
    twin = table.column("id")[at].as_py()
    assert len(contrast) == 3
    assert _letters(out) == sorted(
        [(i, "validate", "images_contrast_not_raised") for i in contrast]
        + [(twin, "dedupe", "duplicates_exact")]
    )
    return out, contrast, twin


def _copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / run.name, symlinks=True)
    return tmp_path / run.name


def test_replay_recovers_exactly_the_wrongly_rejected_records_and_equals_a_clean_run(broken, clean, tmp_path):
    run, contrast, twin = broken
    out = _copy(run, tmp_path)
    twin_letter = next(r for r in _letter_rows(out) if r["id"] == twin)

    # 1. only the contrast family's letters, under the fixed check; the duplicate's letter is not selected
    assert main(["replay", str(out), "--reason", "images_contrast_not_raised", FIXED]) == 0
    assert _ids(out) == sorted(set(_ids(clean)) - {twin})
    assert _letter_rows(out) == [twin_letter]  # not re-run: the very same row
    stats, manifest = _json(out, "stats.json"), _json(out, "manifest.json")
    assert stats["holds"] and (stats["records_in"], stats["accepted"], stats["dead_lettered"]) == (
        COUNT,
        COUNT - 1,
        1,
    )
    assert stats["written"] == {"data": COUNT - 1, "dead_letter": 1}
    [replay] = manifest["replays"]
    assert replay["recovered"] == contrast and replay["dropped"] == [] and replay["dead_lettered"] == 0
    assert replay["selected"] == {"validate/images_contrast_not_raised": 3}
    assert replay["selection"] == {"reasons": ["images_contrast_not_raised"], "stages": []}
    assert replay["overrides"] == [FIXED] and replay["at"]
    assert (
        manifest["config"]["validators"]["images"]["min_contrast_gain"] == 0.1
    )  # the next replay starts here

    # 2. the duplicate's letter, by stage, without the reference set: now the run is the clean run
    assert main(["replay", str(out), "--stage", "dedupe", "validators.duplicates.reference="]) == 0
    assert _digests(out, "data") == _digests(clean, "data")  # byte-identical shards, same sha256
    assert _digests(out, "dead_letter") == _digests(clean, "dead_letter")
    assert _letters(out) == _letters(clean) == []
    stats = _json(out, "stats.json")
    assert stats["holds"] and stats["counts"] == _json(clean, "stats.json")["counts"]
    assert stats["shard_checks"] == {"passed": True, "failures": []} and len(stats["replays"]) == 2
    manifest = _json(out, "manifest.json")
    assert [r["recovered"] for r in manifest["replays"]] == [contrast, [twin]]
    assert [s["sha256"] for s in manifest["shards"]] == [
        s["sha256"] for s in _json(clean, "manifest.json")["shards"]
    ]
    assert sorted(p.name for p in (out / "hub" / "data").glob("*.parquet")) == sorted(_digests(clean, "data"))
    assert not list(out.glob(".staging*"))


def test_replay_without_the_work_store_replays_from_the_payloads(broken, clean, tmp_path):
    run, _, _ = broken
    out = _copy(run, tmp_path)
    shutil.rmtree(out / "work", ignore_errors=True)  # pruned by default: only shards and payloads remain
    assert main(["replay", str(out), FIXED, "validators.duplicates.reference="]) == 0
    assert _digests(out, "data") == _digests(clean, "data")
    assert _json(out, "stats.json")["holds"] and _letters(out) == []


def test_a_selection_that_matches_nothing_changes_nothing(broken, tmp_path, capfd):
    run, _, _ = broken
    out = _copy(run, tmp_path)
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert main(["replay", str(out), "--stage", "validate", "--reason", "duplicates_exact"]) == 0
    assert "no dead letter" in capfd.readouterr().err
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before


def test_replay_refuses_runs_it_cannot_merge_into(tmp_path, capfd):
    rl = tmp_path / "thyme-rl"
    rl.mkdir()
    (rl / "manifest.json").write_text(
        json.dumps({"pipeline": "build_rl", "config": to_dict(PipelineConfig())})
    )
    assert main(["replay", str(rl)]) == 2
    assert "build_rl run is rebuilt whole" in capfd.readouterr().err
    assert main(["replay", str(tmp_path / "nothing")]) == 2
    assert main(["replay", str(rl), "run.name=other"]) == 2
    assert "config error" in capfd.readouterr().err


def _compute_row(images: Path) -> tuple[dict, bytes]:
    """A released Thyme row of a compute task whose image is a file next to the row's file (not yet there)."""
    from sandbox import Sandbox, SandboxConfig
    from sandbox.layout import INPUT_DIR
    from synthesis import format as fmt
    from synthesis.records import Provenance
    from synthesis.rollout_record import record_from_rollout
    from synthesis.tasks import TasksConfig, generate_task
    from synthesis.teacher import image_name, teach

    task = generate_task("compute", 904, TasksConfig())
    with Sandbox(SandboxConfig(workers=1)) as sb:
        record = record_from_rollout(
            task, teach(task, sb), Provenance(source="x", generator="x", generator_version="0", seed=0)
        )
    images.mkdir(exist_ok=True)
    return {
        "image": ["images/compute.png"],
        "question": fmt.render_user_prompt(
            task.question, "/mnt/authors/compute.png", (task.width, task.height)
        ),
        "response": record.response.replace(INPUT_DIR + image_name(task), "/mnt/authors/compute.png"),
    }, record.images[0]


def test_file_sources_replay_from_their_rows_and_a_gone_file_keeps_its_letter(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    row, image = _compute_row(src / "images")
    thyme, tasks = src / "thyme.jsonl", src / "tasks.jsonl"
    thyme.write_text(json.dumps(row) + "\n")
    tasks.write_text(
        json.dumps({"image": "images/task.png", "question": "What is shown?", "answer": "x"})
        + "\n"
        + json.dumps({"question": "no image"})
        + "\n"
    )
    sources = ["sources.generated=false", f"sources.thyme_files=[{thyme}]", f"sources.task_files=[{tasks}]"]
    out = tmp_path / "first" / "thyme-sft"
    assert build_sft.run(_config(out.parent, *sources)) == 1  # the images are missing: nothing accepted
    first = _letter_rows(out)
    assert sorted((r["stage"], r["reason"]) for r in first) == [
        ("import", "import_bad_image"),
        ("import", "import_bad_image"),
        ("import", "import_missing_field"),
    ]
    (src / "images" / "compute.png").write_bytes(image)
    (src / "images" / "task.png").write_bytes(image)

    assert main(["replay", str(out), "--reason", "import_bad_image"]) == 0
    clean = tmp_path / "clean" / "thyme-sft"
    assert build_sft.run(_config(clean.parent, *sources)) == 0
    assert _digests(out, "data") == _digests(clean, "data")  # the released row, imported, re-run and accepted
    assert _letters(out) == _letters(clean)  # the task row reached the teacher (which has no "user" plan)
    assert sorted((stage, reason) for _, stage, reason in _letters(out)) == [
        ("import", "import_missing_field"),
        ("teacher", "teacher_unsupported_family"),
    ]

    tasks.unlink()  # the bad row's file is gone: its letter stays, saying so
    assert main(["replay", str(out), "--stage", "import"]) == 0
    stats = _json(out, "stats.json")
    assert stats["holds"] and (stats["records_in"], stats["accepted"], stats["dead_lettered"]) == (3, 1, 2)
    gone = next(r for r in _letter_rows(out) if r["stage"] == "import")
    assert gone["reason"] == "replay_source_missing"
    assert gone["detail"].startswith(f"source file {tasks} is gone (was import_missing_field: ")
    letter = DeadLetter.from_row(gone)
    assert letter.payload["raw"] == {"question": "no image"}  # the payload is kept for a later replay
    assert _digests(out, "data") == _digests(clean, "data")
