"""What a cluster worker (a Beam SDK harness host) needs, checked on the worker itself, one line each.

Run it on every worker image before a run (it is what ``tests/pipelines/test_worker_check.py`` runs)::

    python scripts/worker_check.py [--config pipeline.yaml] [--store s3://bucket/prefix] [KEY=VALUE ...]

A worker needs:

* the project installed in the interpreter the worker pool starts (``pip install .`` of this repository, the
  pinned stack of pyproject.toml); the pool starts each SDK worker as ``python`` from PATH, so that
  interpreter must be the project's;
* ``bubblewrap`` (``apt-get install bubblewrap``) for ``sandbox.isolation: full``, with Landlock ABI >= 6 and
  seccomp (``pyseccomp`` + ``libseccomp2``); ``reduced`` needs seccomp and one of bubblewrap or Landlock;
* the DejaVu fonts (``apt-get install fonts-dejavu-core fonts-dejavu-extra``) that the task generators draw
  with;
* with ``--store``: read, write and delete access to the object store, with credentials from the store's
  standard variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``,
  ``AWS_ENDPOINT_URL``) or files, never from pipeline.yaml.

The sandbox's isolation is detected with the sandbox's own probe (``sandbox.isolation.detect`` and ``plan``,
what every pool start runs) and reported as the level the worker would run at, with its features. A worker
that cannot have the configured level fails this check loudly (exit 1) naming what is missing: a worker
without bubblewrap runs at ``reduced`` only when ``sandbox.isolation: reduced`` is configured, and never at
``none`` unless ``none`` is configured (which the report flags as a WARNING).

Exit status: 0 when every check passes, 1 when one fails; the last line is a JSON summary.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout as well as from an installed package
    sys.path.insert(0, str(ROOT))


def _packages() -> tuple[bool, str]:
    missing, versions = [], {}
    for name in (
        "apache_beam",
        "pyarrow",
        "PIL",
        "runconfig",
        "sandbox",
        "synthesis",
        "validators",
        "pipelines",
    ):
        try:
            module = importlib.import_module(name)
        except ImportError as err:
            missing.append(f"{name} ({err})")
            continue
        if version := getattr(module, "__version__", ""):
            versions[name] = version
    if missing:
        return False, f"cannot import {', '.join(missing)}: pip install this repository into {sys.executable}"
    return True, f"{sys.executable}: " + ", ".join(f"{k} {v}" for k, v in versions.items())


def _fonts() -> tuple[bool, str]:
    from synthesis.tasks.drawing.fonts import FontNotFoundError, font_names

    try:
        return True, f"{len(font_names())} DejaVu fonts"
    except FontNotFoundError as err:
        return False, str(err)


def _sandbox(config) -> tuple[bool, str, dict]:
    from sandbox.isolation import SandboxUnavailableError, detect, plan

    caps = detect(config)
    facts = {
        "configured": config.isolation,
        "bwrap": caps.bwrap or None,
        "landlock_abi": caps.landlock_abi,
        "seccomp": bool(caps.seccomp_bpf),
        "problems": list(caps.problems),
    }
    try:
        launch = plan(config, caps)
    except SandboxUnavailableError as err:
        return False, f"REFUSED: {err}", {**facts, "level": None}
    facts.update(level=launch.level, features=list(launch.features))
    line = f"runs at '{launch.level}' ({', '.join(launch.features)})"
    if launch.level == "none":
        line = f"WARNING: {line}: model code runs with rlimits only (configured sandbox.isolation: none)"
    elif launch.level != config.isolation:
        line += f", configured '{config.isolation}'"
    if caps.problems:
        line += "; missing: " + "; ".join(caps.problems)
    return True, line, facts


def _store(location: str) -> tuple[bool, str]:
    from runconfig import storage

    problem = storage.location_problem(location, set(storage.OBJECT_STORES))
    if problem or not storage.is_remote(location):
        return False, f"{location!r} {problem or 'is not an object-store URI'}"
    probe = storage.join(location, f".worker-check-{uuid.uuid4().hex}")
    try:
        storage.write_bytes(probe, b"ok")
        ok = storage.read_bytes(probe) == b"ok"
        storage.delete(probe)
    except OSError as err:
        return False, f"{location}: {type(err).__name__}: {err}"
    return ok, f"{location}: write, read and delete work"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="pipeline.yaml (default: the defaults in code)")
    parser.add_argument("--store", default="", help="an object-store prefix to probe, e.g. s3://bucket/run")
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. sandbox.isolation=reduced")
    args = parser.parse_args(argv)
    results: dict[str, dict] = {}

    ok, line = _packages()
    results["package"] = {"ok": ok, "detail": line}
    if ok:
        from runconfig.root import load_config
        from runconfig.typed import ConfigError

        try:
            config = load_config(args.config, args.overrides)
        except ConfigError as err:
            print(f"worker_check: config error: {err}", file=sys.stderr)
            return 2
        ok, line = _fonts()
        results["fonts"] = {"ok": ok, "detail": line}
        ok, line, facts = _sandbox(config.sandbox)
        results["sandbox"] = {"ok": ok, "detail": line, **facts}
        if args.store:
            ok, line = _store(args.store)
            results["store"] = {"ok": ok, "detail": line}
    for name, result in results.items():
        print(f"worker_check: {name}: {'ok' if result['ok'] else 'FAILED'}: {result['detail']}")
    passed = all(r["ok"] for r in results.values())
    print(json.dumps({"ok": passed, **results}, sort_keys=True))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
