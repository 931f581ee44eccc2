"""The composite transforms of the SFT pipeline: generate tasks, write trajectories, verify them.

Each stage is a thin DoFn around a function of ``synthesis`` or ``validators``, wrapped by
:class:`~pipelines.stages.RunStage` so that every rejection and exception becomes a dead letter. Finished
records go to a :class:`~pipelines.record_store.RecordStore` and only their ids travel downstream.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import apache_beam as beam

from pipelines.config import TeacherSection
from pipelines.record_store import RecordStore
from pipelines.shared_sandbox import SandboxUser
from pipelines.stages import RunStage, reject
from pipelines.stats import counter, distribution
from pipelines.teaching import TeachWithModel
from pipelines.work_keys import import_key, task_key, teacher_identity, verified_key
from runconfig.keys import api_key
from sandbox import SandboxConfig
from synthesis.importers.common import ImportFailure, read_row_group, row_groups
from synthesis.importers.tasks import task_from_row
from synthesis.importers.thyme import IMPORTER_VERSION, import_thyme_record, imported_id
from synthesis.records import Provenance
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import FAMILIES, TasksConfig, generate_task, plan_tasks
from synthesis.teacher import TEACHER_NAME, TEACHER_VERSION, teach
from validators.answer import read_answer
from validators.config import ValidatorsConfig
from validators.evidence import with_evidence
from validators.fixup_policy import judge_with_policy
from validators.judge import OpenAIJudge
from validators.record import with_verdicts

__all__ = [
    "GenerateTasks",
    "ImportThyme",
    "OneCopyPerId",
    "PlanTasks",
    "ReadTaskFiles",
    "VerifyTrajectories",
    "WriteTrajectories",
    "source_units",
]


def source_units(path: str):
    """One element per slice of a source file (a Parquet row group, or a whole JSONL file): only this small
    description passes through the runner's buffers, never the rows and their images."""
    for group in row_groups(path):
        yield {"id": f"{Path(path).name}@{group.group}", "group": group}


class _PerRow(beam.DoFn):
    """Reads one slice of a source file and handles each row on its own: an exception in one row dead-letters
    that row only (Beam's handler would dead-letter the whole slice as one element)."""

    stage = "import"

    def process(self, unit: dict):
        group = unit["group"]
        name = Path(group.path).name
        for index, raw in read_row_group(group):
            item = {"id": f"{name}#{index}", "path": group.path, "index": index, "raw": raw}
            try:
                yield from self.row(item)
            except Exception as err:  # noqa: BLE001 - the row becomes a dead letter naming the cause
                yield reject(
                    item["id"],
                    self.stage,
                    f"exception_{type(err).__name__}",
                    f"{name} row {index}: {type(err).__name__}: {err}"[:500],
                    item,
                )

    def row(self, item: dict):
        raise NotImplementedError


class _TaskFromRow(_PerRow):
    def row(self, item: dict):
        path = Path(item["path"])
        result = task_from_row(item["raw"], item["index"], path.name, path.parent, read_answer=read_answer)
        if isinstance(result, ImportFailure):
            yield reject(result.id or item["id"], "import", result.reason, result.detail, item)
            return
        yield result


