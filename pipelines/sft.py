"""The composite transforms of the SFT pipeline: generate tasks, write trajectories, verify them.

Each stage is a thin DoFn around a function of ``synthesis`` or ``validators``, wrapped by
:class:`~pipelines.stages.RunStage` so that every rejection and exception becomes a dead letter. Finished
records go to a :class:`~pipelines.record_store.RecordStore` and only their ids travel downstream.
"""

from __future__ import annotations

import random
import time
from functools import partial
from pathlib import Path

import apache_beam as beam

from pipelines import shared_sandbox
from pipelines.config import TeacherSection, teacher_api_key
from pipelines.record_store import RecordStore
from pipelines.stages import RunStage, reject
from pipelines.stats import counter, distribution
from sandbox import SandboxConfig
from synthesis import format as fmt
from synthesis.agent import Conversation
from synthesis.batch import RolloutJob, run_many
from synthesis.import_common import ImportFailure
from synthesis.import_tasks import task_from_row
from synthesis.import_thyme import import_thyme_record
from synthesis.records import Provenance
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import FAMILIES, TasksConfig, generate_task, plan_tasks
from synthesis.teacher import TEACHER_NAME, TEACHER_VERSION, image_name, teach, user_prompt
from validators.config import DuplicatesCheckConfig, ValidatorsConfig
from validators.duplicates import DuplicateIndex, dedupe_fingerprints, fingerprint
from validators.record import judge_record, with_verdicts

__all__ = ["Deduplicate", "GenerateTasks", "ImportThyme", "PlanTasks", "ReadTaskFiles", "VerifyTrajectories", "WriteTrajectories", "read_rows"]


def read_rows(path: str):
    """``(path, index, raw row)`` of every row of a JSONL/Parquet source file (one element per input record)."""
    from synthesis.import_common import read_rows as rows

    for index, row in enumerate(rows(path)):
        yield {"id": f"{Path(path).name}#{index}", "path": path, "index": index, "raw": row}


class _TaskFromRow(beam.DoFn):
    def process(self, item: dict):
        result = task_from_row(item["raw"], item["index"], Path(item["path"]).name, Path(item["path"]).parent)
        if isinstance(result, ImportFailure):
            yield reject(result.id or item["id"], "import", result.reason, result.detail, item)
            return
        yield result


class _ImportThyme(beam.DoFn):
    """Released Thyme records: re-run in the sandbox, compared with what they claim, stored as drafts."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore):
        self._sandbox_cfg, self._store = sandbox_cfg, store
        self._sandbox = None

    def setup(self):
        self._sandbox = shared_sandbox.acquire(self._sandbox_cfg)

    def process(self, item: dict):
        path = Path(item["path"])
        result = import_thyme_record(item["raw"], item["index"], self._sandbox, base_dir=path.parent, source=path.name,
                                     sandbox_config_hash=self._sandbox_cfg.behaviour_hash())
        if isinstance(result, ImportFailure):
            yield reject(result.id or item["id"], "import", result.reason, result.detail, item)
            return
        yield self._store.put(result)

    def teardown(self):
        shared_sandbox.release(self._sandbox)
        self._sandbox = None


class _GenerateTask(beam.DoFn):
    def __init__(self, cfg: TasksConfig):
        self._cfg = cfg

    def process(self, item: dict):
        yield generate_task(item["family"], item["seed"], self._cfg)


class _Teach(beam.DoFn):
    """Programmatic teacher; runs its code in the process's shared sandbox pool."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str):
        self._sandbox_cfg, self._store, self._hash = sandbox_cfg, store, config_hash
        self._sandbox = None

    def process(self, task):
        if task.family not in FAMILIES:  # e.g. "user" tasks from files: no known target, angle or expression
            yield reject(task.id, "teacher", "teacher_unsupported_family",
                         f"the programmatic teacher writes trajectories for {list(FAMILIES)}, not {task.family!r}; "
                         "use an OpenAI-compatible teacher for these tasks", task.to_dict())
            return
        if self._store.has(task.id):
            counter("teacher_reused").inc()
            yield task.id
            return
        start = time.perf_counter()
        self._sandbox = self._sandbox or shared_sandbox.acquire(self._sandbox_cfg)  # on first use
        rollout = teach(task, self._sandbox)
        distribution("teacher_ms").update(int(1000 * (time.perf_counter() - start)))
        distribution("sandbox_cpu_ms").update(int(1000 * sum(e.result.cpu_s for e in rollout.executions)))
        if rollout.finish != "answer":
            yield reject(task.id, "teacher", f"teacher_{rollout.finish}", rollout.error or rollout.response[-300:],
                         task.to_dict())
            return
        provenance = Provenance("generated", TEACHER_NAME, TEACHER_VERSION, task.seed, self._hash)
        yield self._store.put(record_from_rollout(task, rollout, provenance))

    def teardown(self):
        shared_sandbox.release(self._sandbox)
        self._sandbox = None


