"""The model teacher as a Beam stage: tasks -> stored trajectories, with ``concurrency`` rollouts in flight.

A rollout is several sequential requests, seconds each. Batching tasks (``BatchElements``) and running each
batch to its end left the endpoint idle while every batch drained, and Beam's adaptive batch size shrinks when
elements are slow. So there are no batches: each worker process holds one :class:`RolloutPool` (and one
backend, so one request cache and one request bound) for all its teacher DoFns, running ``concurrency``
rollouts with as many tasks queued behind them. ``process`` queues its task, blocking only while the pool is
full (back-pressure: at most ``2 * concurrency`` tasks and their images are held), and emits the finished
rollouts of its own bundle; the queue refills a slot at once while the bundle thread verifies those.
``finish_bundle`` drains only the bundle's own rollouts, because Beam loses outputs emitted after a bundle
ends. The local runners give each worker one bundle per stage, so the pool drains once per stage.

Exactly once: a task leaves as its id (trajectory stored) or as one dead letter. A rollout's trouble, and
anything its post-processing raises, becomes that task's dead letter in the pool thread, so ``process`` never
raises an ``Exception`` on behalf of another task (Beam would dead-letter the element being processed and drop
the outputs gathered with it). A :class:`~synthesis.endpoint.errors.FatalTeacherError` stops the run. Outputs
do not depend on completion order: records are stored by id, and shards are sorted by id.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipelines.config import TeacherSection
from pipelines.record_store import RecordStore
from pipelines.shared_sandbox import SandboxUser
from pipelines.stages import REJECTED, RunStage, exception_letters, reject
from pipelines.stats import counter, distribution
from pipelines.work_keys import task_key
from runconfig.keys import api_key
from sandbox import Sandbox, SandboxConfig
from synthesis import format as fmt
from synthesis.agent import Conversation
from synthesis.endpoint.batch import RolloutJob, run_job
from synthesis.endpoint.config import TeacherConfig
from synthesis.endpoint.pool import RolloutPool
from synthesis.records import Provenance
from synthesis.rollout_record import record_from_rollout
from synthesis.teacher import TEACHER_VERSION, image_name, user_prompt

if TYPE_CHECKING:  # the client is imported in setup(), on the workers
    from synthesis.endpoint.backend import OpenAIBackend

__all__ = ["TeachWithModel", "count_teacher"]


@dataclass
class _Teacher:
    """One process's backend and rollout pool for one teacher config, shared by its DoFn instances."""

    backend: OpenAIBackend
    pool: RolloutPool
    users: int = 0
    reported: dict = field(default_factory=dict)  # backend stats already added to the run's counters
    lock: threading.Lock = field(default_factory=threading.Lock)

    def unreported(self) -> tuple[dict, dict]:
        """(stats at the last report, stats now), and now becomes the last report."""
        with self.lock:
            before, self.reported = self.reported, self.backend.stats.as_dict()
            return before, self.reported


_lock = threading.Lock()
_teachers: dict[str, _Teacher] = {}  # repr of the TeacherConfig -> this process's teacher


def _acquire(cfg: TeacherConfig) -> _Teacher:
    """This process's teacher for ``cfg``: a new one if there is none or a fatal error stopped the last."""
    from synthesis.endpoint.backend import OpenAIBackend

    with _lock:
        teacher = _teachers.get(repr(cfg))
        if teacher is None or teacher.backend.stats.fatal or teacher.pool.fatal is not None:
            backend = OpenAIBackend(cfg, api_key(cfg.api_key_env))
            teacher = _teachers[repr(cfg)] = _Teacher(backend, RolloutPool(cfg.concurrency, name="teacher"))
            teacher.reported = backend.stats.as_dict()
        teacher.users += 1
        return teacher


def _release(teacher: _Teacher) -> None:
    """The last user of a teacher closes it (its pool first: rollouts still running end before the client)."""
    with _lock:
        teacher.users -= 1
        if teacher.users > 0:
            return
        for key, known in list(_teachers.items()):
            if known is teacher:
                del _teachers[key]
    teacher.pool.close()
    teacher.backend.close()


def count_teacher(before: dict, after: dict) -> None:
    """Add the requests, retries, failures and cache hits between two backend stats to the counters."""
    for name in ("requests", "preflight_requests", "cache_hits"):
        if after[name] - before[name]:
            counter(f"teacher_{name}").inc(after[name] - before[name])
    for kind in ("retries", "failures"):
        for reason, n in after[kind].items():
            if n - before[kind].get(reason, 0):
                counter(f"teacher_{kind}/{reason}").inc(n - before[kind].get(reason, 0))


