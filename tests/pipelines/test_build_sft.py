"""build_sft end to end: nothing lost under injected faults, identical shards on every runner, resume after
a kill."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from pipelines import build_sft
from runconfig.root import load_config
from synthesis import tasks as tasks_pkg
from synthesis.records import DeadLetter
from synthesis.teacher import plans

sys.path.append(str(Path(__file__).resolve().parent))
from s3_server import s3_endpoint  # noqa: E402, F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]
COUNT = 12


def _config(tmp_path, *overrides):
    return load_config(
        ROOT / "pipeline.yaml",
        [
            f"run.output_dir={tmp_path}",
            f"tasks.count={COUNT}",
            "sandbox.workers=1",
            "run.rows_per_shard=5",
            "runner.kind=in_process",
            "run.work=keep",  # these runs are rerun into the same folder and read back from work/
            *overrides,
        ],
    )


def _shards(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("*/*.parquet"))}


def _dead_letters(out: Path) -> list[DeadLetter]:
    return [
        DeadLetter.from_row(r)
        for f in sorted((out / "dead_letter").glob("*.parquet"))
        for r in pq.read_table(f).to_pylist()
    ]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("clean")
    assert build_sft.run(_config(tmp)) == 0
    return tmp / "thyme-sft"


def test_artefact_contract_and_datasets_load(clean_run):
    names = sorted(
        p.relative_to(clean_run).as_posix()
        for p in clean_run.rglob("*")
        if p.is_file() and not {"work", "hub", "shard_checks", "report"} & set(p.relative_to(clean_run).parts)
    )
    assert names == [
        "data/train-00000-of-00003.parquet",
        "data/train-00001-of-00003.parquet",
        "data/train-00002-of-00003.parquet",
        "dead_letter/dead_letter-00000-of-00001.parquet",
        "manifest.json",
        "stats.json",
    ]
    assert (
        clean_run / "report" / "index.html"
    ).is_file()  # the browsable report (tests/pipelines/test_report*)
    stats = json.loads((clean_run / "stats.json").read_text())
    assert stats["holds"] and stats["records_in"] == COUNT == stats["accepted"] + stats["dead_lettered"]
    manifest = json.loads((clean_run / "manifest.json").read_text())
    assert [s["rows"] for s in manifest["shards"] if "/data/" in s["path"]] == [5, 5, 2]
    assert manifest["config"]["tasks"]["count"] == COUNT and manifest["packages"]["apache-beam"] == "2.77.0"
    assert stats["shard_checks"] == {"passed": True, "failures": []}
    assert (clean_run / "shard_checks" / "result.json").exists()
    assert (clean_run / "shard_checks" / "data_docs" / "index.html").exists()
    ds = datasets.load_dataset(str(clean_run / "hub"), split="train")  # the published folder
    assert len(ds) == stats["accepted"] and ds[0]["images"][0].size == tuple(ds[0]["image_size"].values())
    card = (clean_run / "hub" / "README.md").read_text()
    assert "## Rejections" in card and "## Tool evidence" in card
    evidence = {(row["family"], row["tool_evidence"]["kind"]) for row in ds}  # every row measured
    assert evidence <= {
        ("crop", "zoom"),
        ("multi_round", "zoom"),
        ("rotate", "rotate"),
        ("contrast", "enhance"),
        ("compute", "compute"),
        ("no_code", "none"),
    }
    assert sum(v for k, v in stats["counts"].items() if k.startswith("evidence/")) == stats["accepted"]


def test_rerun_reuses_work_and_is_byte_identical(clean_run, tmp_path):
    before = _shards(clean_run)
    assert build_sft.run(_config(clean_run.parent)) == 0
    stats = json.loads((clean_run / "stats.json").read_text())
    assert stats["metrics"].get("teacher_reused", 0) == COUNT  # no trajectory was recomputed
    assert _shards(clean_run) == before


def test_injected_faults_all_end_as_dead_letters(tmp_path, monkeypatch):
    original_generate, original_plan = tasks_pkg.generate_task, plans.plan_script

    def generate(family, seed, cfg):
        if seed == 1:
            raise ValueError("generator exploded")  # a record that raises inside a DoFn
        task = original_generate(family, seed, cfg)
        if seed == 2:
            return type(task)(
                **{
                    **task.to_dict(),
                    "image": b"\x89PNG corrupt",
                    "choices": task.choices,
                    "target": task.target,
                }
            )  # a corrupt image
        return task

    def plan(task, image_path):
        script = original_plan(task, image_path)
        if task.seed == 3 and script.rounds:  # the sandbox process dies mid-block
            crash = plans.Round("Let me look.", "import os\nos._exit(9)")
            return plans.Script((crash,), script.conclusion, script.answer, script.separator)
        if task.seed == 4:  # the teacher answers wrongly
            return plans.Script(script.rounds, script.conclusion, "definitely wrong", script.separator)
        return script

    monkeypatch.setattr("pipelines.sft.generate_task", generate)
    monkeypatch.setattr("synthesis.teacher.plan_script", plan)
    assert build_sft.run(_config(tmp_path)) == 0
    out = tmp_path / "thyme-sft"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["holds"] and stats["records_in"] == COUNT
    by_seed = {}
    for letter in _dead_letters(out):
        seed = int(letter.id.split("-")[1])
        by_seed[seed] = (letter.stage, letter.reason)
    assert by_seed[1] == ("generate", "exception_ValueError")
    assert by_seed[2][0] in ("teacher", "validate")
    assert by_seed[3][1].startswith(("exec_", "images_", "format_")) or by_seed[3][0] == "teacher"
    assert by_seed[4] == ("validate", "answer_mismatch")
    assert stats["accepted"] == COUNT - len(by_seed)
    letter = next(
        d
        for d in _dead_letters(out)
        if d.id.startswith(
            (
                "crop-000002",
                "rotate-000002",
                "contrast-000002",
                "compute-000002",
                "multi_round-000002",
                "no_code-000002",
            )
        )
    )
    assert letter.payload  # the full input travels with the dead letter, for replay


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multi_process_and_portable_runners_write_identical_shards(clean_run, tmp_path):
    multi = tmp_path / "multi"
    assert build_sft.run(_config(multi, "runner.kind=multi_process", "runner.workers=2")) == 0
    assert _shards(multi / "thyme-sft") == _shards(clean_run)
    job, pool = _free_port(), _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apache_beam.runners.portability.local_job_service_main",
                "--port",
                str(job),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={pool}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        time.sleep(5)
        portable = tmp_path / "portable"
        cfg = _config(
            portable,
            "runner.kind=portable",
            f"runner.job_endpoint=localhost:{job}",
            "runner.environment_type=EXTERNAL",
            f"runner.environment_config=localhost:{pool}",
        )
        assert build_sft.run(cfg) == 0
        assert _shards(portable / "thyme-sft") == _shards(clean_run)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_killed_run_resumes_to_identical_shards(clean_run, tmp_path):
    cmd = [
        str(Path(sys.executable).with_name("beam")),
        "run",
        "pipelines/build_sft.py",
        "--config",
        "pipeline.yaml",
        f"run.output_dir={tmp_path}",
        f"tasks.count={COUNT}",
        "sandbox.workers=1",
        "run.rows_per_shard=5",
        "runner.kind=in_process",
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    store = tmp_path / "thyme-sft" / "work"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(store.glob("trajectories/*/*.parquet"))) < COUNT // 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(store.glob("trajectories/*/*.parquet")))
    assert 0 < done < COUNT and not (tmp_path / "thyme-sft" / "data").exists()
    assert subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=600).returncode == 0
    assert _shards(tmp_path / "thyme-sft") == _shards(clean_run)


def _released(task, record) -> dict:
    """A record in the original release's format: base64 images, the authors' path in question and code."""
    import base64

    from sandbox.layout import INPUT_DIR
    from synthesis import format as fmt
    from synthesis.teacher import image_name

    path = f"/mnt/authors/images/{task.id}.jpg"
    return {
        "image": [base64.b64encode(b).decode() for b in record.images],
        "question": fmt.render_user_prompt(task.question, path, (task.width, task.height)),
        "response": record.response.replace(INPUT_DIR + image_name(task), path),
    }


def test_file_sources_are_imported_verified_or_dead_lettered(tmp_path):
    from sandbox import Sandbox, SandboxConfig
    from synthesis.records import Provenance
    from synthesis.rollout_record import record_from_rollout
    from synthesis.tasks import TasksConfig, generate_task
    from synthesis.teacher import teach

    cfg = TasksConfig()
    released = []
    with Sandbox(SandboxConfig(workers=1)) as sb:
        for family, seed in (("crop", 900), ("compute", 901), ("no_code", 902)):
            task = generate_task(family, seed, cfg)
            released.append(
                _released(
                    task,
                    record_from_rollout(
                        task,
                        teach(task, sb),
                        Provenance(source="x", generator="x", generator_version="0", seed=0),
                    ),
                )
            )
    broken = dict(released[1], response=released[1]["response"].replace("</think>", "", 1))
    thyme = tmp_path / "thyme.jsonl"
    thyme.write_text("\n".join(json.dumps(r) for r in [*released, broken]) + "\n")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        json.dumps({"image": released[0]["image"][0], "question": "What is shown?", "answer": "x"})
        + "\n"
        + json.dumps({"question": "no image"})
        + "\n"
    )
    out = tmp_path / "out"
    cfg = _config(
        out, "sources.generated=false", f"sources.thyme_files=[{thyme}]", f"sources.task_files=[{tasks}]"
    )
    assert build_sft.run(cfg) == 0
    stats = json.loads((out / "thyme-sft" / "stats.json").read_text())
    assert stats["records_in"] == 6 and stats["holds"]
    assert stats["counts"]["accepted/family/imported"] == 3
    reasons = sorted((d.stage, d.reason) for d in _dead_letters(out / "thyme-sft"))
    assert reasons == [
        ("import", "import_bad_format"),
        ("import", "import_missing_field"),
        ("teacher", "teacher_unsupported_family"),
    ]


def _scripted_server():
    import importlib.util

    path = ROOT / "tests" / "synthesis" / "scripted_server.py"
    spec = importlib.util.spec_from_file_location("scripted_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedTeacher


@pytest.mark.parametrize("cache", ["cache.sqlite", "s3://bucket/teacher-cache"])
def test_openai_teacher_over_http_loses_nothing_and_reruns_from_cache(tmp_path, monkeypatch, request, cache):
    """The second run, into another output folder, is served from the request cache: a local sqlite file, or
    an object-store prefix that workers sharing no disk share (a real S3-compatible server)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (96, 96), (200, 200, 200)).save(buf, format="PNG")
    image = base64.b64encode(buf.getvalue()).decode()
    rows = [
        ("What is 20 + 22? [calc:20 + 22]", "42"),
        ("What is 6 times 7? [calc:6 * 7]", "42"),
        ("What is 2 + 2? [calc:2 + 3]", "4"),
        ("Broken endpoint [fault:500]", "1"),
        ("Junk [junk]", "1"),
    ]
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        "".join(
            json.dumps({"image": image, "question": q, "answer": a, "answer_type": "number"}) + "\n"
            for q, a in rows
        )
    )
    monkeypatch.setenv("SCRIPTED_KEY", "sk-test")
    monkeypatch.chdir(tmp_path)  # the request cache path is relative to the working directory
    with _scripted_server()() as server:
        overrides = [
            "sources.generated=false",
            f"sources.task_files=[{tasks}]",
            "teacher.kind=openai",
            f"teacher.openai.base_url={server.base_url}",
            "teacher.openai.model=scripted-teacher",
            "teacher.openai.api_key_env=SCRIPTED_KEY",
            "teacher.openai.max_retries=1",
            "teacher.openai.backoff_base_s=0.01",
            f"teacher.openai.cache_path={cache}",
        ]
        if cache.startswith("s3://"):
            request.getfixturevalue("s3_endpoint")
            overrides += ["runner.kind=multi_process", "runner.workers=2"]  # two processes, one cache
        assert build_sft.run(_config(tmp_path / "a", *overrides)) == 0
        first = server.requests
        assert first > 0 and set(server.auth) == {"Bearer sk-test"}
        assert build_sft.run(_config(tmp_path / "b", *overrides)) == 0
        # The rerun is served from the request cache; only the failed request is tried again (failures are
        # never cached), and it fails the same way.
        assert server.requests > first
        assert all("[fault:500]" in json.dumps(body) for body in server.bodies[first:])
    out = tmp_path / "a" / "thyme-sft"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["records_in"] == 5 and stats["accepted"] == 2 and stats["holds"]
    reasons = sorted(d.reason for d in _dead_letters(out))
    assert reasons == ["answer_mismatch", "teacher_backend_error", "teacher_degenerate"]
    assert _shards(out) == _shards(tmp_path / "b" / "thyme-sft")
    if cache.startswith("s3://"):  # the replies live in the store, not on any worker's disk
        from synthesis.endpoint.cache import open_cache

        assert len(open_cache(cache)) >= 3 and not list(tmp_path.rglob("*.sqlite"))  # a reply per call
    # the teacher's records are measured like any other: its code computed the answers the questions ask for
    evidence = [
        row["tool_evidence"]
        for f in sorted((out / "data").glob("*.parquet"))
        for row in pq.read_table(f).to_pylist()
    ]
    assert [(e["kind"], e["needed"]) for e in evidence] == [("compute", "yes")] * 2
    assert all(e["arithmetic_ops"] == 1 for e in evidence)


