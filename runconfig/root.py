"""The root config: every section of ``pipeline.yaml`` composed, and its strict loader.

One strict loader validates the whole file, so a typo in any section (train's included) fails before any work.
Composing every section means importing every package's config, the pipelines' own sections included, so this
module sits outside the data-flow packages and only entry points import it: the ``beam`` command
(``pipelines/cli.py``), the pipeline files (``pipelines/build_*.py``) and ``train/run.py``. Library modules
take the sections they need as arguments (``tests/test_architecture.py`` enforces this).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.config import RlConfig, RunConfig, RunnerConfig, SourcesConfig, TeacherSection
from runconfig.storage import CACHES_END_TO_END, INPUTS_END_TO_END, location_problem
from runconfig.typed import ConfigError, apply_override, build
from sandbox.config import SandboxConfig
from synthesis.tasks.config import TasksConfig
from train.config import TrainConfig
from validators.config import ValidatorsConfig

__all__ = ["DEFAULT_CONFIG", "PipelineConfig", "check_locations", "load_config"]

DEFAULT_CONFIG = "pipeline.yaml"


@dataclass
class PipelineConfig:
    """Everything a pipeline run needs, one field per top-level section of ``pipeline.yaml``."""

    run: RunConfig = field(default_factory=RunConfig, metadata={"help": "Output location and layout."})
    runner: RunnerConfig = field(default_factory=RunnerConfig, metadata={"help": "Beam runner."})
    sources: SourcesConfig = field(default_factory=SourcesConfig, metadata={"help": "Inputs of build_sft."})
    teacher: TeacherSection = field(
        default_factory=TeacherSection, metadata={"help": "Who writes trajectories."}
    )
    tasks: TasksConfig = field(
        default_factory=TasksConfig, metadata={"help": "Known-answer task generators."}
    )
    sandbox: SandboxConfig = field(default_factory=SandboxConfig, metadata={"help": "The code sandbox."})
    validators: ValidatorsConfig = field(
        default_factory=ValidatorsConfig, metadata={"help": "Record and shard checks."}
    )
    rl: RlConfig = field(default_factory=RlConfig, metadata={"help": "RL prompt set (build_rl)."})
    train: TrainConfig = field(
        default_factory=TrainConfig, metadata={"help": "train/run.py: SFT, GRPO-ATS, eval."}
    )


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
        source = f"override of {source}"
        for override in overrides:
            apply_override(data, override)
        cfg = build(PipelineConfig, data, source=source)
    check_locations(cfg, source)
    return cfg


def check_locations(cfg: PipelineConfig, source: str = "config") -> None:
    """Refuse, in one line, a location the sections' own checks do not see (the dedupe reference set, the
    teacher cache) that cannot be used (``runconfig.storage.location_problem``); ``run.output_dir`` and
    ``sources.*`` are checked by their sections.

    Example:
        >>> check_locations(PipelineConfig())
        >>> cfg = PipelineConfig()
        >>> cfg.validators.duplicates.reference = "s3:/evals"
        >>> try:
        ...     check_locations(cfg)
        ... except ConfigError as err:
        ...     print(str(err)[:60])
        config: validators.duplicates.reference 's3:/evals' is not a
    """
    for key, location, allowed in (
        ("validators.duplicates.reference", cfg.validators.duplicates.reference, INPUTS_END_TO_END),
        ("teacher.openai.cache_path", cfg.teacher.openai.cache_path, CACHES_END_TO_END),
    ):
        problem = location_problem(location, allowed)
        if problem:
            raise ConfigError(f"{source}: {key} {location!r} {problem}")
