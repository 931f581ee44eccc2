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

__all__ = ["FACTS", "MARKER", "SHARD_FOLDERS", "finishing", "run_location", "stage_location"]

SHARD_FOLDERS = ("data", "dead_letter")
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
def finishing(out: str) -> Iterator[Path]:
    """A local folder holding the run's promoted shards (``data/``, ``dead_letter/``) and its ``stats.json``
    and ``manifest.json`` when it has them, in which to write what the launcher makes of them; for an object
    store, everything new or changed in it is published to ``out`` at the end of the block (nothing when the
    block raises). Also what ``publish.py`` and ``python -m pipelines.report`` use on a finished run."""
    if not storage.is_remote(out):
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="thyme-finish-") as tmp:
        local = Path(tmp)
        mirrored = {
            f"{sub}/{name}"
            for sub in SHARD_FOLDERS
            for name in storage.download_tree(storage.join(out, sub), local / sub)
        }
        facts = {}  # the run's JSON files, for a report or Hub folder made after the run; re-sent if changed
        for name in FACTS:
            if storage.exists(storage.join(out, name)):
                facts[name] = storage.read_bytes(storage.join(out, name))
                (local / name).write_bytes(facts[name])
        yield local
        made = [
            name
            for name in storage.list_tree(tmp)
            if name not in mirrored and (name not in facts or (local / name).read_bytes() != facts[name])
        ]
        for tree in sorted({name.split("/", 1)[0] for name in made if "/" in name}):
            storage.delete_tree(storage.join(out, tree))
        for name in sorted(made, key=lambda n: (n == MARKER, n)):
            shard = "/".join(name.split("/")[1:])  # hub/data/x.parquet -> data/x.parquet
            if name.startswith("hub/") and shard in mirrored:
                storage.copy(storage.join(out, shard), storage.join(out, name))
            else:
                storage.upload_file(local / name, storage.join(out, name))