class _TeachWithModel(beam.DoFn):
    """An OpenAI-compatible teacher through the agent loop; batches of tasks run concurrently (HTTP-bound)."""

    def __init__(self, section: TeacherSection, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str):
        self._section, self._sandbox_cfg, self._store, self._hash = section, sandbox_cfg, store, config_hash
        self._sandbox = self._backend = None

    def setup(self):
        from synthesis.openai_backend import OpenAIBackend

        self._sandbox = shared_sandbox.acquire(self._sandbox_cfg)
        self._backend = OpenAIBackend(self._section.openai, teacher_api_key(self._section.openai))

    def process(self, batch: list):
        todo = [t for t in batch if not self._store.has(t.id)]
        yield from (t.id for t in batch if self._store.has(t.id))
        jobs = [RolloutJob(Conversation(fmt.SYSTEM_PROMPT, user_prompt(t), (t.image,)),
                           partial(self._sandbox.session, images=[t.image], image_name=image_name(t), item_id=t.id,
                                   seed=t.seed), self._section.agent) for t in todo]
        generator = f"openai:{self._section.openai.model}"
        for task, rollout in zip(todo, run_many(self._backend, jobs, self._section.openai.concurrency), strict=True):
            counter("teacher_prompt_tokens").inc(rollout.prompt_tokens)
            counter("teacher_completion_tokens").inc(rollout.completion_tokens)
            if rollout.finish != "answer":
                yield reject(task.id, "teacher", f"teacher_{rollout.finish}", rollout.error or rollout.response[-300:],
                             task.to_dict())
                continue
            provenance = Provenance("generated", generator, TEACHER_VERSION, task.seed, self._hash)
            yield self._store.put(record_from_rollout(task, rollout, provenance))

    def teardown(self):
        if self._backend is not None:
            self._backend.close()
        shared_sandbox.release(self._sandbox)
        self._sandbox = self._backend = None


class _Verify(beam.DoFn):
    """Record checks; accepted records are stored again with their verdicts."""

    def __init__(self, cfg: ValidatorsConfig, sandbox_cfg: SandboxConfig, source: RecordStore, accepted: RecordStore):
        self._cfg, self._sandbox_cfg, self._source, self._accepted = cfg, sandbox_cfg, source, accepted
        self._sandbox = None

    def process(self, record_id: str):
        if self._accepted.has(record_id):
            yield record_id
            return
        self._sandbox = self._sandbox or shared_sandbox.acquire(self._sandbox_cfg)  # on first use: a source may be empty
        record = self._source.get(record_id)
        verdicts = judge_record(record, self._cfg, sandbox=self._sandbox)
        failed = [v for v in verdicts if not v.passed]
        if failed:
            first = failed[0]
            yield reject(record_id, "validate", first.reason, "; ".join(f"{v.reason}: {v.detail}" for v in failed),
                         record.to_row())
            return
        yield self._accepted.put(with_verdicts(record, verdicts))

    def teardown(self):
        shared_sandbox.release(self._sandbox)
        self._sandbox = None


