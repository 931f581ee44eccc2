"""The pipelines' own sections of ``pipeline.yaml``: ``run``, ``runner``, ``sources``, ``teacher`` and ``rl``.

Each package owns the config of its own component (``sandbox.config``, ``synthesis.tasks.config``, ...);
:mod:`runconfig.root` composes them all into :class:`~runconfig.root.PipelineConfig` and loads the file
strictly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from runconfig.storage import INPUTS_END_TO_END, location_problem
from synthesis.agent import AgentConfig
from synthesis.endpoint.config import EndpointConfig, TeacherConfig, endpoint_default

__all__ = ["DifficultyConfig", "RlConfig", "RunConfig", "RunnerConfig", "SourcesConfig", "TeacherSection"]


@dataclass
class RunConfig:
    """Where a run writes and how its output is laid out. (Seeds live with what they seed:
    ``tasks.base_seed``.)"""

    name: str = field(
        default="thyme-sft", metadata={"help": "Run name; names the output folder under output_dir."}
    )
    output_dir: str = field(
        default="out", metadata={"help": "Root folder for all outputs (relative to the cwd)."}
    )
    rows_per_shard: int = field(
        default=500, metadata={"help": "Rows per Parquet shard (the last holds the rest)."}
    )
    rows_per_group: int = field(
        default=32,
        metadata={"help": "Rows per Parquet row group: the most rows (and images) a shard writer holds."},
    )
    splits: dict[str, float] = field(
        default_factory=lambda: {"train": 1.0},
        metadata={"help": "Split name -> share of records, assigned by a stable hash of the record id."},
    )
    publish: bool = field(
        default=True, metadata={"help": "Write the Hub-ready folder <run>/hub when all checks hold."}
    )
    report: bool = field(
        default=True,
        metadata={"help": "Write <run>/report/index.html, a static site of the summary and every record."},
    )
    work: Literal["keep", "prune"] = field(
        default="prune",
        metadata={
            "help": "prune: <run>/work/ (finished records) is removed after a successful run (never after a "
            "failed or killed one, which a rerun resumes from), so a run's disk is ~1.2x its shards; keep: "
            "it stays, so a rerun after a success recomputes only what changed (about 2.2x the shards). "
            "Replay works either way (it restores records from the shards and the dead letters' payloads)."
        },
    )

    def __post_init__(self):
        problem = location_problem(self.output_dir)
        if problem:
            raise ValueError(f"output_dir {self.output_dir!r} {problem}")
        if not self.name or "/" in self.name:
            raise ValueError(f"name must be a non-empty folder name without '/', got {self.name!r}")
        if self.rows_per_shard < 1 or self.rows_per_group < 1:
            raise ValueError(
                f"rows_per_shard and rows_per_group must be >= 1, got {self.rows_per_shard}, "
                f"{self.rows_per_group}"
            )
        if not self.splits or any(v <= 0 for v in self.splits.values()):
            raise ValueError(f"splits must map split names to positive shares, got {self.splits}")


@dataclass
class RunnerConfig:
    """Which Beam runner executes the pipeline.

    ``in_process`` is Beam's FnApiRunner in this process. ``multi_process`` is the same runner with
    ``direct_num_workers`` SDK-harness subprocesses. ``portable`` submits to a Beam Job API endpoint (what
    Flink, Spark and Dataflow use). Prism and the DaskRunner are never used: Prism downloads a binary at run
    time and the DaskRunner (Beam 2.77) silently drops Parquet output.
    """

    kind: Literal["in_process", "multi_process", "portable"] = field(
        default="in_process", metadata={"help": "in_process | multi_process | portable."}
    )
    workers: int = field(
        default=2, metadata={"help": "SDK worker processes for multi_process (0 = one per core)."}
    )
    job_endpoint: str = field(default="", metadata={"help": "host:port of a Beam job service, for portable."})
    environment_type: Literal["LOOPBACK", "EXTERNAL", "PROCESS"] = field(
        default="LOOPBACK", metadata={"help": "SDK environment for portable: LOOPBACK, EXTERNAL or PROCESS."}
    )
    environment_config: str = field(
        default="",
        metadata={"help": "For EXTERNAL: host:port of a worker pool; for PROCESS: the boot command."},
    )
    extra_options: list[str] = field(
        default_factory=list,
        metadata={"help": "Further Beam options passed verbatim, e.g. --flink_master=host:8081."},
    )

    def __post_init__(self):
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = one per core), got {self.workers}")
        if self.kind == "portable" and not self.job_endpoint:
            raise ValueError("kind 'portable' needs job_endpoint (host:port of a Beam job service)")
        if self.environment_type == "EXTERNAL" and self.kind == "portable" and not self.environment_config:
            raise ValueError(
                "environment_type EXTERNAL needs environment_config (host:port of a worker pool)"
            )
        for opt in self.extra_options:
            if "prism" in opt.lower() or "daskrunner" in opt.lower() or opt.startswith("--runner"):
                raise ValueError(
                    f"extra_options may not choose the runner ({opt!r}); set runner.kind instead"
                )


@dataclass
class DifficultyConfig(EndpointConfig):
    """Drop RL prompts that a no-tool model (this endpoint) already answers right at every sample (useless for
    GRPO)."""

    model: str = endpoint_default("model", "Qwen2.5-VL-7B-Instruct")
    enabled: bool = field(
        default=False, metadata={"help": "Run the filter (needs an OpenAI-compatible endpoint)."}
    )
    samples: int = field(default=4, metadata={"help": "Answers sampled per prompt (GRPO's group size)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of those answers."})
    max_tokens: int = field(default=256, metadata={"help": "Tokens per answer."})
    concurrency: int = field(default=8, metadata={"help": "Requests in flight per worker."})

    def __post_init__(self):
        super().__post_init__()
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")


@dataclass
class RlConfig:
    """The RL prompt set built by ``pipelines/build_rl.py``."""

    name: str = field(default="thyme-rl", metadata={"help": "Output folder name under run.output_dir."})
    min_image_side: int = field(
        default=64, metadata={"help": "Prompts with a smaller image side are dropped."}
    )
    difficulty: DifficultyConfig = field(
        default_factory=DifficultyConfig, metadata={"help": "Difficulty filter."}
    )
    require_tool_needed: bool = field(
        default=False,
        metadata={
            "help": "Drop prompts whose tool_evidence says no tool step is needed (thresholds and exempt "
            "families of validators.evidence)."
        },
    )


@dataclass
class TeacherSection:
    """Who writes the trajectories of build_sft: the programmatic teacher (offline default) or a model."""

    kind: Literal["programmatic", "openai"] = field(
        default="programmatic",
        metadata={"help": "programmatic (no model) | openai (any OpenAI-compatible endpoint)."},
    )
    openai: TeacherConfig = field(
        default_factory=TeacherConfig, metadata={"help": "Endpoint, retries, cache."}
    )
    agent: AgentConfig = field(
        default_factory=AgentConfig, metadata={"help": "Turns, tokens, images, sampling."}
    )


@dataclass
class SourcesConfig:
    """Where build_sft's records come from; several sources can feed one run."""

    generated: bool = field(
        default=True, metadata={"help": "Known-answer tasks from the generators (tasks section)."}
    )
    task_files: list[str] = field(
        default_factory=list,
        metadata={
            "help": "JSONL/Parquet files of (image, question, answer) rows: tasks for the teacher (local "
            "paths or s3://bucket/key)."
        },
    )
    thyme_files: list[str] = field(
        default_factory=list,
        metadata={
            "help": "Released Thyme SFT data (JSONL/Parquet, local paths or s3://bucket/key): imported, "
            "re-executed in the sandbox, verified."
        },
    )

    def __post_init__(self):
        for key in ("task_files", "thyme_files"):
            for location in getattr(self, key):
                problem = location_problem(location, INPUTS_END_TO_END)
                if problem:
                    raise ValueError(f"{key}: {location!r} {problem}")
