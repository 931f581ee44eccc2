"""The ``beam`` command: ``beam run PATH [--config pipeline.yaml] [KEY=VALUE ...]``, ``beam check`` and
``beam replay OUTPUT_DIR [--reason R ...] [--stage S ...] [KEY=VALUE ...]``.

The config is loaded and validated before the pipeline file is even imported, so a typo fails in
milliseconds with one line naming the file and key. The pipeline file must define ``run(config)``. A replay's
config is the run's own (its ``manifest.json``) with the overrides applied, checked the same way.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

from runconfig.root import DEFAULT_CONFIG, PipelineConfig, check_locations, load_config
from runconfig.storage import is_remote, location_problem
from runconfig.typed import ConfigError, apply_override, build, to_dict

USAGE_EXAMPLE = "beam run pipelines/build_sft.py --config pipeline.yaml sandbox.workers=2 tasks.count=100"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="beam",
        description="Run a pipeline of this project on Apache Beam.",
        epilog=f"example: {USAGE_EXAMPLE}",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pipeline defined in PATH")
    run.add_argument("path", help="pipeline file defining run(config), e.g. pipelines/build_sft.py")
    run.add_argument(
        "--config",
        default=None,
        help=f"YAML config (default: ./{DEFAULT_CONFIG} if present, else the defaults in code)",
    )
    run.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. tasks.count=100"
    )
    check = sub.add_parser("check", help="validate a config and print the resolved values")
    check.add_argument("--config", default=None)
    check.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    replay = sub.add_parser(
        "replay",
        help="re-run the dead letters of a finished build_sft run and merge the outcome into it",
        epilog="example: beam replay out/thyme-sft --reason images_contrast_not_raised "
        "validators.images.min_contrast_gain=0.1",
    )
    replay.add_argument("out", metavar="OUTPUT_DIR", help="the run's folder, e.g. out/thyme-sft")
    for flag, what in (("--reason", "reason"), ("--stage", "stage")):
        replay.add_argument(
            flag, action="append", default=[], help=f"re-run only dead letters of this {what} (repeatable)"
        )
    replay.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="overrides of the run's config, e.g. a fixed check"
    )
    return parser


def _config_path(arg: str | None) -> str | None:
    if arg is not None:
        return arg
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None


def _replay_config(out: str, overrides: list[str]) -> PipelineConfig:
    """The config of the run in ``out`` (its manifest's) with ``overrides``; its output is ``out`` itself."""
    if problem := location_problem(out):
        raise ConfigError(f"OUTPUT_DIR {out!r} {problem}")
    if is_remote(out):
        raise ConfigError(
            f"OUTPUT_DIR {out!r}: replay merges into a local run folder only; rerun the build on the object "
            "store instead (it reuses every finished record whose inputs are unchanged)"
        )
    path = Path(out) / "manifest.json"
    try:
        data = json.loads(path.read_text())["config"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(
            f"{path}: no run manifest with a config to replay ({type(err).__name__}: {err})"
        ) from None
    moved = [o for o in overrides if o.split("=", 1)[0] in ("run.output_dir", "run.name")]
    if moved:
        raise ConfigError(
            f"{moved[0]}: a replay writes into OUTPUT_DIR itself; run.output_dir and run.name stay put"
        )
    for override in overrides:
        apply_override(data, override)
    source = f"{path}{' with overrides' if overrides else ''}"
    config = build(PipelineConfig, data, source=source)
    check_locations(config, source)
    return replace(config, run=replace(config.run, output_dir=str(Path(out).parent), name=Path(out).name))


def _load_pipeline(path: str):
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{path}: no such pipeline file")
    spec = importlib.util.spec_from_file_location(f"_beam_pipeline_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise ConfigError(f"{path}: defines no run(config) function")
    return module


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``beam`` console script; returns the process exit code."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    bad = [item for item in extra if item.startswith("-") or "=" not in item]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)}")
    args.overrides = list(args.overrides) + extra
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("apache_beam", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "replay":
            config = _replay_config(args.out, args.overrides)
        else:
            config = load_config(_config_path(args.config), args.overrides)
        if args.command == "check":
            print(json.dumps(to_dict(config), indent=2))
            return 0
        from pipelines.stages import UndeclaredTagNoise  # imports Beam: only once the config is known good

        for handler in logging.getLogger().handlers:  # also for records re-emitted from SDK worker processes
            handler.addFilter(UndeclaredTagNoise())
        if args.command == "replay":
            from pipelines import replay

            selection = replay.Selection(tuple(args.reason), tuple(args.stage))
            run = partial(replay.run, out=Path(args.out), selection=selection, overrides=args.overrides)
        else:
            run = _load_pipeline(args.path).run
    except ConfigError as err:
        print(f"beam: config error: {err}", file=sys.stderr)
        return 2
    result = run(config)
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
