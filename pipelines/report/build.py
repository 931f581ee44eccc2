"""Write ``<run>/report/``: a static site of a finished run, made only from its output files.

Shards are read one row group at a time and each record's images are named as it passes, so memory stays at
one row group (``run.rows_per_group`` rows) whatever the run's size. The image files are normally rendered by
the pipeline's workers during the run (:mod:`pipelines.report.render`) and only the missing ones here. The
site is built in a staging folder and swapped in at the end: a half-written report never replaces a good one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.report.site_writer import SiteWriter
from pipelines.report.summary import run_summary
from pipelines.report.views import accepted_view, dead_view
from runconfig import storage

__all__ = ["ASSETS", "PAGE_SIZE", "write_report"]

ASSETS = Path(__file__).parent / "assets"  # index.html, report.css, report.js: copied as they are
PAGE_SIZE = 100  # records per page file
IMAGE_FOLDERS = ("images", "thumbs")  # see pipelines.report.images.image_path


def write_report(run_dir: str | Path, page_size: int = PAGE_SIZE) -> Path:
    """Write the report of the run in ``run_dir`` (``data/``, ``dead_letter/``, ``stats.json``,
    ``manifest.json``) to ``run_dir/report/``; returns the path of its ``index.html``.

    Args:
        run_dir (`str | Path`): a build_sft or build_rl output folder.
        page_size (`int`, *optional*, defaults to `100`): records per page file, loaded on demand by the page.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "data").is_dir() and not (run_dir / "dead_letter").is_dir():
        raise FileNotFoundError(f"{run_dir} is not a run folder: it has neither data/ nor dead_letter/")
    final, stage = run_dir / "report", run_dir / ".report-staging"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    for asset in ASSETS.iterdir():
        shutil.copy2(asset, stage / asset.name)
    carried = _carry_images(final, stage)
    used: set[str] = set()
    site = SiteWriter(stage, page_size)
    for shard, row in _rows(run_dir, "data"):
        view, entry = accepted_view(row, stage, shard)
        used.update(_image_files(view["images"]))
        site.add(view, entry)
    for shard, row in _rows(run_dir, "dead_letter"):
        view, entry = dead_view(row, stage, shard)
        used.update(_image_files(view["record"]["images"]))
        site.add(view, entry)
    site.close(run_summary(run_dir, stage))
    for name in carried - used:  # a previous report's images that this run no longer shows
        (stage / name).unlink()
    shutil.rmtree(final, ignore_errors=True)
    stage.rename(final)
    return final / "index.html"


def _carry_images(final: Path, stage: Path) -> set[str]:
    """Hard-link the image files already under ``final`` (rendered by the run's workers, or by the report
    before) into ``stage``, where :func:`write_images` finds them and renders only what is missing; returns
    their names. Links, not moves: a report that fails half-way leaves the previous one whole."""
    carried: set[str] = set()
    for folder in IMAGE_FOLDERS:
        if (final / folder).is_dir():
            shutil.copytree(
                final / folder,
                stage / folder,
                copy_function=os.link,
                ignore=shutil.ignore_patterns("*.tmp-*"),
            )
            carried.update(f"{folder}/{name}" for name in storage.list_tree(str(stage / folder)))
    return carried


def _image_files(images: list[dict[str, Any]]) -> Iterator[str]:
    for image in images:
        yield from (image[k] for k in ("full", "thumb") if image.get(k))


def _rows(run_dir: Path, folder: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(shard path in the run, row)`` for every row of the folder's shards, one row group in memory."""
    for path in sorted((run_dir / folder).glob("*.parquet")):
        shard = pq.ParquetFile(path)
        for group in range(shard.num_row_groups):
            for row in shard.read_row_group(group).to_pylist():
                yield f"{folder}/{path.name}", row
