"""Train a Thyme policy: SFT, then GRPO-ATS from the SFT checkpoint, then held-out evaluation.

Usage::

    python train/run.py [--config pipeline.yaml] [--sft-data DIR] [--rl-data DIR] [--model PATH_OR_ID]
                        [--output-dir DIR] [--stages sft,baseline,compare,grpo,eval] [train.KEY=VALUE ...]

Everything lands in the output folder: ``tiny/`` (the offline model), ``sft/`` and ``grpo/`` (checkpoints,
``latest`` pointer), ``metrics.jsonl``, ``curves_*.png``, ``eval_*.json`` and ``summary.json``. Rerunning the
same command resumes every stage from its latest checkpoint; a finished stage is skipped.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # `python train/run.py` from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from runconfig.typed import ConfigError, to_dict  # noqa: E402
from sandbox import Sandbox, SandboxConfig  # noqa: E402
from sandbox.opener import SessionOpener  # noqa: E402
from synthesis.agent import Backend  # noqa: E402
from synthesis.tasks import TasksConfig  # noqa: E402
from train.chat import prompt_text  # noqa: E402
from train.checkpoint import latest_checkpoint, resume_from  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.data import iter_rows, prompt_from_record, prompt_from_row, sft_records  # noqa: E402
from train.metrics import MetricsLog, plot_curves  # noqa: E402
from train.policy import load_policy  # noqa: E402

STAGES = ("sft", "baseline", "compare", "grpo", "eval")
DEFAULT_STAGES = ("sft", "compare", "grpo", "eval")
NO_TOOLS_ONLY = ("baseline",)  # checkpoints evaluated only without tools


def load(args) -> tuple[TrainConfig, SandboxConfig, TasksConfig]:
    """The ``train``, ``sandbox`` and ``tasks`` sections of the config file, with overrides and CLI flags.

    The whole file goes through the root config's strict loader, so a bad key anywhere fails before any work.
    """
    from runconfig.root import load_config

    overrides = list(args.overrides)
    for key, value in (
        ("sft_data", args.sft_data),
        ("rl_data", args.rl_data),
        ("output_dir", args.output_dir),
    ):
        if value:
            overrides.append(f"train.{key}={value}")
    if args.model:
        overrides.append(f"train.model.name={args.model}")
    config = load_config(args.config, overrides)
    from train.evaluate import held_out_tasks

    try:  # the benchmark's settings, refused now rather than after training
        held_out_tasks(config.train.eval, config.tasks)
    except ValueError as err:
        raise ConfigError(f"{args.config or 'defaults'}: train.eval: {err}") from err
    return config.train, config.sandbox, config.tasks


def base_model(cfg: TrainConfig, out: Path) -> str:
    """The starting checkpoint: the configured one, or the tiny model built once from the SFT shards' text."""
    if cfg.model.name != "tiny":
        return cfg.model.name
    folder = out / "tiny"
    if not (folder / "config.json").exists():
        from train.tiny_model import build_tiny

        texts = []
        for record in itertools.islice(sft_records(cfg.sft_data), 2000):
            conv = prompt_from_record(record).served(cfg.input_stem).conversation()
            texts += [prompt_text(conv.system, conv.user), record.response]
        build_tiny(cfg.model, texts, folder, seed=cfg.seed)
    return str(folder)


def run_sft(cfg: TrainConfig, out: Path, base: str, log: MetricsLog) -> Path:
    from train.sft import train_sft

    stage = out / "sft"
    last = latest_checkpoint(stage)
    if last is not None and last.name == f"step-{cfg.sft.total_steps:06d}":
        return last
    policy = load_policy(resume_from(stage, base), cfg.model)
    return train_sft(policy, cfg.sft, cfg.sft_data, stage, cfg.seed, log, cfg.input_stem)


def run_baseline(cfg: TrainConfig, out: Path, base: str, log: MetricsLog) -> Path:
    """The no-tool baseline: the same model, steps and batch as ``sft``, on the same records' questions and
    answers without trajectories (``sft.no_tools``); checkpoints in ``baseline/``, metrics as ``baseline``."""
    from train.sft import train_sft

    stage = out / "baseline"
    last = latest_checkpoint(stage)
    if last is not None and last.name == f"step-{cfg.sft.steps:06d}":
        return last
    sft = replace(cfg.sft, no_tools=True, copy_drill_steps=0)
    policy = load_policy(resume_from(stage, base), cfg.model)
    return train_sft(policy, sft, cfg.sft_data, stage, cfg.seed, log, cfg.input_stem, name="baseline")


def run_grpo(cfg: TrainConfig, out: Path, start: Path, sandbox: SessionOpener, log: MetricsLog) -> Path:
    from train.grpo import train_grpo

    stage = out / "grpo"
    last = latest_checkpoint(stage)
    if last is not None and last.name == f"step-{cfg.grpo.steps:06d}":
        return last
    policy = load_policy(resume_from(stage, start), cfg.model)
    reference = load_policy(start, cfg.model, trainable=False)
    return train_grpo(policy, reference, sandbox, cfg.grpo, cfg.rl_data, stage, cfg.seed, log, cfg.input_stem)


def run_compare(cfg: TrainConfig, out: Path, start: Path, sandbox: SessionOpener) -> dict:
    from train.grpo import compare_ats

    rows = iter_rows(
        cfg.rl_data, seed=cfg.seed + 1, shuffle_buffer=cfg.grpo.shuffle_buffer
    )  # shards are sorted
    prompts = [
        prompt_from_row(r).served(cfg.input_stem) for r in itertools.islice(rows, cfg.grpo.compare_prompts)
    ]
    policy = load_policy(start, cfg.model, trainable=False)
    result = compare_ats(policy, sandbox, prompts, cfg.grpo, seed=cfg.seed)
    (out / "ats_vs_t1.json").write_text(json.dumps(result, indent=2))
    return result


