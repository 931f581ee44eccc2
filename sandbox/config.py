"""Typed configuration of the sandbox pool (the ``sandbox:`` section of ``pipeline.yaml``)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, fields

ISOLATION_LEVELS = ("full", "reduced", "none")
CEILING_MODES = ("auto", "cgroup", "watchdog", "off")
OPERATIONAL_FIELDS = (
    "workers", "recycle_after", "start_timeout_s", "hang_grace_s", "scratch_dir", "bwrap_path", "pin_cpus",
    "light_zygote", "memory_ceiling", "prefault_mb", "prewarm", "native_spawn",
)  # fmt: skip
"""Fields that change how the pool runs, never what a block produces (left out of :meth:`behaviour_hash`)."""


@dataclass
class SandboxConfig:
    """Every knob of the sandbox; ``pipeline.yaml`` only overrides these defaults.

    The defaults reproduce Thyme's behaviour (10 s limit, 64 px minimum crop, fix-ups on) inside a
    full OS-level isolation boundary.
    """

    workers: int = field(default=0, metadata={"help": "Worker processes; 0 means one per CPU core."})
    isolation: str = field(
        default="full",
        metadata={
            "help": "'full' (bwrap namespaces + Landlock + seccomp + rlimits), 'reduced' (whatever the "
            "kernel offers, at least seccomp) or 'none' (no isolation at all; warns loudly on every start)."
        },
    )
    timeout_s: float = field(
        default=10.0, metadata={"help": "Wall-clock limit per code block (Thyme: 10 s)."}
    )
    memory_mb: int = field(
        default=1024, metadata={"help": "Address-space budget per block on top of the worker's own size."}
    )
    worker_memory_mb: int = field(
        default=0,
        metadata={
            "help": "Memory ceiling of each worker's whole process tree (zygote and block), counting what "
            "RLIMIT_AS does not see (tmpfs files, shared memory, page cache); 0 means 2 x memory_mb + 256. "
            "Over it the block ends with status 'memory' (sandbox/memcap.py)."
        },
    )
    memory_ceiling: str = field(
        default="auto",
        metadata={
            "help": "How worker_memory_mb is enforced: 'auto' (a cgroup where one can be created, else the "
            "watchdog), 'cgroup' (refuse to start without one), 'watchdog' (poll the tree's PSS every "
            "100 ms) or 'off'."
        },
    )
    output_limit_bytes: int = field(
        default=1 << 20, metadata={"help": "Cap on stdout and on stderr; more stdout ends the block."}
    )
    file_size_mb: int = field(default=64, metadata={"help": "Largest file a block may write (RLIMIT_FSIZE)."})
    max_open_files: int = field(default=64, metadata={"help": "RLIMIT_NOFILE of a block."})
    max_threads: int = field(
        default=512,
        metadata={
            "help": "RLIMIT_NPROC of a block: bounds threads (processes are denied by seccomp). It counts "
            "every process of the sandbox uid on the host, so leave room for all workers of all pools."
        },
    )
    max_code_bytes: int = field(default=64 << 10, metadata={"help": "Longer code blocks are refused."})
    max_images: int = field(default=8, metadata={"help": "Most input images a block may be given."})
    max_output_images: int = field(default=10, metadata={"help": "Most images returned from one block."})
    max_image_bytes: int = field(default=32 << 20, metadata={"help": "Largest single returned image file."})
    max_image_pixels: int = field(
        default=64 << 20,
        metadata={
            "help": "Most pixels (width x height, read from the header, never decoded) of any input or "
            "returned image; a returned image over it fails the block, an input image over it refuses the "
            "block."
        },
    )
    max_image_aspect_ratio: float = field(
        default=200.0,
        metadata={"help": "Longest side over shortest side of any image (Thyme: 200); sides >= 1."},
    )
    max_files: int = field(
        default=1000,
        metadata={
            "help": "Most files and folders a block may leave in its output and work folders "
            "(else output-limit)."
        },
    )
    max_scratch_mb: int = field(
        default=256,
        metadata={
            "help": "Most disk a block may leave used in its output and work folders (else output-limit)."
        },
    )
    min_crop_side: int = field(
        default=64, metadata={"help": "Minimum side of a clamped crop box (Thyme: 64)."}
    )
    fixups: bool = field(
        default=True,
        metadata={"help": "Apply Thyme's code fix-ups; False is strict mode (code runs as written)."},
    )
    recycle_after: int = field(
        default=5000, metadata={"help": "Respawn a worker after this many blocks (0 = never)."}
    )
    session_replay_limit: int = field(
        default=16, metadata={"help": "Most earlier cells a session replays; older state is dropped."}
    )
    sandbox_uid: int = field(
        default=65534,
        metadata={"help": "Unprivileged uid/gid the untrusted code runs as when started as root."},
    )
    bwrap_path: str = field(default="bwrap", metadata={"help": "bubblewrap executable (name or path)."})
    scratch_dir: str = field(
        default="",
        metadata={"help": "Host directory for per-block scratch; empty means the system temp dir."},
    )
    hang_grace_s: float = field(
        default=5.0,
        metadata={
            "help": "Extra time a worker gets beyond a block's limit before it is presumed hung and killed."
        },
    )
    start_timeout_s: float = field(default=60.0, metadata={"help": "Longest a worker may take to start."})
    pin_cpus: bool = field(
        default=True,
        metadata={
            "help": "Pin each worker and its blocks to a CPU no other worker on the machine has claimed "
            "(cross-CPU hand-overs cost more than a trivial block); unpinned when all are taken."
        },
    )
    light_zygote: bool = field(
        default=True,
        metadata={
            "help": "Blocks that cannot reach a preloaded module fork from a second zygote without them "
            "(cheaper fork and exit); decided from the AST, changes speed only (sandbox/routing.py)."
        },
    )
    prefault_mb: int = field(
        default=32,
        metadata={
            "help": "Most heap a child of the full zygote faults in while it waits, so that the block's "
            "pixels land on pages already there; how much is learnt from the blocks before "
            "(sandbox/prewarm.py). 0 turns it off."
        },
    )
    prewarm: bool = field(
        default=True,
        metadata={
            "help": "Each child of the full zygote runs a tiny in-memory PNG through Pillow (and numpy) "
            "while it waits, so the block's first image calls find their pages copied (sandbox/prewarm.py)."
        },
    )
    native_spawn: bool = field(
        default=True,
        metadata={
            "help": "Fork and confine each block's process in C (sandbox/_spawn.c, built by `make setup`) "
            "before it runs any Python code; False does the same steps in Python (slower: each costs "
            "copy-on-write faults). Refused where the extension is not built."
        },
    )
    preload: list[str] = field(
        default_factory=lambda: ["PIL.Image", "numpy", "cv2"],
        metadata={"help": "Modules imported once per worker so blocks do not pay their import time."},
    )

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATION_LEVELS:
            raise ValueError(
                f"sandbox.isolation={self.isolation!r}: set one of {', '.join(ISOLATION_LEVELS)}"
            )
        if self.workers < 0:
            raise ValueError("sandbox.workers must be >= 0 (0 = one per core)")
        if self.timeout_s <= 0:
            raise ValueError("sandbox.timeout_s must be > 0; Thyme uses 10")
        if self.memory_mb < 64:
            raise ValueError("sandbox.memory_mb must be >= 64: image blocks need room for decoded pixels")
        if self.memory_ceiling not in CEILING_MODES:
            raise ValueError(
                f"sandbox.memory_ceiling={self.memory_ceiling!r}: set one of {', '.join(CEILING_MODES)}"
            )
        if self.worker_memory_mb and self.worker_memory_mb < 128:
            raise ValueError(
                "sandbox.worker_memory_mb must be 0 (automatic) or >= 128: a worker alone needs ~80 MB"
            )
        if self.output_limit_bytes < 1024:
            raise ValueError("sandbox.output_limit_bytes must be >= 1024")
        if self.max_threads < 4:
            raise ValueError("sandbox.max_threads must be >= 4: the interpreter and numpy need a few threads")
        if self.max_open_files < 16:
            raise ValueError("sandbox.max_open_files must be >= 16: the runtime needs a few descriptors")
        if not 0 <= self.prefault_mb <= self.memory_mb:
            raise ValueError("sandbox.prefault_mb must be between 0 and sandbox.memory_mb")
        if self.min_crop_side < 1:
            raise ValueError("sandbox.min_crop_side must be >= 1; Thyme uses 64")
        if self.max_image_pixels < 1 or self.max_image_aspect_ratio < 1:
            raise ValueError("sandbox.max_image_pixels must be >= 1 and sandbox.max_image_aspect_ratio >= 1")
        if self.max_files < 16 or self.max_scratch_mb < 1:
            raise ValueError("sandbox.max_files must be >= 16 and sandbox.max_scratch_mb >= 1")
        if not 0 <= self.sandbox_uid < 2**31 or self.sandbox_uid == 0:
            raise ValueError("sandbox.sandbox_uid must be a non-zero uid such as 65534 (nobody)")

    def behaviour_hash(self) -> str:
        """Short hash of the settings that can change a block's result (not pool size, paths or timeouts to
        start).

        Records carry it in their provenance; a rerun with another worker count keeps the same hash.

        Example:
            >>> SandboxConfig(workers=1).behaviour_hash() == SandboxConfig(workers=4).behaviour_hash()
            True
        """
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in OPERATIONAL_FIELDS}
        blob = json.dumps(values, sort_keys=True, default=list).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    @property
    def worker_count(self) -> int:
        """The effective number of workers (``workers`` or one per usable core)."""
        return self.workers or len(os.sched_getaffinity(0))
