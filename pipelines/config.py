"""The typed configuration of a run: one dataclass per section of ``pipeline.yaml``.

Each package owns the config of its own component (``sandbox.config``, ``synthesis.tasks.config``, ...); this
module composes them into :class:`PipelineConfig` and loads ``pipeline.yaml`` plus ``KEY=VALUE`` overrides
strictly (see :mod:`pipelines.typed_config`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from pipelines.typed_config import ConfigError, apply_override, build, to_dict
from sandbox.config import SandboxConfig
from synthesis.agent import AgentConfig
from synthesis.openai_config import TeacherConfig, api_key
from synthesis.tasks.config import TasksConfig
from train.config import TrainConfig
from validators.config import ValidatorsConfig

__all__ = ["ConfigError", "PipelineConfig", "RunConfig", "RunnerConfig", "config_hash", "load_config"]

DEFAULT_CONFIG = "pipeline.yaml"


@dataclass
class RunConfig:
    """Where a run writes and how its output is laid out. (Seeds live with what they seed: ``tasks.base_seed``.)"""

    name: str = field(default="thyme-sft", metadata={"help": "Run name; names the output folder under output_dir."})
    output_dir: str = field(default="out", metadata={"help": "Root folder for all outputs (relative to the cwd)."})
    rows_per_shard: int = field(default=500, metadata={"help": "Rows per Parquet shard (the last holds the rest)."})
    rows_per_group: int = field(
        default=32, metadata={"help": "Rows per Parquet row group: the most rows (and images) a shard writer holds."}
    )
    splits: dict[str, float] = field(
        default_factory=lambda: {"train": 1.0},
        metadata={"help": "Split name -> share of records, assigned by a stable hash of the record id."},
    )
    publish: bool = field(default=True, metadata={"help": "Write the Hub-ready folder <run>/hub when all checks hold."})

    def __post_init__(self):
        if not self.name or "/" in self.name:
            raise ValueError(f"name must be a non-empty folder name without '/', got {self.name!r}")
        if self.rows_per_shard < 1 or self.rows_per_group < 1:
            raise ValueError(f"rows_per_shard and rows_per_group must be >= 1, got {self.rows_per_shard}, "
                             f"{self.rows_per_group}")
        if not self.splits or any(v <= 0 for v in self.splits.values()):
            raise ValueError(f"splits must map split names to positive shares, got {self.splits}")


@dataclass
class RunnerConfig:
    """Which Beam runner executes the pipeline.

    ``in_process`` is Beam's FnApiRunner in this process. ``multi_process`` is the same runner with
    ``direct_num_workers`` SDK-harness subprocesses. ``portable`` submits to a Beam Job API endpoint (what Flink,
    Spark and Dataflow use). Prism and the DaskRunner are never used: Prism downloads a binary at run time and
    the DaskRunner (Beam 2.77) silently drops Parquet output.
    """

    kind: Literal["in_process", "multi_process", "portable"] = field(
        default="in_process", metadata={"help": "in_process | multi_process | portable."}
    )
    workers: int = field(default=2, metadata={"help": "SDK worker processes for multi_process (0 = one per core)."})
    job_endpoint: str = field(default="", metadata={"help": "host:port of a Beam job service, for portable."})
    environment_type: Literal["LOOPBACK", "EXTERNAL", "PROCESS"] = field(
        default="LOOPBACK", metadata={"help": "SDK environment for portable: LOOPBACK, EXTERNAL or PROCESS."}
    )
    environment_config: str = field(
        default="", metadata={"help": "For EXTERNAL: host:port of a worker pool; for PROCESS: the boot command."}
    )
    extra_options: list[str] = field(
        default_factory=list, metadata={"help": "Further Beam options passed verbatim, e.g. --flink_master=host:8081."}
    )

    def __post_init__(self):
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0 (0 = one per core), got {self.workers}")
        if self.kind == "portable" and not self.job_endpoint:
            raise ValueError("kind 'portable' needs job_endpoint (host:port of a Beam job service)")
        if self.environment_type == "EXTERNAL" and self.kind == "portable" and not self.environment_config:
            raise ValueError("environment_type EXTERNAL needs environment_config (host:port of a worker pool)")
        for opt in self.extra_options:
            if "prism" in opt.lower() or "daskrunner" in opt.lower() or opt.startswith("--runner"):
                raise ValueError(f"extra_options may not choose the runner ({opt!r}); set runner.kind instead")


@dataclass
class DifficultyConfig:
    """Drop RL prompts that a no-tool model already answers right at every sample (useless for GRPO)."""

    enabled: bool = field(default=False, metadata={"help": "Run the filter (needs an OpenAI-compatible endpoint)."})
    base_url: str = field(default="http://127.0.0.1:8000/v1", metadata={"help": "Endpoint of the no-tool model."})
    model: str = field(default="Qwen2.5-VL-7B-Instruct", metadata={"help": "Model name sent in requests."})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "Environment variable holding the key."})
    samples: int = field(default=4, metadata={"help": "Answers sampled per prompt (GRPO's group size)."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of those answers."})
    max_tokens: int = field(default=256, metadata={"help": "Tokens per answer."})
    concurrency: int = field(default=8, metadata={"help": "Requests in flight per worker."})

    def __post_init__(self):
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")


@dataclass
class RlConfig:
    """The RL prompt set built by ``pipelines/build_rl.py``."""

    name: str = field(default="thyme-rl", metadata={"help": "Output folder name under run.output_dir."})
    min_image_side: int = field(default=64, metadata={"help": "Prompts with a smaller image side are dropped."})
    difficulty: DifficultyConfig = field(default_factory=DifficultyConfig, metadata={"help": "Difficulty filter."})


@dataclass
class TeacherSection:
    """Who writes the trajectories of build_sft: the programmatic teacher (offline default) or a model."""

    kind: Literal["programmatic", "openai"] = field(
        default="programmatic", metadata={"help": "programmatic (no model) | openai (any OpenAI-compatible endpoint)."}
    )
    openai: TeacherConfig = field(default_factory=TeacherConfig, metadata={"help": "Endpoint, retries, cache."})
    agent: AgentConfig = field(default_factory=AgentConfig, metadata={"help": "Turns, tokens, images, sampling."})
    batch: int = field(default=16, metadata={"help": "Tasks per batch handed to the concurrent rollout runner."})


def teacher_api_key(cfg: TeacherConfig) -> str:
    """The teacher's API key, read from the variable ``cfg.api_key_env`` names (never from the config file)."""
    return api_key(cfg, os.environ)


