"""Beam pipeline options from :class:`~pipelines.config.RunnerConfig`, with the runner always named.

Beam 2.77's default runner first tries Prism, which downloads a Go binary at run time (it fails or hangs
offline) and reports metrics under other names. Naming the runner explicitly keeps every run offline-safe.
"""

from __future__ import annotations

import os
import sys

from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.config import RunnerConfig

__all__ = ["beam_args", "local_workers", "pipeline_options"]


def local_workers(cfg: RunnerConfig) -> int:
    """How many SDK workers the local runner splits each stage among (1 for the in-process and portable
    ones)."""
    return (cfg.workers or os.cpu_count() or 1) if cfg.kind == "multi_process" else 1


def beam_args(cfg: RunnerConfig) -> list[str]:
    """The Beam command-line flags for a runner config.

    Args:
        cfg (`RunnerConfig`): the ``runner`` section.

    Example:
        >>> beam_args(RunnerConfig())
        ['--runner=FnApiRunner']
    """
    if cfg.kind == "in_process":
        args = ["--runner=FnApiRunner"]
    elif cfg.kind == "multi_process":
        args = [
            "--runner=FnApiRunner",
            f"--direct_num_workers={local_workers(cfg)}",
            "--direct_running_mode=multi_processing",
        ]
    else:
        args = [
            "--runner=PortableRunner",
            f"--job_endpoint={cfg.job_endpoint}",
            f"--environment_type={cfg.environment_type}",
        ]
        if cfg.environment_config:
            args.append(f"--environment_config={cfg.environment_config}")
    return args + list(cfg.extra_options)


def pipeline_options(cfg: RunnerConfig) -> PipelineOptions:
    """PipelineOptions for ``cfg``; multi-process workers run this interpreter, so they see the project
    venv."""
    if cfg.kind != "in_process":
        # SDK workers are started as `python -m ...` from PATH: put this venv first or they lack our packages.
        bindir = os.path.dirname(sys.executable)
        if not os.environ.get("PATH", "").startswith(bindir + os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    return PipelineOptions(beam_args(cfg))
