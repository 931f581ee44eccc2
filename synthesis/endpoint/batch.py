"""Many independent rollouts at once, with bounded concurrency, through the one agent loop.

The loop and the sandbox sessions are synchronous, so concurrency comes from a thread pool: each thread
runs :func:`~synthesis.agent.run_agent` for one job, and threads overlap while they wait on HTTP (the backend
bounds requests in flight on its own) or on a sandbox worker. Nothing is lost: N jobs give N results in input
order, and a job that raises an ``Exception`` comes back as a failed :class:`~synthesis.agent.Rollout`
carrying the exception as its reason, never as a crash of the batch. What is not an ``Exception`` (a
:class:`~synthesis.endpoint.errors.FatalTeacherError`: the endpoint refuses every request; or
``KeyboardInterrupt``) ends the whole batch: no job starts after it, and it is raised to the caller. Jobs are
not modified (each rollout continues a copy of its job's conversation), so the same jobs can be run again.
:func:`run_job` is one job of it, for callers that feed their own pool
(:class:`~synthesis.endpoint.pool.RolloutPool`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace

from synthesis.agent import AgentConfig, Backend, Conversation, Rollout, Session, run_agent

__all__ = ["RolloutJob", "job_error", "run_job", "run_many"]


@dataclass(frozen=True)
class RolloutJob:
    """One rollout to run: the prompt, how to open its sandbox session, and the loop's bounds.

    Args:
        conversation (`Conversation`): system prompt, user turn and input image(s).
        open_session (`Callable[[], AbstractContextManager[Session]]`): opens this trajectory's sandbox
            session, e.g. ``functools.partial(sandbox.session, images=[png], image_name="q.png", seed=7)``;
            called in the worker thread so sessions never cross threads.
        cfg (`AgentConfig`, *optional*): bounds and sampling.
    """

    conversation: Conversation
    open_session: Callable[[], AbstractContextManager[Session]]
    cfg: AgentConfig = field(default_factory=AgentConfig)


def job_error(err: BaseException) -> str:
    """The recorded reason of a job that raised: ``job_exception_<Type>: <message>``.

    Example:
        >>> job_error(ValueError("bad image"))
        'job_exception_ValueError: bad image'
    """
    return f"job_exception_{type(err).__name__}: {str(err)[:300]}"


def run_job(backend: Backend, job: RolloutJob) -> Rollout:
    """Run one job through :func:`~synthesis.agent.run_agent`; an ``Exception`` comes back as a failed one.

    The job is not modified (the rollout continues a copy of its conversation), so it can be run again. What
    is not an ``Exception`` (a :class:`~synthesis.endpoint.errors.FatalTeacherError`, ``KeyboardInterrupt``)
    is raised.

    Args:
        backend (`Backend`): continues the conversation (thread-safe when jobs run at once).
        job (`RolloutJob`): the rollout to run.
    """
    # The loop appends to its conversation: work on a copy so a job can be run again (a rerun, a retry).
    conversation = replace(job.conversation, pieces=list(job.conversation.pieces))
    try:
        with job.open_session() as session:
            return run_agent(backend, session, conversation, job.cfg)
    except Exception as err:  # recorded on the result, never dropped; a FatalTeacherError is no Exception
        return Rollout(conversation, finish="backend_error", error=job_error(err))


def _run_one(backend: Backend, job: RolloutJob, stop: threading.Event) -> Rollout | None:
    if stop.is_set():  # another job ended the batch: do not even open a session
        return None
    try:
        return run_job(backend, job)
    except BaseException:
        stop.set()  # at once, from this thread: queued jobs must not start while the caller wakes up
        raise


def run_many(backend: Backend, jobs: Sequence[RolloutJob], concurrency: int) -> list[Rollout]:
    """Run every job through :func:`~synthesis.agent.run_agent`, ``concurrency`` at a time, in input order.

    Args:
        backend (`Backend`): shared by all jobs; must be thread-safe
            (:class:`~synthesis.endpoint.backend.OpenAIBackend` is).
        jobs (`Sequence[RolloutJob]`): independent rollouts.
        concurrency (`int`): rollouts in flight at once (use the backend's ``concurrency`` or more: a rollout
            spends part of its time in the sandbox, not on the endpoint).

    Raises:
        FatalTeacherError: the first one a job raised (or any other ``BaseException``), once the jobs already
            running have ended; jobs not yet started never start.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if not jobs:
        return []
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(jobs)), thread_name_prefix="rollout")
    try:
        stop = threading.Event()
        futures = [pool.submit(_run_one, backend, job, stop) for job in jobs]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)  # _run_one only raises what must end the batch
        error = next((f.exception() for f in futures if f in done and f.exception() is not None), None)
        if error is not None:
            raise error  # after the finally below: pending jobs cancelled, running ones ended
        rollouts = [f.result() for f in futures]
        return [r for r in rollouts if r is not None]  # all of them: a job returns None only after a raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
