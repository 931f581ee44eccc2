"""The run manifest: what produced a dataset folder (config, seeds, package versions, git commit, shards).

Rows stay free of run metadata so shards are byte-identical across reruns; everything about the run itself
(when, on what code, with which config, what was written) lives here.
"""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from runconfig import storage
from runconfig.typed import config_hash, to_dict

__all__ = ["PACKAGES", "build_manifest", "git_commit", "package_versions", "read_json", "write_json"]

PACKAGES = (
    "apache-beam",
    "datasets",
    "pyarrow",
    "pillow",
    "numpy",
    "opencv-python-headless",
    "openai",
    "great-expectations",
    "math-verify",
    "torch",
    "transformers",
    "trl",
    "thyme-data",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shape the output ("" when one is not installed)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = ""
    return versions


def git_commit(root: Path | None = None) -> str:
    """The commit of the checkout the code runs from, with ``-dirty`` when it has uncommitted changes."""
    root = root or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if head.returncode != 0:
        return ""
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def build_manifest(cfg: Any, pipeline: str, shards: list[Any], extra: dict[str, Any] | None = None) -> dict:
    """The manifest of one run.

    Args:
        cfg (`runconfig.root.PipelineConfig`): the resolved config (the pipeline file passes it in).
        pipeline (`str`): which pipeline ran (e.g. ``build_sft``).
        shards (`list`): :class:`~pipelines.shards.ShardInfo` of every written file.
        extra (`dict`, *optional*): more facts (e.g. seeds, sandbox isolation level).
    """
    return {
        "pipeline": pipeline,
        "config_hash": config_hash(cfg),
        "config": to_dict(cfg),
        "seeds": {"tasks.base_seed": cfg.tasks.base_seed, "task_seeds": "base_seed + task index"},
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "shards": sorted((asdict(s) for s in shards), key=lambda s: s["path"]),
        **(extra or {}),
    }


def write_json(path: str | Path, data: dict) -> None:
    """Write JSON atomically to a local path or an object-store URI (``runconfig.storage``: a temporary
    name, then a rename or a copy), so a killed run never leaves half a file."""
    storage.write_bytes(str(path), (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def read_json(path: str | Path) -> dict:
    """The JSON object at a local path or an object-store URI."""
    return json.loads(storage.read_bytes(str(path)))
