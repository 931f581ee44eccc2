"""A folder of finished records, one small Parquet file per id: the resume cache and the memory valve.

Stages write each finished record here and pass only its id downstream, so Beam's in-memory buffers hold ids,
not images, and memory does not grow with the dataset. Each file carries the key of what its record was made
from (:mod:`pipelines.work_keys`) in its Parquet metadata: a rerun reuses a record only when its key matches,
so an edited input row, another model or other validators recompute exactly the records they change. Files
are written to a temporary name and renamed, so a kill never leaves half a record.

A run keeps its images once: a store made with ``images_from`` (the accepted records, over the drafts) writes
a record whose images are those of the stored record of the same id there without them, naming that record's
key, and reads them back from it; when that record has changed since (another key), the record is as good as
gone. :func:`run_stores` makes a run's two stores; :func:`finish_work` keeps or prunes them after a run.

The folder may be an object-store prefix (``s3://bucket/run/work/accepted``, ``runconfig.storage``): then
workers on hosts that share no disk share the records, and a record is published by a copy from a temporary
key, so a kill still never leaves half a record.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from runconfig import storage
from synthesis.records import SFT_SCHEMA, SftRecord, to_table

__all__ = ["RecordStore", "StaleRecord", "finish_work", "run_stores"]

_KEY = b"thyme_work_key"
_IMAGES_OF = b"thyme_images_of"  # the key of the record in ``images_from`` whose images a record shares


class StaleRecord(FileNotFoundError):
    """A record whose images were shared with a record that has since been replaced or removed."""


class RecordStore:
    """Records by id under ``folder`` (fanned out into 256 subfolders to keep directories small).

    Args:
        folder (`str | Path`): where the records live: a local folder or an object-store prefix.
        images_from (`RecordStore`, *optional*): a store whose record of the same id usually has the same
            images (a run's drafts, for its accepted records): those images are stored once, there.
    """

    def __init__(self, folder: str | Path, images_from: RecordStore | None = None):
        self.folder = str(folder)
        self.images_from = images_from

    def path(self, record_id: str) -> str:
        """Where the record ``record_id`` lives (a path or an object-store URI)."""
        fan = hashlib.sha256(record_id.encode()).hexdigest()[:2]
        return storage.join(self.folder, fan, f"{record_id}.parquet")

    def _file(self, record_id: str) -> pq.ParquetFile:
        """The stored file of ``record_id``; FileNotFoundError or ArrowInvalid when there is none whole."""
        return pq.ParquetFile(storage.open_input(self.path(record_id)))

    def key(self, record_id: str) -> str | None:
        """The key the stored record ``record_id`` was made under, None when there is none (or its images
        were shared with a record that has changed since)."""
        try:
            metadata = self._file(record_id).schema_arrow.metadata or {}
        except (FileNotFoundError, pa.ArrowInvalid):
            return None
        shared = metadata.get(_IMAGES_OF)
        if shared is not None and (
            self.images_from is None or self.images_from.key(record_id) != shared.decode()
        ):
            return None
        return metadata.get(_KEY, b"").decode()

    def has(self, record_id: str, key: str) -> bool:
        """True when ``record_id`` was finished, by this or an earlier run, from the inputs ``key`` stands
        for."""
        return self.key(record_id) == key

    def put(self, record: SftRecord, key: str) -> str:
        """Store ``record`` atomically under ``key``; returns its id. Its images are left out when the record
        of the same id in ``images_from`` holds the same ones."""
        row, metadata = record.to_row(), {_KEY: key.encode()}
        if self.images_from is not None:
            base = self.images_from._images(record.id)
            if base is not None and base[1] == row["images"]:
                row, metadata[_IMAGES_OF] = replace(record, images=()).to_row(), base[0].encode()
        table = to_table([row], SFT_SCHEMA)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
        with storage.open_for_publish(self.path(record.id)) as sink:
            pq.write_table(table, sink, compression="zstd")
        return record.id

    def table(self, record_id: str) -> pa.Table:
        """The stored record ``record_id`` as a one-row Arrow table (what shard writers concatenate).

        Raises `StaleRecord` when its images were shared with a record that has changed since."""
        table = self._file(record_id).read()
        metadata = dict(table.schema.metadata or {})
        shared = metadata.pop(_IMAGES_OF, None)
        metadata.pop(_KEY, None)
        if shared is not None:
            images = self._base().images_table(record_id, shared.decode())
            at = table.schema.get_field_index("images")
            table = table.set_column(at, table.schema.field(at), images.column("images"))
        return table.replace_schema_metadata(metadata)

    def row(self, record_id: str) -> dict:
        """The stored Parquet row of ``record_id``."""
        return self.table(record_id).to_pylist()[0]

    def get(self, record_id: str) -> SftRecord:
        """The stored record ``record_id``."""
        return SftRecord.from_row(self.row(record_id))

    def images_table(self, record_id: str, key: str) -> pa.Table:
        """The ``images`` column of the record ``record_id``, which must still be stored under ``key``."""
        try:
            file = self._file(record_id)
        except (FileNotFoundError, pa.ArrowInvalid) as err:
            raise StaleRecord(f"{record_id}: its images were in {self.folder}, which lost them") from err
        stored = (file.schema_arrow.metadata or {}).get(_KEY, b"").decode()
        if stored != key:
            raise StaleRecord(f"{record_id}: its images were in {self.folder} under key {key}, now {stored}")
        return file.read(columns=["images"])

    def _images(self, record_id: str) -> tuple[str, list] | None:
        """``(key, images row)`` of the stored record ``record_id``, None when there is none."""
        try:
            file = self._file(record_id)
            images = file.read(columns=["images"]).column("images").to_pylist()[0]
        except (FileNotFoundError, pa.ArrowInvalid):
            return None
        return (file.schema_arrow.metadata or {}).get(_KEY, b"").decode(), images

    def _base(self) -> RecordStore:
        if self.images_from is None:
            raise StaleRecord(
                f"{self.folder} holds records that share images, but was opened without their store"
            )
        return self.images_from


def run_stores(work: str | Path) -> tuple[RecordStore, RecordStore]:
    """A run's drafts (``work/trajectories``) and accepted records (``work/accepted``, sharing the drafts'
    images)."""
    drafts = RecordStore(storage.join(str(work), "trajectories"))
    return drafts, RecordStore(storage.join(str(work), "accepted"), images_from=drafts)


def finish_work(work: str | Path, policy: str, succeeded: bool) -> bool:
    """Apply ``run.work`` after a run whose shards are in place: ``prune`` removes ``work`` when the run
    succeeded (never after a failure: its finished records are what a rerun resumes from); ``keep`` keeps it.
    Returns True when ``work`` was removed."""
    if policy != "prune" or not succeeded:
        return False
    storage.delete_tree(str(work))
    return True
