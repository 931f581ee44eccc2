"""A folder of finished records, one small Parquet file per id: the resume cache and the memory valve.

Stages write each finished record here and pass only its id downstream, so Beam's in-memory buffers hold ids,
not images, and memory does not grow with the dataset. Each file carries the key of what its record was made
from (:mod:`pipelines.work_keys`) in its Parquet metadata: a rerun reuses a record only when its key matches,
so an edited input row, another model or other validators recompute exactly the records they change. Files
are written to a temporary name and renamed, so a kill never leaves half a record.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from synthesis.records import SFT_SCHEMA, SftRecord, to_table

__all__ = ["RecordStore"]

_KEY = b"thyme_work_key"


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

    def key(self, record_id: str) -> str | None:
        """The key the stored record ``record_id`` was made under, None when there is none."""
        try:
            metadata = pq.read_schema(self.path(record_id)).metadata or {}
        except (FileNotFoundError, pa.ArrowInvalid):
            return None
        return metadata.get(_KEY, b"").decode()

    def has(self, record_id: str, key: str) -> bool:
        """True when ``record_id`` was finished, by this or an earlier run, from the inputs ``key`` stands
        for."""
        return self.key(record_id) == key

    def put(self, record: SftRecord, key: str) -> str:
        """Store ``record`` atomically under ``key``; returns its id."""
        path = self.path(record.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        table = to_table([record.to_row()], SFT_SCHEMA)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _KEY: key.encode()})
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
        return record.id

    def table(self, record_id: str) -> pa.Table:
        """The stored record ``record_id`` as a one-row Arrow table (what shard writers concatenate)."""
        table = pq.ParquetFile(self.path(record_id)).read()
        metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != _KEY}
        return table.replace_schema_metadata(metadata)

    def row(self, record_id: str) -> dict:
        """The stored Parquet row of ``record_id``."""
        return self.table(record_id).to_pylist()[0]

    def get(self, record_id: str) -> SftRecord:
        """The stored record ``record_id``."""
        return SftRecord.from_row(self.row(record_id))
