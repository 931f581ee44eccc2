"""The ``beam`` command: ``beam run PATH [--config pipeline.yaml] [KEY=VALUE ...]``.

The config is loaded and validated before the pipeline file is even imported, so a typo fails in
milliseconds with one line naming the file and key. The pipeline file must define ``run(config)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path

from runconfig.root import DEFAULT_CONFIG, load_config
from runconfig.typed import ConfigError, to_dict

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
    return parser


def _config_path(arg: str | None) -> str | None:
    if arg is not None:
        return arg
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).exists() else None


def _load_pipeline(path: str):
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{path}: no such pipeline file")
    spec = importlib.util.spec_from_file_location(f"_beam_pipeline_{file.stem}", file)
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
        config = load_config(_config_path(args.config), args.overrides)
        if args.command == "check":
            import json

            print(json.dumps(to_dict(config), indent=2))
            return 0
        from pipelines.stages import UndeclaredTagNoise  # imports Beam: only once the config is known good

        for handler in logging.getLogger().handlers:  # also for records re-emitted from SDK worker processes
            handler.addFilter(UndeclaredTagNoise())
        module = _load_pipeline(args.path)
    except ConfigError as err:
        print(f"beam: config error: {err}", file=sys.stderr)
        return 2
    result = module.run(config)
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