def test_duplicates_are_dead_lettered_within_the_run_and_against_a_reference(
    tmp_path, monkeypatch, clean_run
):
    original = tasks_pkg.generate_task

    def generate(family, seed, cfg):
        if seed != 5:
            return original(family, seed, cfg)
        twin = original("crop", 0, cfg)  # task 0 again (same image and question) under another id
        return type(twin)(
            **{**twin.to_dict(), "id": twin.id + "-copy", "choices": twin.choices, "target": twin.target}
        )

    monkeypatch.setattr("pipelines.sft.generate_task", generate)
    reference = tmp_path / "eval"
    (reference).mkdir()
    first_shard = sorted((clean_run / "data").glob("*.parquet"))[0]
    table = pq.read_table(first_shard)
    pq.write_table(
        table.slice(1, 1), reference / "eval.parquet"
    )  # one record of the clean run as an "eval set"
    evaluated = table.column("id")[1].as_py()
    assert build_sft.run(_config(tmp_path, f"validators.duplicates.reference={reference}")) == 0
    letters = {d.id: (d.stage, d.reason) for d in _dead_letters(tmp_path / "thyme-sft")}
    assert letters[evaluated] == ("dedupe", "duplicates_exact")
    [copy] = [i for i in letters if i.endswith("-copy")]
    assert letters[copy] == ("dedupe", "duplicates_exact")  # the smaller id (the original) is kept


