"""The composite transforms of the SFT pipeline: generate tasks, write trajectories, verify them.

Each stage is a thin DoFn around a function of ``synthesis`` or ``validators``, wrapped by
:class:`~pipelines.stages.RunStage` so that every rejection and exception becomes a dead letter. Finished
records go to a :class:`~pipelines.record_store.RecordStore` and only their ids travel downstream.
"""

from __future__ import annotations

import time

import apache_beam as beam

from pipelines.record_store import RecordStore
from pipelines.stages import RunStage, reject
from pipelines.stats import counter, distribution
from sandbox import Sandbox, SandboxConfig
from synthesis.records import Provenance
from synthesis.rollout_record import record_from_rollout
from synthesis.tasks import TasksConfig, generate_task
from synthesis.teacher import TEACHER_NAME, TEACHER_VERSION, teach
from validators.config import ValidatorsConfig
from validators.record import judge_record, with_verdicts

__all__ = ["GenerateTasks", "VerifyTrajectories", "WriteTrajectories"]


class _GenerateTask(beam.DoFn):
    def __init__(self, cfg: TasksConfig):
        self._cfg = cfg

    def process(self, item: dict):
        yield generate_task(item["family"], item["seed"], self._cfg)


class _Teach(beam.DoFn):
    """Programmatic teacher; the sandbox pool lives for the DoFn instance."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str):
        self._sandbox_cfg, self._store, self._hash = sandbox_cfg, store, config_hash
        self._sandbox = None

    def setup(self):
        self._sandbox = Sandbox(self._sandbox_cfg)

    def process(self, task):
        if self._store.has(task.id):
            counter("teacher_reused").inc()
            yield task.id
            return
        start = time.perf_counter()
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
        if self._sandbox is not None:
            self._sandbox.close()


class _Verify(beam.DoFn):
    """Record checks; accepted records are stored again with their verdicts."""

    def __init__(self, cfg: ValidatorsConfig, sandbox_cfg: SandboxConfig, source: RecordStore, accepted: RecordStore):
        self._cfg, self._sandbox_cfg, self._source, self._accepted = cfg, sandbox_cfg, source, accepted
        self._sandbox = None

    def setup(self):
        self._sandbox = Sandbox(self._sandbox_cfg)

    def process(self, record_id: str):
        if self._accepted.has(record_id):
            yield record_id
            return
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
        if self._sandbox is not None:
            self._sandbox.close()


class GenerateTasks(beam.PTransform):
    """``{"id", "family", "seed"}`` items -> tasks (and dead letters)."""

    def __init__(self, cfg: TasksConfig):
        super().__init__()
        self._cfg = cfg

    def expand(self, items):
        return items | "Generate" >> RunStage("generate", _GenerateTask(self._cfg))


class WriteTrajectories(beam.PTransform):
    """Tasks -> ids of stored trajectories (and dead letters), through the programmatic teacher."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore, config_hash: str):
        super().__init__()
        self._dofn = _Teach(sandbox_cfg, store, config_hash)

    def expand(self, tasks):
        return tasks | "Teach" >> RunStage("teacher", self._dofn)


class VerifyTrajectories(beam.PTransform):
    """Ids of stored trajectories -> ids of accepted records (and dead letters with the failed checks)."""

    def __init__(self, cfg: ValidatorsConfig, sandbox_cfg: SandboxConfig, source: RecordStore,
                 accepted: RecordStore):
        super().__init__()
        self._dofn = _Verify(cfg, sandbox_cfg, source, accepted)

    def expand(self, ids):
        return ids | "Judge" >> RunStage("validate", self._dofn)
