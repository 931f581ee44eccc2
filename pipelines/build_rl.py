"""build_rl: known-answer tasks -> RL prompts (image, question, answer, family, difficulty) -> shards.

Run it with ``beam run pipelines/build_rl.py [--config pipeline.yaml] [KEY=VALUE ...]``. It writes, under
``<run.output_dir>/<rl.name>/``, ``data/<split>-SSSSS-of-NNNNN.parquet`` (RL prompt records),
``dead_letter/`` (every prompt that failed a check, with its reason), ``stats.json`` and ``manifest.json``.
Each prompt passes :func:`validators.prompt.check_prompt`; with ``rl.difficulty.enabled`` a no-tool model
(any OpenAI-compatible endpoint, the ``rl.difficulty`` settings) answers each prompt ``samples`` times and
prompts it answers right every time are dropped as too easy (dead letter ``difficulty_too_easy``). Every
prompt carries its ``tool_evidence`` (:func:`validators.evidence.prompt_evidence`); with
``rl.require_tool_needed`` a prompt whose evidence says no tool step is needed is dropped
(dead letter ``evidence_tool_not_needed``), except in ``validators.evidence.exempt_families``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from operator import itemgetter

import apache_beam as beam

from pipelines.difficulty import difficulty_backend, solved_every_time
from pipelines.manifest import build_manifest, write_json
from pipelines.report import write_report
from pipelines.report.render import RenderImages
from pipelines.run_folder import SHARD_FOLDERS, WITH_REPORT, finishing, run_location, stage_location
from pipelines.runner import local_workers, pipeline_options
from pipelines.sft import GenerateTasks, PlanTasks
from pipelines.shards import WriteRunShards, promote_run, rows_per_folder
from pipelines.stages import RunStage, reject
from pipelines.stats import CountFacts, check_invariant, dead_letter_facts, prompt_facts
from runconfig import storage
from runconfig.root import PipelineConfig
from synthesis.agent import Backend
from synthesis.records import RL_SCHEMA, RlPrompt
from synthesis.tasks import Task
from validators.config import EvidenceConfig
from validators.evidence import prompt_evidence
from validators.prompt import check_prompt

__all__ = ["run"]


class _CheckPrompt(beam.DoFn):
    """The prompt of a task, with its tool evidence; a prompt whose tool step is not needed is dropped when
    ``rl.require_tool_needed`` is on."""

    def __init__(self, min_side: int, evidence: EvidenceConfig, require_needed: bool):
        self._min_side, self._evidence, self._require = min_side, evidence, require_needed

    def process(self, task: Task):
        prompt = RlPrompt.from_task(task)
        verdict = check_prompt(prompt, self._min_side)
        if not verdict.passed:
            yield reject(prompt.id, "prompt", verdict.reason, verdict.detail, prompt.to_row())
            return
        if self._evidence.enabled or self._require:
            prompt = replace(prompt, tool_evidence=prompt_evidence(prompt, self._evidence))
        evidence = prompt.tool_evidence
        if (
            self._require
            and evidence is not None
            and evidence.needed == "no"
            and prompt.family not in self._evidence.exempt_families
        ):
            yield reject(
                prompt.id,
                "evidence",
                "evidence_tool_not_needed",
                f"{evidence.kind}: {evidence.reason}",
                prompt.to_row(),
            )
            return
        yield prompt.to_row()


class _DropEasy(beam.DoFn):
    """Difficulty filter: a no-tool model answering every sample right makes the prompt useless for GRPO."""

    def __init__(self, config: PipelineConfig):
        self._cfg = config.rl.difficulty
        self._answer_cfg = config.validators.answer
        self._backend: Backend | None = None

    def setup(self):
        self._backend = difficulty_backend(self._cfg)

    def process(self, row: dict):
        cfg = self._cfg
        assert self._backend is not None, "setup() opens the backend"
        if solved_every_time(
            self._backend, row, cfg.samples, cfg.temperature, cfg.max_tokens, self._answer_cfg
        ):
            yield reject(
                row["id"],
                "difficulty",
                "difficulty_too_easy",
                f"a no-tool model answered all {self._cfg.samples} samples right",
                row,
            )
            return
        yield row


def build(p: beam.Pipeline, config: PipelineConfig, out: str, stage: str) -> None:
    """Compose the RL prompt pipeline into ``p``; outputs go to the staging folder ``stage`` (report images
    to ``out/report/``)."""
    planned = p | "PlanTasks" >> PlanTasks(config.tasks, local_workers(config.runner))
    tasks, dead_generate = planned | "GenerateTasks" >> GenerateTasks(config.tasks)
    prompts, dead_check = tasks | "CheckPrompts" >> RunStage(
        "prompt",
        _CheckPrompt(config.rl.min_image_side, config.validators.evidence, config.rl.require_tool_needed),
    )
    dead = [dead_generate, dead_check]
    if config.rl.difficulty.enabled:
        prompts, dead_easy = prompts | "FilterDifficulty" >> RunStage("difficulty", _DropEasy(config))
        dead.append(dead_easy)
    dead = dead | "AllDeadLetters" >> beam.Flatten()
    dead_rows = dead | "DeadLetterRows" >> beam.Map(lambda d: d.to_row())
    if config.run.report:
        render = RenderImages(storage.join(out, "report"))
        _ = prompts | "RenderReportImages" >> render.accepted()
        _ = dead_rows | "RenderDeadLetterImages" >> render.dead_letters()
    _ = (prompts, dead_rows) | "WriteRunShards" >> WriteRunShards(
        stage,
        config.run.splits,
        RL_SCHEMA,
        config.run.rows_per_shard,
        config.run.rows_per_group,
        id_of=itemgetter("id"),
    )
    facts = (
        prompts | "AcceptedFacts" >> beam.FlatMap(prompt_facts),
        dead | "DeadFacts" >> beam.FlatMap(dead_letter_facts),
    ) | "AllFacts" >> beam.Flatten()
    _ = (
        facts
        | "CountFacts" >> CountFacts()
        | "SaveCounts" >> beam.Map(lambda v, path: write_json(path, v), storage.join(stage, "counts.json"))
    )


def run(config: PipelineConfig) -> int:
    """Run build_rl; returns 0 when every task is accounted for."""
    config = replace(config, run=replace(config.run, name=config.rl.name))
    out = run_location(config.run.output_dir, config.run.name)
    stage = stage_location(out)
    started = time.time()
    try:
        with beam.Pipeline(options=pipeline_options(config.runner)) as p:
            build(p, config, out, stage)
    except BaseException:
        storage.delete_tree(stage)
        raise
    promoted = promote_run(stage, out, "build_rl")
    if promoted is None:
        return 1
    counts, shards = promoted
    invariant = check_invariant(config.tasks.count, counts, rows_per_folder(shards))
    elapsed = round(time.time() - started, 2)
    with finishing(out, WITH_REPORT if config.run.report else SHARD_FOLDERS) as local:
        write_json(local / "stats.json", {**invariant, "counts": counts, "elapsed_s": elapsed})
        write_json(local / "manifest.json", build_manifest(config, "build_rl", shards))
        if config.run.report:
            write_report(local)
    sys.stderr.write(
        f"build_rl: {invariant['records_in']} in -> {invariant['accepted']} prompts + "
        f"{invariant['dead_lettered']} dead-lettered in {elapsed} s; {out}/\n"
    )
    if config.run.report:
        sys.stderr.write(f"  report: {storage.join(out, 'report', 'index.html')}\n")
    return 0 if invariant["holds"] else 1
