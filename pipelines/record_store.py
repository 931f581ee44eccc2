"""A folder of finished records, one small Parquet file per id: the resume cache and the memory valve.

Stages write each finished record here and pass only its id downstream, so Beam's in-memory buffers hold ids,
not images, and memory does not grow with the dataset. A rerun with the same config finds the records of a
killed run and skips their work; files are written to a temporary name and renamed, so a kill never leaves
half a record. The folder is keyed by the hash of the config that produced its records, so runs with
different configs never mix.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthesis.records import SFT_SCHEMA, SftRecord, to_table

__all__ = ["RecordStore"]


class RecordStore:
    """Records by id under ``folder`` (fanned out into 256 subfolders to keep directories small).

    Args:
        folder (`str | Path`): where the records live.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, record_id: str) -> Path:
        """Where the record ``record_id`` lives."""
        fan = hashlib.sha256(record_id.encode()).hexdigest()[:2]
        return self.folder / fan / f"{record_id}.parquet"

    def has(self, record_id: str) -> bool:
        """True when the record was finished by this or an earlier run."""
        return self.path(record_id).exists()

    def put(self, record: SftRecord) -> str:
        """Store ``record`` atomically; returns its id."""
        path = self.path(record.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        pq.write_table(to_table([record.to_row()], SFT_SCHEMA), tmp, compression="zstd")
        os.replace(tmp, path)
        return record.id

    def table(self, record_id: str) -> pa.Table:
        """The stored record ``record_id`` as a one-row Arrow table (what shard writers concatenate)."""
        return pq.ParquetFile(self.path(record_id)).read()

    def row(self, record_id: str) -> dict:
        """The stored Parquet row of ``record_id``."""
        return self.table(record_id).to_pylist()[0]

    def get(self, record_id: str) -> SftRecord:
        """The stored record ``record_id``."""
        return SftRecord.from_row(self.row(record_id))
