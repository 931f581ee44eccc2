"""The run summary of the report, from the run's own files: ``stats.json``, ``manifest.json``,
``shard_checks/`` and the card's plots in ``hub/``. The Data Docs and plots are copied in, so the report
folder stands alone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["PLOTS", "by_prefix", "run_summary", "with_means"]

PLOTS = ("family_mix.png", "rejection_reasons.png")  # what publish_folder draws for the dataset card


def by_prefix(counts: dict[str, int], prefix: str) -> dict[str, int]:
    """The counts whose key starts with ``prefix``, keyed by the rest.

    Example:
        >>> by_prefix({"dead/stage/teacher": 2, "dead": 2, "accepted": 5}, "dead/stage/")
        {'teacher': 2}
    """
    return {k.removeprefix(prefix): v for k, v in counts.items() if k.startswith(prefix)}


def with_means(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics plus ``<name>_mean`` for every distribution (``<name>_sum`` over ``<name>_count``).

    Example:
        >>> with_means({"sandbox_cpu_ms_count": 4, "sandbox_cpu_ms_sum": 10})["sandbox_cpu_ms_mean"]
        2.5
    """
    means = {}
    for key, total in metrics.items():
        name = key.removesuffix("_sum")
        if key.endswith("_sum") and metrics.get(f"{name}_count"):
            means[f"{name}_mean"] = round(total / metrics[f"{name}_count"], 2)
    return {**metrics, **means}


def run_summary(run_dir: Path, root: Path) -> dict[str, Any]:
    """What the summary shows; copies the shard suite's Data Docs and the card's plots under ``root``."""
    stats = _json(run_dir / "stats.json")
    manifest = _json(run_dir / "manifest.json")
    counts = stats.get("counts", {})
    checks: dict[str, dict[str, int]] = {}
    for key, n in by_prefix(counts, "check/").items():
        name, _, verdict = key.rpartition("/")
        checks.setdefault(name, {"passed": 0, "failed": 0})[verdict] = n
    suite = stats.get("shard_checks", {})
    docs = run_dir / "shard_checks" / "data_docs"
    if docs.is_dir():
        shutil.copytree(docs, root / "shard_checks")
    plots = []
    for name in PLOTS:
        if (run_dir / "hub" / name).is_file():
            (root / "plots").mkdir(exist_ok=True)
            shutil.copy2(run_dir / "hub" / name, root / "plots" / name)
            plots.append(f"plots/{name}")
    return {
        "run": {
            "name": run_dir.name,
            **{k: manifest.get(k) for k in ("pipeline", "created_at", "git_commit", "config_hash", "python")},
        },
        "totals": {k: stats.get(k) for k in ("records_in", "accepted", "dead_lettered", "holds", "written")},
        "family": by_prefix(counts, "accepted/family/"),
        "stage": by_prefix(counts, "dead/stage/"),
        "reason": by_prefix(counts, "dead/reason/"),
        "checks": checks,
        "timings": {k: stats.get(k) for k in ("elapsed_s", "records_per_s") if k in stats},
        "costs": {"metrics": with_means(stats.get("metrics", {})), "teacher": stats.get("teacher", {})},
        "progress": stats.get("progress", {}),
        "shard_checks": {
            "passed": suite.get("passed"),
            "failures": suite.get("failures", []),
            "docs": "shard_checks/index.html" if docs.is_dir() else "",
        },
        "plots": plots,
        "seeds": manifest.get("seeds", {}),
    }


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}
