"""Publish a build's output as a Hub-ready dataset folder, and optionally push it.

``python pipelines/publish.py out/thyme-sft [--out DIR] [--push REPO_ID [--yes]]`` makes ``<run>/hub/``
holding the shards (``data/``), a dataset card (``README.md``: YAML configs and features, counts per split
and family, rejection reasons, the generating config, example trajectories) and PNG plots of the family mix
and the rejection reasons. ``datasets.load_dataset(folder)`` loads it with images decoded. ``--push`` uploads
it with ``huggingface_hub`` (the token comes from the environment, as huggingface_hub reads it); without
``--yes`` it is a dry run that lists what would be uploaded. Transient Hub errors are retried with backoff.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.card import card_yaml, plot_bars, render_card
from pipelines.run_folder import finishing
from runconfig.storage import is_remote, join, location_problem
from synthesis.records import SFT_FEATURES

__all__ = ["publish_folder", "push_folder"]

log = logging.getLogger("publish")
TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


def _split_of(path: Path) -> str:
    return path.name.rsplit("-", 3)[0]


def _count_columns(files: list[Path], columns: list[str]) -> Counter:
    """Value counts of a few small columns over many shards (dask reads them lazily, shard by shard)."""
    if not files:
        return Counter()
    import dask.dataframe as dd

    frame = dd.read_parquet([str(f) for f in files], columns=columns)
    joined = frame[columns[0]].astype(str)
    for col in columns[1:]:
        joined = joined + "/" + frame[col].astype(str)
    return Counter(joined.value_counts().compute().to_dict())


def _evidence_rows(shards: list[Path]) -> list[dict[str, Any]]:
    """Each accepted record's family with its ``tool_evidence`` fields (two small columns per shard)."""
    rows = []
    for shard in shards:
        names = pq.ParquetFile(shard).schema_arrow.names
        if "tool_evidence" not in names:  # shards written before the field existed
            continue
        table = pq.read_table(shard, columns=["family", "tool_evidence"])
        for family, evidence in zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True):
            if evidence:
                rows.append({"family": family, **evidence})
    return rows


def _first_of_each_family(shards: list[Path], count: int) -> list[dict[str, Any]]:
    """The first row of each family, in shard order, up to ``count`` rows.

    Only the ``family`` column is scanned; a row group is read in full only when it holds a picked row, so a
    card costs a few row groups of images, not the whole dataset.
    """
    picked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for shard in shards:
        file = pq.ParquetFile(shard)
        for group in range(file.num_row_groups):
            new: list[int] = []
            for index, family in enumerate(
                file.read_row_group(group, columns=["family"]).column(0).to_pylist()
            ):
                if family not in seen and len(picked) + len(new) < count:
                    seen.add(family)
                    new.append(index)
            if new:
                picked += file.read_row_group(group).take(new).to_pylist()
            if len(picked) >= count:
                return picked
    return picked


def _example(row: dict[str, Any], folder: Path) -> str:
    from PIL import Image

    (folder / "examples").mkdir(exist_ok=True)
    links = []
    for k, img in enumerate(row["images"]):
        name = f"examples/{row['id']}_{k}.png"
        pic = Image.open(io.BytesIO(img["bytes"])).convert("RGB")
        pic.thumbnail((512, 512))
        pic.save(folder / name)
        links.append(f"![image {k}]({name})")
    return (
        f"### `{row['id']}` ({row['family']})\n\n**Question:** {row['question']}\n\n"
        + " ".join(links)
        + f"\n\n```text\n{row['response']}\n```\n\n**Ground truth:** `{row['answer']}`"
    )