class _TeachWithModel(SandboxUser, beam.DoFn):
    """Tasks -> stored trajectories through the process's rollout pool (see the module docstring)."""

    def __init__(
        self,
        section: TeacherSection,
        sandbox_cfg: SandboxConfig,
        store: RecordStore,
        config_hash: str,
        teacher: dict,
    ):
        self._section, self.sandbox_cfg, self._store, self._hash = section, sandbox_cfg, store, config_hash
        self._teacher_id = teacher
        self._teacher: _Teacher | None = None
        self._pending: list = []

    def setup(self):
        self._teacher = _acquire(self._section.openai)

    def start_bundle(self):
        self._pending = []  # futures of a failed earlier bundle are forgotten: that bundle's outputs are void
        self._tasks = 0

    def process(self, task):
        self._tasks += 1
        key = task_key(task, self._teacher_id, self._hash)
        if self._store.has(task.id, key):
            counter("teacher_reused").inc()
            yield task.id
        else:
            pool, backend = self._teacher.pool, self._teacher.backend
            self._pending.append(pool.submit(self._teach, task, key, self.sandbox(), backend))
        yield from self._emit(done for done in self._pending if done.done())

    def finish_bundle(self):
        start = time.perf_counter()
        while self._pending:
            done = self._teacher.pool.wait(self._pending)
            yield from self._emit(done, windowed=True)
        count_teacher(*self._teacher.unreported())
        if self._tasks:  # how often the pool drains, and what each drain costs: one per worker and stage
            distribution("teacher_bundle_tasks").update(self._tasks)
            distribution("teacher_drain_ms").update(int(1000 * (time.perf_counter() - start)))

    def _emit(self, futures, windowed: bool = False):
        """The outputs of finished rollouts (in submission order), each emitted once; counts their tokens."""
        chosen = set(futures)
        finished = [f for f in self._pending if f in chosen]
        self._pending = [f for f in self._pending if f not in chosen]
        for future in finished:
            output, prompt_tokens, completion_tokens = future.result()  # raises only a fatal error
            counter("teacher_prompt_tokens").inc(prompt_tokens)
            counter("teacher_completion_tokens").inc(completion_tokens)
            if windowed and isinstance(output, beam.pvalue.TaggedOutput):
                yield beam.pvalue.TaggedOutput(output.tag, GlobalWindows.windowed_value(output.value))
            else:
                yield GlobalWindows.windowed_value(output) if windowed else output

    def _teach(self, task, key: str, sandbox: Sandbox, backend: OpenAIBackend) -> tuple[object, int, int]:
        """In a pool thread: one rollout, stored; returns (the task's id or dead letter, prompt, completion
        tokens). Only a fatal error is raised."""
        try:
            job = RolloutJob(
                Conversation(fmt.SYSTEM_PROMPT, user_prompt(task), (task.image,)),
                partial(
                    sandbox.session,
                    images=[task.image],
                    image_name=image_name(task),
                    item_id=task.id,
                    seed=task.seed,
                ),
                self._section.agent,
            )
            rollout = run_job(backend, job)
            tokens = rollout.prompt_tokens, rollout.completion_tokens
            if rollout.finish != "answer":
                reason, detail = f"teacher_{rollout.finish}", rollout.error or rollout.response[-300:]
                return reject(task.id, "teacher", reason, detail, task.to_dict()), *tokens
            provenance = Provenance(
                source="generated",
                generator=f"openai:{self._section.openai.model}",
                generator_version=TEACHER_VERSION,
                seed=task.seed,
                sandbox_config_hash=self._hash,
            )
            return self._store.put(record_from_rollout(task, rollout, provenance), key), *tokens
        except Exception as err:  # noqa: BLE001 - this task's dead letter, as Beam's handler would write it
            bad = (task.to_dict(), (type(err), repr(err), traceback.format_exception(err)))
            [letter] = exception_letters(bad, "teacher")
            return beam.pvalue.TaggedOutput(REJECTED, letter), 0, 0

    def teardown(self):
        if self._teacher is not None:
            _release(self._teacher)
        self._teacher = None
        SandboxUser.teardown(self)


class TeachWithModel(beam.PTransform):
    """Tasks -> ids of stored trajectories (and dead letters), through an OpenAI-compatible teacher with
    ``section.openai.concurrency`` rollouts in flight per worker process.

    Args:
        section (`TeacherSection`): the ``teacher`` section (``kind: openai``).
        sandbox_cfg (`SandboxConfig`): the sandbox the rollouts' code runs in.
        store (`RecordStore`): where trajectories are stored (and found again on a rerun).
        config_hash (`str`): the sandbox behaviour hash recorded in each record's provenance.
        teacher (`dict`): the teacher's identity, part of each task's work key.
    """

    def __init__(
        self,
        section: TeacherSection,
        sandbox_cfg: SandboxConfig,
        store: RecordStore,
        config_hash: str,
        teacher: dict,
    ):
        super().__init__()
        self._dofn = _TeachWithModel(section, sandbox_cfg, store, config_hash, teacher)

    def expand(self, tasks):
        return tasks | "Teach" >> RunStage("teacher", self._dofn)
