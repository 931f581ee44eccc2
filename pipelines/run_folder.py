"""Where a run's outputs live (a local folder or an object-store prefix) and how the launcher finishes them.

Workers write records, staged shards and counts straight to the run's location through ``runconfig.storage``,
so on a cluster they need to share nothing with the launcher but the store. What the launcher does after the
runner (the shard suite, stats, manifest, Hub folder and report) is written by modules that work on a local
folder; :func:`finishing` hands them one. For a local run that is the run folder itself. For an object store
it is a temporary mirror of the promoted shards whose new files are published to the store at the block's end:
each tree replaced whole, Hub shard copies made by server-side copy, and ``manifest.json`` (the run's commit
marker) last. The mirror costs the launcher one download of the shards, which the suite and the report read
whole anyway, and the shards' size in its temporary folder (``TMPDIR``) while the run finishes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runconfig import storage

__all__ = [
    "FACTS",
    "MARKER",
    "SHARD_FOLDERS",
    "WITH_REPORT",
    "finishing",
    "run_location",
    "stage_location",
]

SHARD_FOLDERS = ("data", "dead_letter")
WITH_REPORT = (*SHARD_FOLDERS, "report")
FACTS = ("stats.json", "manifest.json")
MARKER = "manifest.json"
"""Written last: a run folder without it is not a finished run (see ``pipelines.shards.promote_staging``)."""


def run_location(output_dir: str, name: str) -> str:
    """The folder (or object-store prefix) of the run ``name`` under ``output_dir``.

    Example:
        >>> run_location("s3://bucket/runs/", "thyme-sft"), run_location("out", "thyme-sft")
        ('s3://bucket/runs/thyme-sft', 'out/thyme-sft')
    """
    return storage.join(output_dir, name)


def stage_location(out: str, kind: str = "") -> str:
    """A fresh staging folder under the run folder ``out``, where a run writes before it is promoted.

    The staging folders that killed runs left behind are removed first: a run folder has one run at a time,
    and on an object store what a kill leaves is paid for until someone deletes it."""
    for name in storage.list_folders(out):
        if name.startswith(".staging-"):
            storage.delete_tree(storage.join(out, name))
    return storage.join(out, f".staging-{kind}{int(time.time())}")


@contextmanager
def finishing(out: str, trees: tuple[str, ...] = SHARD_FOLDERS) -> Iterator[Path]:
    """A local folder holding the run's ``trees`` (its promoted shards; ``report/`` too for a report, whose
    image files the workers rendered) and its ``stats.json`` and ``manifest.json`` when it has them, in which
    to write what the launcher makes of them. For an object store, at the end of the block (nothing when the
    block raises): every top-level folder the block changed is made equal to the mirror's (keys the mirror
    no longer has are deleted, new or rewritten files uploaded), ``manifest.json`` last. Also what
    ``publish.py`` and ``python -m pipelines.report`` use on a finished run."""
    if not storage.is_remote(out):
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="thyme-finish-") as tmp:
        local = Path(tmp)
        for sub in trees:
            storage.download_tree(storage.join(out, sub), local / sub)
        for name in FACTS:  # the run's JSON files, for a report or Hub folder made after the run
            if storage.exists(storage.join(out, name)):
                (local / name).write_bytes(storage.read_bytes(storage.join(out, name)))
        mirrored = _stamps(local)
        yield local
        now = _stamps(local)
        made = [name for name, stamp in now.items() if mirrored.get(name) != stamp]
        changed = {name.split("/", 1)[0] for name in [*made, *set(mirrored) - set(now)] if "/" in name}
        for tree in sorted(changed):
            for name in storage.list_tree(storage.join(out, tree)):
                if f"{tree}/{name}" not in now:
                    storage.delete(storage.join(out, tree, name))
        for name in sorted(made, key=lambda n: (n == MARKER, n)):
            shard = "/".join(name.split("/")[1:])  # hub/data/x.parquet -> data/x.parquet
            if name.startswith("hub/") and shard in mirrored:
                storage.copy(storage.join(out, shard), storage.join(out, name))
            else:
                storage.upload_file(local / name, storage.join(out, name))


def _stamps(local: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (size, mtime in ns)}`` of every file under ``local``: a file the block wrote or
    rewrote changes its stamp; one only linked or left alone keeps it."""
    stats = {name: (local / name).stat() for name in storage.list_tree(str(local))}
    return {name: (st.st_size, st.st_mtime_ns) for name, st in stats.items()}