def publish_folder(run_dir: str | Path, out: str | Path | None = None, examples: int = 3) -> Path:
    """Build the Hub-ready folder of a finished run; returns its path.

    Args:
        run_dir (`str | Path`): a build's output folder (``data/``, ``dead_letter/``, ``manifest.json``).
        out (`str | Path`, *optional*): where to write; defaults to ``<run_dir>/hub``.
        examples (`int`, *optional*, defaults to `3`): example trajectories in the card (distinct families).
    """
    run_dir = Path(run_dir)
    folder = Path(out) if out else run_dir / "hub"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    shards = sorted((run_dir / "data").glob("*.parquet"))
    for shard in shards:  # hard links when possible: the shards are immutable and can be large
        if _same_fs(shard, folder):
            os.link(shard, folder / "data" / shard.name)
        else:
            shutil.copy2(shard, folder / "data" / shard.name)
    splits: Counter[str] = Counter()
    for shard in shards:
        splits[_split_of(shard)] += pq.ParquetFile(shard).metadata.num_rows
    families = {
        split: _count_columns([s for s in shards if _split_of(s) == split], ["family"]) for split in splits
    }
    reasons = _count_columns(sorted((run_dir / "dead_letter").glob("*.parquet")), ["stage", "reason"])
    manifest = (
        json.loads((run_dir / "manifest.json").read_text()) if (run_dir / "manifest.json").exists() else {}
    )
    picked = [_example(row, folder) for row in _first_of_each_family(shards, examples)]
    total_families = sum(families.values(), Counter())
    plot_bars(dict(total_families), "Accepted records by family", folder / "family_mix.png")
    plot_bars(dict(reasons), "Dead letters by stage/reason", folder / "rejection_reasons.png")
    split_bytes: Counter[str] = Counter()
    for shard in shards:
        split_bytes[_split_of(shard)] += shard.stat().st_size
    meta = card_yaml(dict(splits), SFT_FEATURES._to_yaml_list(), "apache-2.0", dict(split_bytes))
    card = render_card(
        meta,
        manifest.get("config", {}).get("run", {}).get("name", run_dir.name),
        dict(splits),
        families,
        dict(reasons),
        manifest.get("config", {}),
        picked,
        _evidence_rows(shards),
    )
    (folder / "README.md").write_text(card)
    return folder


def _same_fs(a: Path, folder: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(folder).st_dev
    except OSError:
        return False


def _transient(err: Exception) -> bool:
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status is not None:
        return status in TRANSIENT_STATUS
    return isinstance(err, ConnectionError | TimeoutError | OSError)


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    dry_run: bool = True,
    api: Any = None,
    retries: int = 5,
    backoff_s: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Upload ``folder`` to the dataset repo ``repo_id``; returns the files (uploaded, or to upload on a dry
    run).

    Args:
        folder (`str | Path`): the published folder.
        repo_id (`str`): e.g. ``org/thyme-sft``.
        dry_run (`bool`, *optional*, defaults to `True`): list the files, upload nothing.
        api (`huggingface_hub.HfApi`, *optional*): the client (the token comes from the environment).
        retries (`int`, *optional*, defaults to `5`): attempts on transient errors (429, 5xx, timeouts).
        backoff_s (`float`, *optional*, defaults to `2.0`): first wait; doubles per attempt.
        sleep (`Callable`, *optional*): how to wait (tests pass a recorder).
    """
    folder = Path(folder)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    if dry_run:
        return files
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    for attempt in range(1, retries + 1):
        try:
            api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
            api.upload_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                repo_type="dataset",
                commit_message=f"Upload {len(files)} files from thyme-data",
            )
            return files
        except Exception as err:  # noqa: BLE001 - classified just below; non-transient errors are re-raised
            if attempt == retries or not _transient(err):
                raise
            wait = backoff_s * 2 ** (attempt - 1)
            log.warning("push attempt %d failed (%s); retrying in %.1f s", attempt, err, wait)
            sleep(wait)
    return files


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a build's output folder, e.g. out/thyme-sft")
    parser.add_argument("--out", default=None, help="where to write (default: <run_dir>/hub)")
    parser.add_argument("--push", metavar="REPO_ID", default=None, help="upload to this Hub dataset repo")
    parser.add_argument("--yes", action="store_true", help="really upload (without it --push is a dry run)")
    args = parser.parse_args(argv)
    for location in (args.run_dir, args.out or ""):
        if problem := location_problem(location):
            parser.error(f"{location!r} {problem}")
    if args.out and is_remote(args.out):
        parser.error(f"--out {args.out!r}: the Hub folder of a run on a store is written to <run_dir>/hub")
    with finishing(args.run_dir) as local:  # the folder itself, or a local mirror of a run on a store
        folder = publish_folder(local, None if is_remote(args.run_dir) else args.out)
        print(f"publish: wrote {join(args.run_dir, 'hub') if is_remote(args.run_dir) else folder}")
        if args.push:
            files = push_folder(folder, args.push, dry_run=not args.yes)
            verb = "uploaded" if args.yes else "would upload (dry run; add --yes)"
            print(f"publish: {verb} {len(files)} files to {args.push}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