@dataclass
class SourcesConfig:
    """Where build_sft's records come from; several sources can feed one run."""

    generated: bool = field(default=True, metadata={"help": "Known-answer tasks from the generators (tasks section)."})
    task_files: list[str] = field(
        default_factory=list,
        metadata={"help": "JSONL/Parquet files of (image, question, answer) rows: tasks for the teacher."},
    )
    thyme_files: list[str] = field(
        default_factory=list,
        metadata={"help": "Released Thyme SFT data (JSONL/Parquet): imported, re-executed in the sandbox, verified."},
    )


@dataclass
class PipelineConfig:
    """Everything a pipeline run needs, one field per top-level section of ``pipeline.yaml``."""

    run: RunConfig = field(default_factory=RunConfig, metadata={"help": "Output location and layout."})
    runner: RunnerConfig = field(default_factory=RunnerConfig, metadata={"help": "Beam runner."})
    sources: SourcesConfig = field(default_factory=SourcesConfig, metadata={"help": "Inputs of build_sft."})
    teacher: TeacherSection = field(default_factory=TeacherSection, metadata={"help": "Who writes trajectories."})
    tasks: TasksConfig = field(default_factory=TasksConfig, metadata={"help": "Known-answer task generators."})
    sandbox: SandboxConfig = field(default_factory=SandboxConfig, metadata={"help": "The code sandbox."})
    validators: ValidatorsConfig = field(default_factory=ValidatorsConfig, metadata={"help": "Record and shard checks."})
    rl: RlConfig = field(default_factory=RlConfig, metadata={"help": "RL prompt set (build_rl)."})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "train/run.py: SFT, GRPO-ATS, eval."})


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> PipelineConfig:
    """Load ``pipeline.yaml`` (or defaults when ``path`` is None) and apply ``KEY=VALUE`` overrides.

    Args:
        path (`str | Path`, *optional*): the YAML file; None uses the defaults in code.
        overrides (`list[str]`, *optional*): dotted ``KEY=VALUE`` strings applied after the file.

    Raises:
        ConfigError: one line naming the file and key, before any work starts.

    Example:
        >>> load_config(None, ["run.rows_per_shard=7"]).run.rows_per_shard
        7
    """
    source = str(path) if path is not None else "defaults"
    data: dict = {}
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise ConfigError(f"{source}: cannot read config: {err.strerror or err}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{source}: not valid YAML{where}: {getattr(err, 'problem', err)}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: top level must be a mapping of sections, got {type(data).__name__}")
    cfg = build(PipelineConfig, data, source=source)
    if overrides:
        for override in overrides:
            apply_override(data, override)
        cfg = build(PipelineConfig, data, source=f"override of {source}")
    return cfg


def config_hash(cfg: object) -> str:
    """Stable short hash of a config (or any section), used to name and check run manifests.

    Example:
        >>> config_hash(RunConfig()) == config_hash(RunConfig())
        True
    """
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