def run_eval(
    cfg: TrainConfig,
    out: Path,
    checkpoints: dict[str, Path],
    sandbox: SessionOpener,
    tasks: TasksConfig,
    log: MetricsLog,
) -> dict:
    from train.evaluate import build_benchmark, evaluate
    from train.policy_backend import LocalBackend

    prompts = [p.served(cfg.input_stem) for p in build_benchmark(cfg.eval, tasks)]
    reports = {}

    def local(path: Path) -> Backend:
        return LocalBackend(load_policy(path, cfg.model, trainable=False))

    backends: dict[str, Callable[[], Backend]] = {
        name: functools.partial(local, path) for name, path in checkpoints.items()
    }
    if cfg.eval.use_endpoint:  # any served model, through the same OpenAI-compatible backend the teacher uses
        from runconfig.keys import api_key
        from synthesis.endpoint.backend import OpenAIBackend
        from synthesis.endpoint.config import TeacherConfig, endpoint_of

        endpoint = TeacherConfig(**endpoint_of(cfg.eval.endpoint), cache_path="")
        backends["endpoint"] = lambda: OpenAIBackend(endpoint, api_key(endpoint.api_key_env))
    for i, (name, make) in enumerate(backends.items()):
        backend = make()
        settings = (True, False) if cfg.eval.without_tools else (True,)
        for tools in (False,) if name in NO_TOOLS_ONLY else settings:
            key = f"{name}_{'tools' if tools else 'no_tools'}"
            report, _ = evaluate(backend, prompts, sandbox, cfg.eval, tools=tools, weights=cfg.grpo.weights)
            reports[key] = report
            (out / f"eval_{key}.json").write_text(json.dumps(report, indent=2))
            flat = {k: v for k, v in report.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            log.log(f"eval_{'tools' if tools else 'no_tools'}", i, **flat)
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=None, help="pipeline.yaml (its train/sandbox/tasks sections)")
    parser.add_argument("--sft-data", default=None, help="folder of SFT shards (build_sft's data/)")
    parser.add_argument("--rl-data", default=None, help="folder of RL prompt shards (build_rl's data/)")
    parser.add_argument("--model", default=None, help="'tiny' or a Hugging Face VLM checkpoint (path or id)")
    parser.add_argument("--output-dir", default=None, help="where checkpoints, metrics and curves go")
    parser.add_argument(
        "--stages",
        default=",".join(DEFAULT_STAGES),
        help=f"comma-separated subset of {STAGES} (default: all but baseline)",
    )
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. train.sft.steps=50")
    args = parser.parse_args(argv)
    try:
        cfg, sandbox_cfg, tasks = load(args)
    except ConfigError as err:
        print(f"train: config error: {err}", file=sys.stderr)
        return 2
    stages = [s for s in args.stages.split(",") if s]
    if unknown := sorted(set(stages) - set(STAGES)):
        print(f"train: unknown stages {unknown}; use a subset of {STAGES}", file=sys.stderr)
        return 2
    import torch

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(to_dict(cfg), indent=2, default=list))
    log, timings, summary = MetricsLog(out / "metrics.jsonl"), {}, {}
    started = time.perf_counter()
    base = base_model(cfg, out)
    sft = latest_checkpoint(out / "sft") or Path(base)
    if "sft" in stages:
        sft = run_sft(cfg, out, base, log)
        timings["sft_s"] = time.perf_counter() - started
        print(f"SFT checkpoint: {sft} ({timings['sft_s']:.0f} s)")
    checkpoints = {"sft": sft}
    if "baseline" in stages:
        t = time.perf_counter()
        checkpoints["baseline"] = run_baseline(cfg, out, base, log)
        timings["baseline_s"] = time.perf_counter() - t
        print(f"baseline checkpoint: {checkpoints['baseline']} ({timings['baseline_s']:.0f} s)")
    elif (last_baseline := latest_checkpoint(out / "baseline")) is not None:
        checkpoints["baseline"] = last_baseline
    with Sandbox(sandbox_cfg) as sandbox:
        if "compare" in stages:
            t = time.perf_counter()
            summary["ats_vs_t1"] = run_compare(cfg, out, sft, sandbox)
            timings["compare_s"] = time.perf_counter() - t
            print(f"ATS vs T=1 code failure: {json.dumps(summary['ats_vs_t1'])}")
        if "grpo" in stages:
            t = time.perf_counter()
            checkpoints["grpo"] = run_grpo(cfg, out, sft, sandbox, log)
            timings["grpo_s"] = time.perf_counter() - t
            print(f"GRPO checkpoint: {checkpoints['grpo']} ({timings['grpo_s']:.0f} s)")
        elif (last_grpo := latest_checkpoint(out / "grpo")) is not None:
            checkpoints["grpo"] = last_grpo
        if "eval" in stages:
            t = time.perf_counter()
            summary["eval"] = run_eval(cfg, out, checkpoints, sandbox, tasks, log)
            timings["eval_s"] = time.perf_counter() - t
            for key, report in summary["eval"].items():
                print(
                    f"eval {key}: accuracy {report['accuracy']:.3f} format {report['format_valid_rate']:.3f} "
                    f"exec {report['code_exec_rate']:.3f} use {report['code_use_rate']:.3f} "
                    f"reward {report['mean_reward']:.3f} turns {report['mean_turns']:.2f}"
                )
    summary["timings"] = {**timings, "total_s": time.perf_counter() - started}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    curves = plot_curves(out / "metrics.jsonl", out)
    print(f"curves: {', '.join(str(c) for c in curves)}; summary: {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
