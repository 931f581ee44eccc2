"""The `Sandbox`: a pool of isolated workers that runs untrusted code blocks and returns typed results.

Thread-safe: any number of threads may call `Sandbox.run` or run sessions at once; each block takes
whichever worker is idle. A worker that dies or hangs is killed and replaced, and only its in-flight
block fails. Nothing the untrusted code produced is ever unpickled here: answers are capped JSON,
images are files this process lists and reads itself.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from sandbox.affinity import CpuClaim
from sandbox.config import SandboxConfig
from sandbox.fixups import FixContext, FixedCode, apply_fixups, remap_folder, remap_output_dir
from sandbox.handle import CeilingHit, WorkerDied, WorkerProcess, new_scratch
from sandbox.inputs import ImageLike, InputImages, size_problem
from sandbox.isolation import LaunchPlan, SandboxUnavailableError, detect, package_root, plan
from sandbox.layout import INPUT_DIR, VIRTUAL_OUTPUT_DIR
from sandbox.memcap import CeilingPlan, CeilingUnavailableError, ceiling_mb, choose
from sandbox.outcome import build_result, ceiling_result, lost_result, present, refused_result
from sandbox.redact import Rewrites, rewrites, runtime_rewrites, scratch_rewrites
from sandbox.result import ExecResult
from sandbox.routing import LIGHT_IMPORTS, needs_preload
from sandbox.scratch import make_root, remove_tree
from sandbox.session import Block, Session

logger = logging.getLogger(__name__)
NO_ISOLATION_WARNING = (
    "SANDBOX ISOLATION IS OFF (sandbox.isolation: none): model-written code runs with this process's "
    "privileges, can read and write your files and reach the network. Never use this on untrusted code."
)


@dataclass
class _Slot:
    """One core's worth of sandbox: a full zygote, optionally a light one, both on the slot's CPU."""

    index: int
    cpu: CpuClaim | None = None
    workers: dict[bool, WorkerProcess | None] = field(default_factory=dict)  # keyed by "has the preload"


class Sandbox:
    """A pool of sandboxed workers.

    Args:
        config (`SandboxConfig`, *optional*): settings; the defaults give full isolation, one worker per core.

    Raises:
        SandboxUnavailableError: the configured isolation level cannot be had on this machine.

    Example:
        >>> with Sandbox(SandboxConfig(workers=1)) as sb:  # doctest: +SKIP
        ...     sb.run("print(6 * 7)").feedback
        '42'
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.plan: LaunchPlan = plan(self.config, detect(self.config))
        if self.plan.level == "none":
            warnings.warn(NO_ISOLATION_WARNING, RuntimeWarning, stacklevel=2)
            logger.warning(NO_ISOLATION_WARNING)
        self._root = make_root(self.config.scratch_dir or None)
        self._root.chmod(0o711)  # the sandbox uid must traverse it where no mount namespace hides it
        try:
            self.ceiling = choose(
                self.config.memory_ceiling,
                ceiling_mb(self.config.worker_memory_mb, self.config.memory_mb),
                str(self._root),
            )
        except CeilingUnavailableError as exc:
            remove_tree(self._root)
            raise SandboxUnavailableError(str(exc)) from exc
        if self.ceiling.mode == "watchdog":
            logger.info("sandbox memory ceiling by watchdog (no cgroup: %s)", self.ceiling.reason)
        self.plan = replace(self.plan, features=(*self.plan.features, self.ceiling.feature))
        self._started, self._token = (
            0,
            os.urandom(3).hex(),
        )  # names this pool's cgroups among others of the process
        self._runtime_paths = runtime_rewrites(
            str(package_root())
        )  # what of the host its texts must not name
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-spawn")
        self._idle: queue.Queue[_Slot] = queue.Queue()
        claim = (
            (lambda: CpuClaim(self.config.scratch_dir or None)) if self.config.pin_cpus else (lambda: None)
        )
        self._slots = [_Slot(i, claim()) for i in range(self.config.worker_count)]
        kinds = (True, False) if self.config.light_zygote else (True,)
        self.respawns = 0
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(
            self, _shutdown, self._slots, self._root, self._spawner, self.ceiling
        )
        jobs = [(slot, kind) for slot in self._slots for kind in kinds]
        try:
            with ThreadPoolExecutor(max_workers=len(jobs)) as starter:
                started = list(starter.map(lambda job: self._start(*job), jobs))
        except WorkerDied as exc:
            self.close()
            raise SandboxUnavailableError(f"sandbox workers do not start here: {exc}") from exc
        for (slot, kind), worker in zip(jobs, started, strict=True):
            slot.workers[kind] = worker
        for slot in self._slots:
            self._idle.put(slot)

    @property
    def isolation(self) -> str:
        """The isolation level actually in force: "full", "reduced" or "none"."""
        return self.plan.level

    @property
    def memory_ceiling(self) -> str:
        """How each worker's memory ceiling is enforced: "cgroup2", "cgroup1", "watchdog" or "off"."""
        return self.ceiling.mode

    def _start(self, slot: _Slot, full: bool) -> WorkerProcess:
        # Landlock gives every block in/ read-only (no write, truncate or removal): a block's inputs can then
        # stay for a next block with the same ones.
        scratch = new_scratch(
            self._root, slot.index, self.plan.drop_uid, keep_inputs=self.plan.landlock_abi > 0
        )
        # Both zygotes hold every module a light block may import (routing then changes speed only, and
        # where the sandbox uid cannot read the stdlib, as at the reduced level under a mode-700 /root, both
        # refuse the same imports); only the full one holds the image stack.
        preload = [*sorted(LIGHT_IMPORTS), *(self.config.preload if full else [])]
        cpu = slot.cpu.cpu if slot.cpu is not None else None
        with self._lock:
            self._started += 1
            name = f"{self._token}-{slot.index}-{'full' if full else 'light'}-{self._started}"
        try:
            return WorkerProcess(
                self.config,
                self.plan,
                scratch,
                lambda make: self._spawner.submit(make).result(),
                preload,
                cpu,
                self.ceiling,
                name,
            )
        except BaseException:
            scratch.remove()
            raise

    def _ready_worker(self, slot: _Slot, full: bool) -> WorkerProcess:
        """The slot's worker of that kind, replaced first if it died or has served ``recycle_after``
        blocks."""
        worker = slot.workers.get(full)
        recycle = self.config.recycle_after
        if (
            worker is not None
            and worker.alive()
            and not worker.spent
            and not (recycle and worker.blocks >= recycle)
        ):
            return worker
        if worker is not None:
            worker.close()
        slot.workers[full] = None
        with self._lock:
            self.respawns += 1
        slot.workers[full] = worker = self._start(slot, full)
        return worker

    def worker_pids(self, full: bool | None = None) -> list[int]:
        """Host pids of the live worker processes (bubblewrap's, at the full level), of both kinds or only
        the full (``True``) or light (``False``) zygotes; for tests and monitoring."""
        return [
            w.proc.pid
            for s in self._slots
            for kind, w in s.workers.items()
            if w is not None and w.alive() and full in (None, kind)
        ]

    def session(
        self,
        images: list[ImageLike] | tuple[ImageLike, ...] = (),
        image_name: str | None = None,
        strict: bool | None = None,
        item_id: str = "N/A",
        seed: int = 0,
    ) -> Session:
        """Open a trajectory session: later blocks see the variables of earlier successful ones.

        Args:
            images (`list`, *optional*): input images as bytes or paths; ``image_path`` is the first.
            image_name (`str`, *optional*): file name to give the first image (e.g. "photo.jpg").
            strict (`bool`, *optional*): run code as written; defaults to ``not config.fixups``.
            item_id (`str`, *optional*, defaults to `"N/A"`): the id named in error messages.
            seed (`int`, *optional*, defaults to `0`): seed of ``random``/``numpy.random`` for this
                trajectory.
        """
        mode = (not self.config.fixups) if strict is None else strict
        return Session(self, InputImages.load(images, image_name), mode, item_id, seed)

    def run(
        self,
        code: str,
        images: list[ImageLike] | tuple[ImageLike, ...] = (),
        image_name: str | None = None,
        strict: bool | None = None,
        item_id: str = "N/A",
        seed: int = 0,
    ) -> ExecResult:
        """Run one block with no earlier state (a one-block session); see `session` for the arguments."""
        return self.session(images, image_name, strict, item_id, seed).run(code)

    def _refusal(self, block: Block) -> str:
        if not block.code.strip():
            return "the code block is empty"
        if len(block.code.encode("utf-8", "replace")) > self.config.max_code_bytes:
            return f"the code block exceeds {self.config.max_code_bytes} bytes"
        if len(block.inputs.files) > self.config.max_images:
            return f"more than {self.config.max_images} input images"
        limits = (self.config.max_image_pixels, self.config.max_image_aspect_ratio)
        for (name, _), size in zip(block.inputs.files, block.inputs.sizes, strict=True):
            problem = (
                size_problem(size, name, *limits) if size is not None else ""
            )  # unreadable: the block's affair
            if problem:  # judged from the header when loaded: an oversized image is never decoded
                return f"input {problem}"
        return ""

    def _fix(self, block: Block) -> FixedCode:
        if block.strict:
            return FixedCode(block.code)
        names = [name for name, _ in block.inputs.files]
        ctx = FixContext(
            image_path=INPUT_DIR + names[0] if names else "",
            input_paths=tuple(INPUT_DIR + n for n in names),
            image_size=block.inputs.size,
            min_crop_side=self.config.min_crop_side,
        )
        return apply_fixups(block.code, ctx)

    def execute(self, block: Block) -> tuple[ExecResult, str]:
        """Run a block; returns the result and the code to replay in later blocks of its session."""
        started = time.monotonic()
        refusal = self._refusal(block)
        if refusal:
            return _finish(refused_result(refusal), block.item_id, self._runtime_paths, started), ""
        fixed = self._fix(block)
        full = not self.config.light_zygote or needs_preload((*block.prelude, fixed.code))
        table = self._runtime_paths
        slot = self._idle.get()
        try:
            try:
                worker = self._ready_worker(slot, full)
                table = self._host_paths(worker)
                result = self._dispatch(worker, block, fixed)
            except CeilingHit as exc:
                result = ceiling_result(list(fixed.fixes), fixed.code, str(exc))
            except WorkerDied as exc:
                result = lost_result(list(fixed.fixes), fixed.code, str(exc))
            finally:
                self._clear(slot, full)
        finally:
            self._idle.put(slot)
        return _finish(result, block.item_id, table, started), fixed.code

    def _clear(self, slot: _Slot, full: bool) -> None:
        """Empty the worker's scratch for the next block; a worker whose scratch cannot be emptied is
        replaced (with a fresh scratch root) rather than let anything reach a later block."""
        worker = slot.workers.get(full)
        if worker is None:
            return
        try:
            worker.scratch.clear()
        except OSError as exc:
            logger.warning("sandbox scratch could not be emptied (%s); replacing its worker", exc)
            worker.close()
            slot.workers[full] = None

    def _host_paths(self, worker: WorkerProcess) -> Rewrites:
        """The host paths a block on this worker may see, with their sandbox-side spellings."""
        return _worker_rewrites(self._runtime_paths, str(worker.scratch.root), worker.scratch_view)

    def _remap(self, worker: WorkerProcess, code: str) -> str:
        if worker.launch.bwrap:
            return code
        view = worker.scratch_view
        return remap_folder(remap_output_dir(code, f"{view}/out/"), INPUT_DIR, f"{view}/in/")

    def _dispatch(self, worker: WorkerProcess, block: Block, fixed: FixedCode) -> ExecResult:
        code = self._remap(worker, fixed.code)
        fixes = list(fixed.fixes) + (["fix_output_dir"] if code != fixed.code else [])
        worker.scratch.prepare(list(block.inputs.files), fixed.output_subdirs)
        view = worker.scratch_view
        in_dir, out_dir = (
            (INPUT_DIR, VIRTUAL_OUTPUT_DIR) if worker.launch.bwrap else (f"{view}/in/", f"{view}/out/")
        )
        first = block.inputs.files[0][0] if block.inputs.files else ""
        request = {
            "code": code,
            "prelude": [self._remap(worker, cell) for cell in block.prelude],
            "seed": block.seed,
            "scratch": view,
            "image_path": in_dir + first if first else "",
            "output_dir": out_dir,
            "timeout_s": self.config.timeout_s,
            "replay_timeout_s": self.config.timeout_s * len(block.prelude),
            "output_limit": self.config.output_limit_bytes,
        }
        response = worker.execute(request)
        prefixes = (VIRTUAL_OUTPUT_DIR, f"{view}/out/", out_dir)
        return build_result(self.config, worker.scratch, response, code, fixes, prefixes)

    def close(self) -> None:
        """Stop every worker and delete all scratch; safe to call twice (also runs at interpreter exit)."""
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shutdown(slots: list[_Slot], root: Path, spawner: ThreadPoolExecutor, ceiling: CeilingPlan) -> None:
    for slot in slots:  # every worker stops at once; closing each then waits for its processes
        for worker in slot.workers.values():
            if worker is not None:
                worker.stop()
    for slot in slots:
        for worker in slot.workers.values():
            if worker is not None:
                worker.close()
        if slot.cpu is not None:
            slot.cpu.release()
    spawner.shutdown(wait=True)
    ceiling.close()
    remove_tree(root)


@functools.lru_cache(maxsize=256)
def _worker_rewrites(runtime: Rewrites, host_root: str, view: str) -> Rewrites:
    """Cached per worker: resolving the paths costs more than a trivial block's whole redaction."""
    return rewrites([*runtime, *scratch_rewrites(host_root, view)])


def _finish(result: ExecResult, item_id: str, table: Rewrites, started: float) -> ExecResult:
    """Every result leaves the pool through here: redacted, with its feedback, timed."""
    return present(result, item_id, table, wall_s=time.monotonic() - started)
