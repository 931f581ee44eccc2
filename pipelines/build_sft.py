"""build_sft: known-answer tasks -> programmatic teacher in the sandbox -> record checks -> SFT shards.

Run it with ``beam run pipelines/build_sft.py [--config pipeline.yaml] [KEY=VALUE ...]``. It writes, under
``<run.output_dir>/<run.name>/``:

* ``data/<split>-SSSSS-of-NNNNN.parquet``  accepted SFT records (Hugging Face layout, balanced by rows);
* ``dead_letter/dead_letter-SSSSS-of-NNNNN.parquet``  every rejected or failed input with stage and reason;
* ``stats.json``  counts per family, stage, reason and check; sandbox and teacher costs; throughput;
* ``manifest.json``  config, seeds, package versions, git commit and every shard's row count and hash;
* ``shard_checks/``  the great-expectations shard suite: ``result.json`` and Data Docs HTML;
* ``hub/``  the Hub-ready dataset folder (card, plots, shards) when ``run.publish`` is on and all checks hold;
* ``work/``  finished records, each keyed by what it was made from: a rerun reuses exactly those whose inputs,
  teacher, sandbox behaviour and validators are unchanged (resume). Images are stored once (an accepted
  record reads them from its draft); ``run.work=prune`` removes the folder after a successful run.

Every record that enters leaves as an accepted row or a dead letter; the run checks this and fails otherwise.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import apache_beam as beam

from pipelines.card import preload_plots
from pipelines.dedupe import Deduplicate
from pipelines.manifest import build_manifest, write_json
from pipelines.progress import Progress, mark_dead
from pipelines.publish import publish_folder
from pipelines.record_store import finish_work, run_stores
from pipelines.report import write_report
from pipelines.report.render import RenderImages
from pipelines.run_folder import SHARD_FOLDERS, WITH_REPORT, finishing, run_location, stage_location
from pipelines.runner import local_workers, pipeline_options
from pipelines.sft import (
    GenerateTasks,
    ImportThyme,
    OneCopyPerId,
    PlanTasks,
    ReadTaskFiles,
    VerifyTrajectories,
    WriteTrajectories,
    source_units,
)
from pipelines.shards import ShardInfo, WriteRunShards, promote_run, rows_per_folder
from pipelines.stats import (
    CountFacts,
    check_invariant,
    dead_letter_facts,
    metric_totals,
    nothing_accepted,
    record_facts,
    teacher_totals,
)
from runconfig import storage
from runconfig.keys import api_key
from runconfig.root import PipelineConfig
from synthesis.endpoint.config import TeacherConfig
from synthesis.endpoint.errors import FatalTeacherError, find_fatal
from synthesis.importers.common import row_groups
from synthesis.records import SFT_SCHEMA
from validators.shards import preload, validate_shards

log = logging.getLogger("build_sft")


def build(p: beam.Pipeline, config: PipelineConfig, out: str, stage: str) -> None:
    """Compose the SFT pipeline into ``p``; outputs go to the staging folder ``stage``."""
    work = storage.join(out, "work")
    drafts, accepted_store = run_stores(work)
    sources = config.sources
    planned = (
        p | "PlanTasks" >> PlanTasks(config.tasks, local_workers(config.runner))
        if sources.generated
        else p | "NoPlannedTasks" >> beam.Create([])
    )
    generated, dead_generate = planned | "GenerateTasks" >> GenerateTasks(config.tasks)
    task_units = (
        p
        | "TaskFiles" >> beam.Create(sources.task_files)
        | "TaskFileSlices" >> beam.FlatMap(source_units)
        | "SpreadTaskSlices" >> beam.Reshuffle()
    )
    user_tasks, dead_tasks = task_units | "TasksFromRows" >> ReadTaskFiles()
    thyme_units = (
        p
        | "ThymeFiles" >> beam.Create(sources.thyme_files)
        | "ThymeFileSlices" >> beam.FlatMap(source_units)
        | "SpreadThymeSlices" >> beam.Reshuffle()
    )
    imported, dead_import = thyme_units | "ImportThyme" >> ImportThyme(config.sandbox, drafts)
    # One teacher per task source, so generation and teaching fuse into one stage: a Flatten of tasks would
    # make the runner buffer every task (and its image) between the stages. Only ids are flattened.
    sandbox_hash = config.sandbox.behaviour_hash()
    taught, dead_teacher = generated | "WriteTrajectories" >> WriteTrajectories(
        config.teacher, config.sandbox, drafts, sandbox_hash
    )
    taught_user, dead_teacher_user = user_tasks | "TeachUserTasks" >> WriteTrajectories(
        config.teacher, config.sandbox, drafts, sandbox_hash
    )
    # Verified per source too: a Flatten before the checks would end the fused stage there, so every record
    # would wait for the slowest teacher before its checks began.
    verify = VerifyTrajectories(config.validators, config.sandbox, drafts, accepted_store)
    judged = [
        ids | f"Verify{name}" >> verify
        for name, ids in (("Generated", taught), ("UserTasks", taught_user), ("Imported", imported))
    ]
    verified = [ok for ok, _ in judged] | "AllVerified" >> beam.Flatten()
    dead_validate = [bad for _, bad in judged] | "AllRejectedByChecks" >> beam.Flatten()
    verified, dead_copies = verified | "OneCopyPerId" >> OneCopyPerId(accepted_store)
    if config.validators.duplicates.enabled:
        accepted, dead_dupes = verified | "Deduplicate" >> Deduplicate(
            config.validators.duplicates, accepted_store
        )
    else:
        accepted, dead_dupes = verified, p | "NoDuplicates" >> beam.Create([])
    dead = (
        dead_generate,
        dead_tasks,
        dead_import,
        dead_teacher,
        dead_teacher_user,
        dead_validate,
        dead_copies,
        dead_dupes,
    ) | "AllDeadLetters" >> beam.Flatten()
    _ = dead | "MarkDeadForProgress" >> beam.Map(mark_dead, work)
    dead_rows = dead | "DeadLetterRows" >> beam.Map(lambda d: d.to_row())
    if config.run.report:  # as each source's records are verified, in their fused stage (not after a Flatten)
        render = RenderImages(storage.join(out, "report"), load=accepted_store.table)
        for name, (ok, _) in zip(("Generated", "UserTasks", "Imported"), judged, strict=True):
            _ = ok | f"RenderReportImages{name}" >> render.accepted()
        _ = dead_rows | "RenderDeadLetterImages" >> render.dead_letters()
    file_rows = (
        (task_units, thyme_units)
        | "AllFileSlices" >> beam.Flatten()
        | "RowsOfSlices" >> beam.FlatMap(lambda unit: ["in"] * unit["group"].rows)
    )
    records_in = (
        planned | "PlannedFacts" >> beam.Map(lambda _: "in"),
        file_rows,
    ) | "AllInputs" >> beam.Flatten()

    _ = (accepted, dead_rows) | "WriteRunShards" >> WriteRunShards(
        stage,
        config.run.splits,
        SFT_SCHEMA,
        config.run.rows_per_shard,
        config.run.rows_per_group,
        load=accepted_store.table,
    )
    accepted_facts = accepted | "AcceptedFacts" >> beam.FlatMap(
        lambda rid: record_facts(accepted_store.get(rid))
    )
    dead_facts = dead | "DeadFacts" >> beam.FlatMap(dead_letter_facts)
    _ = (
        (records_in, accepted_facts, dead_facts)
        | "AllFacts" >> beam.Flatten()
        | "CountFacts" >> CountFacts()
        | "SaveCounts" >> beam.Map(lambda v, path: write_json(path, v), storage.join(stage, "counts.json"))
    )


def check_teacher(cfg: TeacherConfig) -> None:
    """Before any worker starts: does the endpoint answer, take the key and list the model? (No tokens.)"""
    from synthesis.endpoint.backend import OpenAIBackend

    with OpenAIBackend(cfg, api_key(cfg.api_key_env)) as backend:
        backend.check_endpoint()


def run(config: PipelineConfig) -> int:
    """Run build_sft with ``config``; returns 0 when every record is accounted for, 1 otherwise, and 3 when
    the teacher refused the run (bad key, unknown model, nothing listening) with one line saying why."""
    out = run_location(config.run.output_dir, config.run.name)
    stage = stage_location(out)
    planned = config.tasks.count if config.sources.generated else 0
    planned += sum(
        g.rows for f in (*config.sources.task_files, *config.sources.thyme_files) for g in row_groups(f)
    )
    started = time.time()
    if config.teacher.kind == "openai" and config.sources.task_files and config.teacher.openai.preflight:
        try:
            check_teacher(config.teacher.openai)
        except FatalTeacherError as err:
            sys.stderr.write(f"build_sft: stopped: teacher: {err} (nothing was run)\n")
            return 3
    with Progress(storage.join(out, "work"), planned) as progress:
        p = beam.Pipeline(options=pipeline_options(config.runner))
        build(p, config, out, stage)
        preload()  # the shard suite's imports overlap with the run
        if config.run.publish:
            preload_plots()  # and the card's
        try:
            result = p.run()
            result.wait_until_finish()
        except BaseException as err:  # nothing half-written: the staged outputs go, finished records stay
            storage.delete_tree(stage)
            fatal = find_fatal(err)
            if fatal is None:
                raise
            sys.stderr.write(
                f"\nbuild_sft: stopped: teacher: {fatal} (no shard written; finished records kept "
                f"under {out}/work/)\n"
            )
            return 3
    elapsed = time.time() - started
    promoted = promote_run(stage, out, "build_sft")
    if promoted is None:
        return 1
    counts, shards = promoted
    records_in = counts.get("in", 0)
    metrics = metric_totals(result)
    stats = {
        **check_invariant(records_in, counts, rows_per_folder(shards)),
        "counts": counts,
        "metrics": metrics,
        "teacher": teacher_totals(metrics),
        "elapsed_s": round(elapsed, 2),
        "records_per_s": round(records_in / elapsed, 3) if elapsed else None,
        "progress": progress.summary(),
    }
    with finishing(out, WITH_REPORT if config.run.report else SHARD_FOLDERS) as local:
        ok, checks = _finish(config, local, out, stats, shards)
    _summary(out, stats, shards, checks, config.run.publish and ok)
    if config.run.report:
        sys.stderr.write(f"  report: {storage.join(out, 'report', 'index.html')}\n")
    if finish_work(storage.join(out, "work"), config.run.work, ok):
        sys.stderr.write(f"  {out}/work/ pruned (run.work=prune)\n")
    return 0 if ok else 1


def _finish(
    config: PipelineConfig, local: Path, out: str, stats: dict, shards: list[ShardInfo]
) -> tuple[bool, str]:
    """The shard suite, ``stats.json``, ``manifest.json``, Hub folder and report of the promoted run ``out``,
    written under ``local`` (:func:`pipelines.run_folder.finishing`); returns ``(ok, suite summary)``."""
    report = (
        validate_shards(local / "data", config.validators.shards, local / "shard_checks")
        if stats["accepted"]
        else nothing_accepted(stats["records_in"], stats["counts"], out)
    )
    stats["shard_checks"] = {"passed": report.success, "failures": report.failures}
    write_json(local / "stats.json", stats)
    write_json(local / "manifest.json", build_manifest(config, "build_sft", shards))
    ok = stats["holds"] and report.success
    if ok and config.run.publish:
        publish_folder(local)
    if config.run.report:
        write_report(local)
    return ok, report.summary()


def _load_hint(out: str) -> str:
    """How to load the Hub folder: by folder when local; by file pattern (with s3fs) on a store, whose
    "folders" ``datasets`` does not list.

    Example:
        >>> _load_hint("out/x"), _load_hint("s3://b/x")
        ("load_dataset('out/x/hub')", "load_dataset('parquet', data_files='s3://b/x/hub/data/*.parquet')")
    """
    if storage.is_remote(out):
        return f"load_dataset('parquet', data_files='{out}/hub/data/*.parquet')"
    return f"load_dataset('{out}/hub')"


def _summary(out: str, stats: dict, shards: list[ShardInfo], checks: str, published: bool) -> None:
    c = stats["counts"]
    lines = [
        f"build_sft: {stats['records_in']} in -> {stats['accepted']} accepted + {stats['dead_lettered']} "
        f"dead-lettered ({'ok' if stats['holds'] else 'INVARIANT BROKEN'}) in {stats['elapsed_s']} s "
        f"({stats['records_per_s']} records/s)"
    ]
    fams = {k.split("/")[-1]: v for k, v in c.items() if k.startswith("accepted/family/")}
    lines.append("  accepted by family: " + ", ".join(f"{k} {v}" for k, v in sorted(fams.items())))
    reasons = {k.removeprefix("dead/reason/"): v for k, v in c.items() if k.startswith("dead/reason/")}
    if reasons:
        lines.append("  dead letters: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    lines.append(f"  {checks.splitlines()[0]} (report: {out}/shard_checks/)")
    lines += [f"    {line}" for line in checks.splitlines()[1:]]
    lines.append(
        f"  {len(shards)} shards under {out}/ (data/, dead_letter/), stats.json, manifest.json"
        + (f"; Hub-ready folder {out}/hub/ ({_load_hint(out)})" if published else "")
    )
    sys.stderr.write("\n".join(lines) + "\n")
