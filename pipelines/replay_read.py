"""A finished build_sft run read back for a replay: its dead letters, routed to where they re-enter, and its
accepted records, as the store must hold them for the merged shards.

Thin DoFns behind the transforms :mod:`pipelines.replay` composes; where a letter re-enters is decided by
:mod:`pipelines.replay_entries`, and what it meets there is build_sft's own code.
"""

from __future__ import annotations

from dataclasses import replace

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam import pvalue

from pipelines.config import SourcesConfig
from pipelines.record_store import RecordStore
from pipelines.replay_entries import ENTRIES, Selection, entry_of, record_row, stays
from pipelines.sft import _ImportThyme, _TaskFromRow
from pipelines.stages import REJECTED, RunStage
from pipelines.stats import counter
from pipelines.work_keys import digest
from sandbox import SandboxConfig
from synthesis.records import DeadLetter, SftRecord

__all__ = [
    "RESTORED_KEY",
    "ImportThymeRows",
    "KeepAccepted",
    "ReadTaskRows",
    "RecordsFromStore",
    "RouteDeadLetters",
]

RESTORED_KEY = "restored-from-shards"
"""Work key of an accepted record put back into the store from the run's shards (later builds re-check it)."""


class _Route(beam.DoFn):
    def __init__(self, selection: Selection, sources: SourcesConfig):
        self._selection, self._sources = selection, sources

    def process(self, path: str):
        for row in _one_row_tables(path):
            row = row.to_pylist()[0]
            if not self._selection.matches(row["stage"], row["reason"]):
                yield row
                continue
            entry, value = entry_of(DeadLetter.from_row(row), self._sources)
            yield pvalue.TaggedOutput(entry, value)


class RouteDeadLetters(beam.PTransform):
    """Dead-letter shard paths -> the rows of letters not selected, as they are (``kept``), and the selected
    letters under the entry where they re-enter (one output per :data:`~pipelines.replay_entries.ENTRIES`, and
    ``dead`` for letters that cannot). Shards are read a row at a time."""

    def __init__(self, selection: Selection, sources: SourcesConfig):
        super().__init__()
        self._dofn = _Route(selection, sources)

    def expand(self, paths):
        return paths | "Route" >> beam.ParDo(self._dofn).with_outputs("dead", *ENTRIES, main="kept")


class _KeepAccepted(beam.DoFn):
    def __init__(self, store: RecordStore):
        self._store = store

    def process(self, path: str):
        for row in _one_row_tables(path):
            record_id = row.column("id")[0].as_py()
            if not self._holds(record_id, row):
                self._store.put(SftRecord.from_row(row.to_pylist()[0]), RESTORED_KEY)
                counter("replay_restored").inc()
                if not self._holds(record_id, row):
                    raise RuntimeError(f"{record_id}: the store does not give back the row of {path}")
            yield record_id

    def _holds(self, record_id: str, row: pa.Table) -> bool:
        try:
            return self._store.table(record_id).equals(row)
        except (FileNotFoundError, pa.ArrowInvalid):
            return False


class KeepAccepted(beam.PTransform):
    """Data shard paths -> the ids of the run's accepted records. The merged shards load every record from
    the store, as a clean run's do, so each must be there exactly as its shard holds it; where the store lost
    it or holds another version (``work/`` cleaned, a later run's record), the shard's row is put back."""

    def __init__(self, store: RecordStore):
        super().__init__()
        self._dofn = _KeepAccepted(store)

    def expand(self, paths):
        return paths | "Keep" >> beam.ParDo(self._dofn)


class _FromStore(beam.DoFn):
    def __init__(self, store: RecordStore, draft: bool):
        self._store, self._draft = store, draft

    def process(self, letter: DeadLetter):
        if self._store.key(letter.id) is not None:  # stored, and its shared images still hold
            yield letter.id
            return
        row = record_row(letter.payload)
        if row is None:
            why = f"{self._store.folder} holds no record {letter.id} and its dead letter carries none"
            yield pvalue.TaggedOutput(REJECTED, stays(letter, "replay_record_missing", why))
            return
        record = SftRecord.from_row(row)
        yield self._store.put(replace(record, checks=()) if self._draft else record, digest("replayed", row))


class RecordsFromStore(beam.PTransform):
    """Validate (dedupe) letters -> ids of their records in the run's store: the draft (accepted record) a
    clean run reads; where the store lost it, the record the letter carries is put there (a draft: no checks).
    Returns ``(ids, dead_letters)``; a letter with neither keeps its stage under ``replay_record_missing``.

    Args:
        stage (`str`): ``validate`` (drafts) or ``dedupe`` (accepted records).
        store (`RecordStore`): the run's ``work/trajectories`` or ``work/accepted``.
    """

    def __init__(self, stage: str, store: RecordStore):
        super().__init__()
        self._stage, self._dofn = stage, _FromStore(store, draft=stage == "validate")

    def expand(self, letters):
        return letters | "FromStore" >> RunStage(self._stage, self._dofn)


class _TaskRow(_TaskFromRow):
    def process(self, item: dict):
        yield from self.row(item)


class _ThymeRow(_ImportThyme):
    def process(self, item: dict):
        yield from self.row(item)


class ReadTaskRows(beam.PTransform):
    """Task-file rows a dead letter carries (``{"id", "path", "index", "raw"}``) -> tasks (and dead letters):
    build_sft's import of a row, fed the row itself instead of its file's slice."""

    def expand(self, rows):
        return rows | "ToTask" >> RunStage("import", _TaskRow())


class ImportThymeRows(beam.PTransform):
    """Released Thyme rows a dead letter carries -> ids of stored drafts (and dead letters): build_sft's
    import of a row (re-run in the sandbox), fed the row itself."""

    def __init__(self, sandbox_cfg: SandboxConfig, store: RecordStore):
        super().__init__()
        self._dofn = _ThymeRow(sandbox_cfg, store)

    def expand(self, rows):
        return rows | "Import" >> RunStage("import", self._dofn)


def _one_row_tables(path: str):
    """The rows of a Parquet file as one-row tables, one row group in memory at a time."""
    shard = pq.ParquetFile(path)
    for group in range(shard.num_row_groups):
        table = shard.read_row_group(group)
        for offset in range(table.num_rows):
            yield table.slice(offset, 1)