def test_the_same_record_from_three_sources_is_kept_once(tmp_path):
    from sandbox import Sandbox, SandboxConfig
    from synthesis.records import Provenance
    from synthesis.rollout_record import record_from_rollout
    from synthesis.tasks import TasksConfig, generate_task
    from synthesis.teacher import teach

    with Sandbox(SandboxConfig(workers=1)) as sb:
        task = generate_task("compute", 903, TasksConfig())
        row = _released(
            task,
            record_from_rollout(
                task, teach(task, sb), Provenance(source="x", generator="x", generator_version="0", seed=0)
            ),
        )
    files = []
    for name in ("a.jsonl", "b.jsonl", "c.jsonl"):
        (tmp_path / name).write_text(json.dumps(row) + "\n")
        files.append(str(tmp_path / name))
    out = tmp_path / "out"
    assert (
        build_sft.run(_config(out, "sources.generated=false", f"sources.thyme_files=[{','.join(files)}]"))
        == 0
    )
    stats = json.loads((out / "thyme-sft" / "stats.json").read_text())
    assert (stats["records_in"], stats["accepted"], stats["dead_lettered"]) == (3, 1, 2) and stats["holds"]
    assert [(d.stage, d.reason) for d in _dead_letters(out / "thyme-sft")] == [
        ("dedupe", "duplicates_same_record")
    ] * 2


def test_a_run_that_accepts_nothing_says_so(tmp_path, capfd):
    rows = tmp_path / "bad.jsonl"
    rows.write_text('{"image": ["%%%"], "question": "q", "response": "r"}\nnot json\n')
    out = tmp_path / "out"
    assert build_sft.run(_config(out, "sources.generated=false", f"sources.thyme_files=[{rows}]")) == 1
    err = capfd.readouterr().err
    assert f"0 of 2 records accepted; see {out}/thyme-sft/dead_letter/" in err, err[-1500:]
    assert "[build] 2/2 done" in err  # progress counts the file rows, not N/0
    stats = json.loads((out / "thyme-sft" / "stats.json").read_text())
    assert stats["holds"] and stats["shard_checks"]["failures"][0].startswith("0 of 2 records accepted")
    letters = _dead_letters(out / "thyme-sft")
    assert sorted(d.detail.split(":")[0] for d in letters) == ["bad.jsonl record 0", "bad.jsonl record 1"]