class _ImportThyme(SandboxUser, _PerRow):
    """Released Thyme records: re-run in the sandbox, compared with what they claim, stored as drafts."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore):
        self.sandbox_cfg, self._store = sandbox_cfg, store

    def row(self, item: dict):
        path, strict = Path(item["path"]), not self.sandbox_cfg.fixups
        key = import_key(item["raw"], IMPORTER_VERSION, self.sandbox_cfg.behaviour_hash(), strict)
        known = imported_id(item["raw"], path.parent)
        if self._store.has(known, key):
            counter("import_reused").inc()
            yield known
            return
        result = import_thyme_record(
            item["raw"],
            item["index"],
            self.sandbox(),
            strict,
            base_dir=path.parent,
            source=path.name,
            sandbox_config_hash=self.sandbox_cfg.behaviour_hash(),
            read_answer=read_answer,
        )
        if isinstance(result, ImportFailure):
            yield reject(result.id or item["id"], "import", result.reason, result.detail, item)
            return
        yield self._store.put(result, key)


class _GenerateTask(beam.DoFn):
    def __init__(self, cfg: TasksConfig):
        self._cfg = cfg

    def process(self, item: dict):
        yield generate_task(item["family"], item["seed"], self._cfg)


class _Teach(SandboxUser, beam.DoFn):
    """Programmatic teacher; runs its code in the process's shared sandbox pool."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str, teacher: dict):
        self.sandbox_cfg, self._store, self._hash, self._teacher = sandbox_cfg, store, config_hash, teacher

    def process(self, task):
        if task.family not in FAMILIES:  # e.g. "user" tasks from files: no known target, angle or expression
            yield reject(
                task.id,
                "teacher",
                "teacher_unsupported_family",
                f"the programmatic teacher writes trajectories for {list(FAMILIES)}, not {task.family!r}; "
                "use an OpenAI-compatible teacher for these tasks",
                task.to_dict(),
            )
            return
        key = task_key(task, self._teacher, self._hash)
        if self._store.has(task.id, key):
            counter("teacher_reused").inc()
            yield task.id
            return
        start = time.perf_counter()
        rollout = teach(task, self.sandbox())
        distribution("teacher_ms").update(int(1000 * (time.perf_counter() - start)))
        distribution("sandbox_cpu_ms").update(int(1000 * sum(e.result.cpu_s for e in rollout.executions)))
        if rollout.finish != "answer":
            yield reject(
                task.id,
                "teacher",
                f"teacher_{rollout.finish}",
                rollout.error or rollout.response[-300:],
                task.to_dict(),
            )
            return
        provenance = Provenance(
            source="generated",
            generator=TEACHER_NAME,
            generator_version=TEACHER_VERSION,
            seed=task.seed,
            sandbox_config_hash=self._hash,
        )
        yield self._store.put(record_from_rollout(task, rollout, provenance), key)


class _Verify(SandboxUser, beam.DoFn):
    """Record checks; accepted records are stored again with their verdicts. With ``answer.use_judge`` or
    ``consistency.use_judge`` on, the checks ask the judge endpoint of ``validators.judge``."""

    def __init__(
        self, cfg: ValidatorsConfig, sandbox_cfg: SandboxConfig, source: RecordStore, accepted: RecordStore
    ):
        self._cfg, self.sandbox_cfg, self._source, self._accepted = cfg, sandbox_cfg, source, accepted
        self._judge = None

    def setup(self):
        if self._cfg.answer.use_judge or self._cfg.consistency.use_judge:
            self._judge = OpenAIJudge(self._cfg.judge, api_key(self._cfg.judge.api_key_env))

    def process(self, record_id: str):
        key = verified_key(self._source.key(record_id) or "", self._cfg)
        if self._accepted.has(record_id, key):
            yield record_id
            return
        measured = with_evidence(self._source.get(record_id), self._cfg.evidence)
        record, verdicts = judge_with_policy(measured, self._cfg, sandbox=self.sandbox(), judge=self._judge)
        judged = with_verdicts(
            record, verdicts
        )  # every verdict, passed or not, also in a dead letter's payload
        failed = [v for v in verdicts if not v.passed]
        if failed:
            first = failed[0]
            yield reject(
                record_id,
                "validate",
                first.reason,
                "; ".join(f"{v.reason}: {v.detail}" for v in failed),
                judged.to_row(),
            )
            return
        yield self._accepted.put(judged, key)


class _OneCopy(beam.DoFn):
    def __init__(self, store: RecordStore):
        self._store = store

    def process(self, grouped: tuple):
        record_id, copies = grouped[0], len(list(grouped[1]))
        yield record_id
        for copy in range(1, copies):
            yield reject(
                record_id,
                "dedupe",
                "duplicates_same_record",
                f"copy {copy + 1} of {copies}: the same record (same content id) arrived {copies} times; "
                "one copy is kept",
                self._store.row(record_id),
            )


class OneCopyPerId(beam.PTransform):
    """Accepted ids -> each id once: a record that arrives several times (the same released row in three
    files) is kept once and its other copies are dead-lettered, so every copy is accounted for and none is
    lost."""

    def __init__(self, store: RecordStore):
        super().__init__()
        self._store = store

    def expand(self, ids):
        grouped = ids | "KeyById" >> beam.Map(lambda rid: (rid, None)) | "GroupById" >> beam.GroupByKey()
        return grouped | "KeepOne" >> RunStage("dedupe", _OneCopy(self._store))


