"""``beam replay``: re-run the dead letters of a finished build_sft run and merge the outcome into the run.

``beam replay OUTPUT_DIR [--reason R ...] [--stage S ...] [KEY=VALUE ...]`` re-runs the selected dead letters
under the current code and the run's config (its ``manifest.json``) plus the overrides. Each letter re-enters
at the stage that turned it down, with the input its payload carries (:mod:`pipelines.replay_entries`),
through build_sft's own transforms and the run's ``work/`` store, so a recovered record is the record a clean
run would have accepted. The run's accepted records and the recovered ones then go through ``OneCopyPerId``,
``Deduplicate`` and ``WriteShards`` from the store, as in build_sft, so the data shards are byte-identical to
those of a clean run that accepted the same records. Letters not selected are copied over unchanged. Shards
are staged and then promoted, ``stats.json`` is recomputed for the merged run, and ``manifest.json`` records
the replay.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq

from pipelines.dedupe import Deduplicate
from pipelines.manifest import build_manifest, git_commit, write_json
from pipelines.publish import publish_folder
from pipelines.record_store import RecordStore, finish_work, run_stores
from pipelines.replay_entries import Selection
from pipelines.replay_read import (
    ImportThymeRows,
    KeepAccepted,
    ReadTaskRows,
    RecordsFromStore,
    RouteDeadLetters,
)
from pipelines.run_folder import stage_location
from pipelines.runner import pipeline_options
from pipelines.sft import (
    GenerateTasks,
    ImportThyme,
    OneCopyPerId,
    ReadTaskFiles,
    VerifyTrajectories,
    WriteTrajectories,
)
from pipelines.shards import WriteRunShards, promote_run, rows_per_folder
from pipelines.stats import (
    CountFacts,
    check_invariant,
    dead_letter_facts,
    metric_totals,
    nothing_accepted,
    record_facts,
    teacher_totals,
)
from synthesis.endpoint.errors import FatalTeacherError, find_fatal
from synthesis.records import SFT_SCHEMA, DeadLetter
from validators.shards import preload, validate_shards

__all__ = ["Selection", "build", "run"]


def build(p: beam.Pipeline, config: Any, out: Path, stage: Path, selection: Selection) -> None:
    """Compose the replay of the run in ``out`` into ``p``; the merged shards go to the staging folder.

    Args:
        p (`beam.Pipeline`): the pipeline to compose into.
        config (`runconfig.root.PipelineConfig`): the run's config with the replay's overrides.
        out (`Path`): the run's folder (its ``data/``, ``dead_letter/`` and ``work/`` are read).
        stage (`Path`): where the merged shards, ``shards.json`` and ``counts.json`` are written.
        selection (`Selection`): which dead letters are re-run.
    """
    drafts, store = run_stores(out / "work")
    routed = (
        p
        | "DeadLetterShards" >> beam.Create(_shards(out / "dead_letter"))
        | "RouteDeadLetters" >> RouteDeadLetters(selection, config.sources)
    )
    generated, dead_generate = routed.generate | "GenerateTasks" >> GenerateTasks(config.tasks)
    user_rows, dead_user_rows = routed.task_rows | "ReadTaskRows" >> ReadTaskRows()
    user_slices, dead_user_slices = routed.task_slices | "ReadTaskFiles" >> ReadTaskFiles()
    tasks = (generated, user_rows, user_slices, routed.tasks) | "AllTasks" >> beam.Flatten()
    taught, dead_teacher = tasks | "WriteTrajectories" >> WriteTrajectories(
        config.teacher, config.sandbox, drafts, config.sandbox.behaviour_hash()
    )
    thyme_rows, dead_thyme_rows = routed.thyme_rows | "ImportThymeRows" >> ImportThymeRows(
        config.sandbox, drafts
    )
    thyme_slices, dead_thyme_slices = routed.thyme_slices | "ImportThyme" >> ImportThyme(
        config.sandbox, drafts
    )
    stored, dead_drafts = routed.drafts | "DraftsFromStore" >> RecordsFromStore("validate", drafts)
    verified, dead_validate = (
        (taught, thyme_rows, thyme_slices, stored)
        | "AllDrafts" >> beam.Flatten()
        | "VerifyTrajectories" >> VerifyTrajectories(config.validators, config.sandbox, drafts, store)
    )
    again, dead_again = routed.accepted | "AcceptedFromStore" >> RecordsFromStore("dedupe", store)
    kept = p | "DataShards" >> beam.Create(_shards(out / "data")) | "KeepAccepted" >> KeepAccepted(store)
    accepted, dead_copies = (
        (kept, verified, again) | "AllCandidates" >> beam.Flatten() | "OneCopyPerId" >> OneCopyPerId(store)
    )
    if config.validators.duplicates.enabled:
        accepted, dead_dupes = accepted | "Deduplicate" >> Deduplicate(config.validators.duplicates, store)
    else:
        dead_dupes = p | "NoDuplicates" >> beam.Create([])
    new_dead = (
        routed.dead,
        dead_generate,
        dead_user_rows,
        dead_user_slices,
        dead_teacher,
        dead_thyme_rows,
        dead_thyme_slices,
        dead_drafts,
        dead_validate,
        dead_again,
        dead_copies,
        dead_dupes,
    ) | "NewDeadLetters" >> beam.Flatten()
    dead_rows = (
        routed.kept,
        new_dead | "NewDeadLetterRows" >> beam.Map(lambda d: d.to_row()),
    ) | "AllDeadLetterRows" >> beam.Flatten()
    _write_outputs(config, stage, store, accepted, dead_rows)


def _write_outputs(config: Any, stage: Path, store: RecordStore, accepted, dead_rows) -> None:
    """build_sft's outputs of the merged run: the data shards from the store, split and written as build_sft
    writes them; the dead-letter shards; ``shards.json``; and ``counts.json`` (accepted and dead letters)."""
    run = config.run
    _ = (accepted, dead_rows) | "WriteRunShards" >> WriteRunShards(
        str(stage), run.splits, SFT_SCHEMA, run.rows_per_shard, run.rows_per_group, load=store.table
    )
    _ = (
        (
            accepted | "AcceptedFacts" >> beam.FlatMap(lambda rid: record_facts(store.get(rid))),
            dead_rows | "DeadFacts" >> beam.FlatMap(_dead_row_facts),
        )
        | "AllFacts" >> beam.Flatten()
        | "CountFacts" >> CountFacts()
        | "SaveCounts" >> beam.Map(lambda v, path=str(stage / "counts.json"): write_json(Path(path), v))
    )


def _dead_row_facts(row: dict) -> list[str]:
    return dead_letter_facts(DeadLetter(id=row["id"], stage=row["stage"], reason=row["reason"], detail=""))


def run(config: Any, out: Path, selection: Selection, overrides: list[str]) -> int:
    """Replay the dead letters of the build_sft run in ``out`` that ``selection`` picks; merge the outcome.

    Args:
        config (`runconfig.root.PipelineConfig`): the run's config (its manifest's) with ``overrides``.
        out (`Path`): the run's folder.
        selection (`Selection`): which dead letters to re-run.
        overrides (`list[str]`): the ``KEY=VALUE`` overrides, as given (recorded in the manifest).

    Returns 0 when the merged run accounts for every record and passes its shard checks, 1 otherwise, 2 when
    ``out`` is no build_sft run, and 3 when the teacher refused the replay (the run is left as it was).
    """
    manifest = _read_json(out / "manifest.json")
    if manifest.get("pipeline") != "build_sft":
        sys.stderr.write(
            f"replay: {out} was made by {manifest.get('pipeline') or 'no known pipeline'}; replay merges "
            "into build_sft runs (a build_rl run is rebuilt whole by beam run pipelines/build_rl.py)\n"
        )
        return 2
    chosen, dead_before = _chosen(out / "dead_letter", selection)
    if not chosen:
        sys.stderr.write(f"replay: no dead letter of {out} matches {_describe(selection)}; nothing re-run\n")
        return 0
    if _needs_teacher(config, chosen):
        from pipelines.build_sft import check_teacher

        try:
            check_teacher(config.teacher.openai)
        except FatalTeacherError as err:
            sys.stderr.write(f"replay: stopped: teacher: {err} (nothing was run)\n")
            return 3
    before, old_stats = _ids(out / "data"), _read_json(out / "stats.json")
    stage, started = Path(stage_location(str(out), "replay-")), time.time()
    p = beam.Pipeline(options=pipeline_options(config.runner))
    build(p, config, out, stage, selection)
    preload()
    try:
        result = p.run()
        result.wait_until_finish()
    except BaseException as err:  # nothing half-written: the staged outputs go, the run stays as it was
        shutil.rmtree(stage, ignore_errors=True)
        fatal = find_fatal(err)
        if fatal is None:
            raise
        sys.stderr.write(f"\nreplay: stopped: teacher: {fatal} ({out} left as it was)\n")
        return 3
    elapsed = round(time.time() - started, 2)
    records_in = old_stats.get("records_in", len(before) + dead_before)
    promoted = promote_run(stage, out, "replay")
    if promoted is None:
        return 1
    staged, shards = promoted
    counts = dict(sorted({**staged, "in": records_in}.items()))
    invariant = check_invariant(records_in, counts, rows_per_folder(shards))
    report = (
        validate_shards(out / "data", config.validators.shards, out / "shard_checks")
        if invariant["accepted"]
        else nothing_accepted(records_in, counts, out)
    )
    after, at, metrics = (
        _ids(out / "data"),
        datetime.now(UTC).isoformat(timespec="seconds"),
        metric_totals(result),
    )
    replay = {
        "at": at,
        "selection": {"reasons": list(selection.reasons), "stages": list(selection.stages)},
        "overrides": list(overrides),
        "selected": dict(sorted(chosen.items())),
        "recovered": sorted(after - before),
        "dropped": sorted(before - after),  # accepted before, now duplicates of a recovered record
        "dead_lettered": invariant["dead_lettered"] - (dead_before - sum(chosen.values())),
        "config_hash_before": manifest.get("config_hash", ""),
        "git_commit": git_commit(),
    }
    cost = {"at": at, "elapsed_s": elapsed, "metrics": metrics, "teacher": teacher_totals(metrics)}
    stats = {
        **old_stats,
        **invariant,
        "counts": counts,
        "shard_checks": {"passed": report.success, "failures": report.failures},
        "replays": [*old_stats.get("replays", []), cost],
    }
    write_json(out / "stats.json", stats)
    merged = build_manifest(config, "build_sft", shards, {"replays": [*manifest.get("replays", []), replay]})
    write_json(
        out / "manifest.json", {**merged, "created_at": manifest.get("created_at", merged["created_at"])}
    )
    ok = invariant["holds"] and report.success
    if ok and config.run.publish:
        publish_folder(out)
    _summary(out, replay, stats, report.summary(), elapsed)
    if config.run.report:  # the run's report describes the merged run, as build_sft's describes a build
        from pipelines.report import write_report

        sys.stderr.write(f"  report: {write_report(out)}\n")
    finish_work(out / "work", config.run.work, ok)
    return 0 if ok else 1


def _shards(folder: Path) -> list[str]:
    return [str(f) for f in sorted(folder.glob("*.parquet"))]


def _ids(folder: Path) -> set[str]:
    return {i for f in _shards(folder) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _chosen(folder: Path, selection: Selection) -> tuple[dict[str, int], int]:
    """``stage/reason -> count`` of the selected dead letters, and how many letters there are in all."""
    chosen: dict[str, int] = {}
    total = 0
    for shard in _shards(folder):
        for row in pq.read_table(shard, columns=["stage", "reason"]).to_pylist():
            total += 1
            if selection.matches(row["stage"], row["reason"]):
                key = f"{row['stage']}/{row['reason']}"
                chosen[key] = chosen.get(key, 0) + 1
    return chosen, total


def _needs_teacher(config: Any, chosen: dict[str, int]) -> bool:
    """Is a model teacher asked (a letter re-enters before it)? Then it is checked first, as in build_sft."""
    early = any(key.split("/")[0] in ("generate", "import", "teacher") for key in chosen)
    return early and config.teacher.kind == "openai" and config.teacher.openai.preflight


def _describe(selection: Selection) -> str:
    parts = [f"--stage {s}" for s in selection.stages] + [f"--reason {r}" for r in selection.reasons]
    return " ".join(parts) or "(all)"


def _summary(out: Path, replay: dict, stats: dict, checks: str, elapsed: float) -> None:
    selected = ", ".join(f"{k} {v}" for k, v in replay["selected"].items())
    lines = [
        f"replay: {sum(replay['selected'].values())} dead letters re-run ({selected}) in {elapsed} s -> "
        f"{len(replay['recovered'])} recovered, {replay['dead_lettered']} dead-lettered"
        + (f", {len(replay['dropped'])} accepted records now duplicates" if replay["dropped"] else ""),
        f"  {out}: {stats['records_in']} in -> {stats['accepted']} accepted + {stats['dead_lettered']} "
        f"dead-lettered ({'ok' if stats['holds'] else 'INVARIANT BROKEN'})",
        f"  {checks.splitlines()[0]} (report: {out}/shard_checks/)",
    ]
    sys.stderr.write("\n".join(lines) + "\n")