class _DropDuplicates(beam.DoFn):
    def __init__(self, store: RecordStore):
        self._store = store

    def process(self, record_id: str, failed: dict):
        verdict = failed.get(record_id)
        if verdict is None:
            yield record_id
            return
        yield reject(record_id, "dedupe", verdict.reason, verdict.detail, self._store.row(record_id))


def _run_duplicates(fingerprints: list, cfg: DuplicatesCheckConfig) -> dict:
    reference = DuplicateIndex.from_parquet(cfg.reference, cfg.max_distance) if cfg.reference else None
    failed = dedupe_fingerprints(fingerprints, cfg.max_distance, reference)
    return failed if cfg.within_run else {k: v for k, v in failed.items() if "reference" in v.detail}


class Deduplicate(beam.PTransform):
    """Accepted ids -> ids without duplicates (exact and near, within the run and against a reference set).

    Only fingerprints (id, two short keys) meet in one place, so this scales with the record count, not with the
    images; of each duplicate set the smallest id survives, whatever order the runner used.
    """

    def __init__(self, cfg: DuplicatesCheckConfig, store: RecordStore):
        super().__init__()
        self._cfg, self._store = cfg, store

    def expand(self, ids):
        store, cfg = self._store, self._cfg
        failed = (ids
                  | "Fingerprint" >> beam.Map(lambda rid: fingerprint(store.get(rid)))
                  | "AllFingerprints" >> beam.combiners.ToList()
                  | "FindDuplicates" >> beam.Map(_run_duplicates, cfg))
        return ids | "Drop" >> RunStage("dedupe", _DropDuplicates(store), failed=beam.pvalue.AsSingleton(failed))


class PlanTasks(beam.PTransform):
    """The ``{"id", "family", "seed"}`` items of ``cfg``'s generated tasks, ordered to balance ``workers``.

    The local runners split a stage's input among their workers round-robin, by position. ``plan_tasks`` cycles
    through the families with a period that aliases with the worker count: dealt out in that order, one of two
    workers got twice the other's share of three families and ran alone for the last fifth of the stage. Here
    each family is dealt evenly (to within one item) to the ``workers`` positions, and each worker's share is
    shuffled with the config's seed, so the families stay mixed over time too. The order changes no output:
    shards are sorted by id.

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
        grouped = sorted(({"id": f"{family}-{seed:06d}", "family": family, "seed": seed}
                          for family, seed in plan_tasks(cfg)), key=lambda i: (FAMILIES.index(i["family"]), i["seed"]))
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
    """Tasks -> ids of stored trajectories (and dead letters), through the configured teacher."""

    def __init__(self, section: TeacherSection, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str):
        super().__init__()
        self._section = section
        self._dofn = (_Teach(sandbox_cfg, store, config_hash) if section.kind == "programmatic"
                      else _TeachWithModel(section, sandbox_cfg, store, config_hash))

    def expand(self, tasks):
        if self._section.kind == "programmatic":
            return tasks | "Teach" >> RunStage("teacher", self._dofn)
        batches = tasks | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._section.batch)
        return batches | "Teach" >> RunStage("teacher", self._dofn)


class ReadTaskFiles(beam.PTransform):
    """Rows of JSONL/Parquet task files -> tasks (and dead letters for bad rows)."""

    def expand(self, rows):
        return rows | "ToTask" >> RunStage("import", _TaskFromRow())


class ImportThyme(beam.PTransform):
    """Rows of released Thyme SFT files -> ids of stored, re-executed records (and dead letters)."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore):
        super().__init__()
        self._dofn = _ImportThyme(sandbox_cfg, store)

    def expand(self, rows):
        return rows | "Import" >> RunStage("import", self._dofn)


class VerifyTrajectories(beam.PTransform):
    """Ids of stored trajectories -> ids of accepted records (and dead letters with the failed checks)."""

    def __init__(self, cfg: ValidatorsConfig, sandbox_cfg: SandboxConfig, source: RecordStore,
                 accepted: RecordStore):
        super().__init__()
        self._dofn = _Verify(cfg, sandbox_cfg, source, accepted)

    def expand(self, ids):
        return ids | "Judge" >> RunStage("validate", self._dofn)