class PlanTasks(beam.PTransform):
    """The ``{"id", "family", "seed"}`` items of ``cfg``'s generated tasks, ordered to balance ``workers``.

    The local runners split a stage's input among their workers round-robin, by position. ``plan_tasks``
    cycles through the families with a period that aliases with the worker count: dealt out in that order, one
    of two workers got twice the other's share of three families and ran alone for the last fifth of the
    stage. Here each family is dealt evenly (to within one item) to the ``workers`` positions, and each
    worker's share is shuffled with the config's seed, so the families stay mixed over time too. The order
    changes no output: shards are sorted by id.

    Args:
        cfg (`TasksConfig`): the tasks to plan.
        workers (`int`, *optional*, defaults to `1`): how many workers the runner splits a stage among.
    """

    def __init__(self, cfg: TasksConfig, workers: int = 1):
        super().__init__()
        self._cfg, self._workers = cfg, workers

    @staticmethod
    def items(cfg: TasksConfig, workers: int = 1) -> list[dict]:
        """The planned items in the order they enter the pipeline."""
        rng = random.Random(cfg.base_seed)
        grouped = sorted(
            (
                {"id": f"{family}-{seed:06d}", "family": family, "seed": seed}
                for family, seed in plan_tasks(cfg)
            ),
            key=lambda i: (FAMILIES.index(i["family"]), i["seed"]),
        )
        shares = [grouped[w::workers] for w in range(workers)]  # lengths differ by at most one, longest first
        for share in shares:
            rng.shuffle(share)
        return [share[k] for k in range(len(shares[0])) for share in shares if k < len(share)]

    def expand(self, pbegin):
        return pbegin | "Create" >> beam.Create(self.items(self._cfg, self._workers), reshuffle=True)


class GenerateTasks(beam.PTransform):
    """``{"id", "family", "seed"}`` items -> tasks (and dead letters)."""

    def __init__(self, cfg: TasksConfig):
        super().__init__()
        self._cfg = cfg

    def expand(self, items):
        return items | "Generate" >> RunStage("generate", _GenerateTask(self._cfg))


class WriteTrajectories(beam.PTransform):
    """Tasks -> ids of stored trajectories (and dead letters), through the configured teacher (a model teacher
    keeps ``teacher.openai.concurrency`` rollouts in flight per worker: :mod:`pipelines.teaching`)."""

    def __init__(
        self, section: TeacherSection, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str
    ):
        super().__init__()
        teacher = teacher_identity(section, TEACHER_VERSION)
        self._teach = (
            RunStage("teacher", _Teach(sandbox_cfg, store, config_hash, teacher))
            if section.kind == "programmatic"
            else TeachWithModel(section, sandbox_cfg, store, config_hash, teacher)
        )

    def expand(self, tasks):
        return tasks | "Teach" >> self._teach


class ReadTaskFiles(beam.PTransform):
    """Slices of JSONL/Parquet task files (:func:`source_units`) -> tasks (and dead letters for bad rows)."""

    def expand(self, units):
        return units | "ToTask" >> RunStage("import", _TaskFromRow())


class ImportThyme(beam.PTransform):
    """Slices of released Thyme SFT files (:func:`source_units`) -> ids of stored, re-executed records (and
    dead letters)."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore):
        super().__init__()
        self._dofn = _ImportThyme(sandbox_cfg, store)

    def expand(self, units):
        return units | "Import" >> RunStage("import", self._dofn)


class VerifyTrajectories(beam.PTransform):
    """Ids of stored trajectories -> ids of accepted records (and dead letters with the failed checks)."""

    def __init__(
        self, cfg: ValidatorsConfig, sandbox_cfg: SandboxConfig, source: RecordStore, accepted: RecordStore
    ):
        super().__init__()
        self._dofn = _Verify(cfg, sandbox_cfg, source, accepted)

    def expand(self, ids):
        return ids | "Judge" >> RunStage("validate", self._dofn)
