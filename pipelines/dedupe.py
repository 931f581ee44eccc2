"""Run-wide duplicates without one gathering point: candidates meet under keys, decisions are made per
duplicate set and merged per record.

The rule is :func:`validators.duplicates.dedupe_fingerprints`'s, visited in id order: a record that repeats
the reference set is dropped; otherwise it is dropped when it repeats a smaller id of the run that was kept
itself (so of a chain a~b~c where a and c differ, a and c are kept). A record's fate therefore depends only on
the records it is linked to through the duplicate relation, so the run is cut into those linked sets:

1. each record's fingerprint is checked against the reference set, loaded once per worker process;
2. ``(id, dHash)`` pairs meet under the record's exact key and under each band of its near key
   (:func:`~validators.duplicates.candidate_keys`: a pair within ``max_distance`` bits agrees on one of
   ``max_distance + 1`` bands), and each group that met links its twins
   (:func:`~validators.duplicates.linked`);
3. the linked sets are found by passing the smallest id along the links for a few rounds; the rare set that
   is still not settled (a chain longer than the rounds) is joined from the labels that disagree;
4. each set is judged by ``dedupe_fingerprints`` in one element (its records fingerprinted again); each
   record's verdict meets it under its id.

Only linked records take part in 3 and 4, and an element holds one group or one set, never the run.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from functools import partial

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.utils import shared

from pipelines.record_store import RecordStore
from pipelines.stages import RunStage, reject
from validators.config import DuplicatesCheckConfig
from validators.duplicates import (
    DuplicateIndex,
    candidate_keys,
    dedupe_fingerprints,
    fingerprint,
    linked,
    split_near,
)

__all__ = ["ROUNDS", "Deduplicate", "FindInRun", "LinkedSets", "stored_print"]

ROUNDS = 3
"""Rounds of passing the smallest id along links before the few sets still unsettled are joined centrally."""

_UNSETTLED = "unsettled"


class _Reference:
    """The reference index (or None), built once per process: ``shared.Shared`` holds objects, never None."""

    def __init__(self, cfg: DuplicatesCheckConfig):
        self.index = DuplicateIndex.from_parquet(cfg.reference, cfg.max_distance) if cfg.reference else None


class _Fingerprint(beam.DoFn):
    """id -> ``(id, fingerprint, verdict of the reference set or None)``."""

    def __init__(self, cfg: DuplicatesCheckConfig, store: RecordStore):
        self._cfg, self._store = cfg, store
        self._shared, self._tag = shared.Shared(), uuid.uuid4().hex
        self._held: _Reference | None = None  # held, so the process's other instances find it built
        self._reference: DuplicateIndex | None = None

    def setup(self):
        self._held = self._shared.acquire(lambda: _Reference(self._cfg), tag=self._tag)
        self._reference = self._held.index

    def process(self, record_id: str):
        fp = fingerprint(self._store.get(record_id))
        seen = None
        if self._reference is not None:
            value, task = split_near(fp[2])
            seen = self._reference.match(fp[1], value, task, "reference ")
        yield record_id, fp, seen


class _DropDuplicates(beam.DoFn):
    def __init__(self, store: RecordStore):
        self._store = store

    def process(self, judged: tuple):
        record_id, verdict = judged
        if verdict is None:
            yield record_id
            return
        yield reject(record_id, "dedupe", verdict.reason, verdict.detail, self._store.row(record_id))


def _one_verdict(grouped: tuple) -> tuple:
    """``(id, verdict or None)``: a record of the reference set takes no part in the run's sets, so it has at
    most one verdict."""
    return grouped[0], next(iter(grouped[1]["found"]), None)


def _adjacent(link: tuple[str, str]) -> list[tuple[str, str]]:
    return [link, (link[1], link[0])]


def _node(grouped: tuple) -> tuple:
    """``(id, (label, neighbours))``, labelled with the smallest id of its closed neighbourhood."""
    node, neighbours = grouped[0], tuple(sorted(set(grouped[1])))
    return node, (min(node, *neighbours), neighbours)


def _send(state: tuple):
    node, (label, neighbours) = state
    yield node, (label, neighbours)
    for other in neighbours:
        yield other, label


def _split(messages) -> tuple[tuple, list[str]]:
    state, labels = None, []
    for message in messages:
        if isinstance(message, tuple):
            state = message
        else:
            labels.append(message)
    assert state is not None, "every node sends itself its state"
    return state, labels


def _receive(grouped: tuple) -> tuple:
    (label, neighbours), labels = _split(grouped[1])
    return grouped[0], (min(label, *labels), neighbours)


def _settle(grouped: tuple):
    """``(label, id)``; and, tagged, each pair of labels that met across a link (not yet settled)."""
    (label, _), labels = _split(grouped[1])
    yield label, grouped[0]
    for other in sorted(set(labels) - {label}):
        yield pvalue.TaggedOutput(_UNSETTLED, (label, other))


def _roots(pairs: list) -> dict[str, str]:
    """Label -> the smallest label joined to it through ``pairs`` (a union-find; empty when all settled)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {label: root(label) for label in parent}


class LinkedSets(beam.PTransform):
    """Links ``(id, id)`` -> ``(set label, id)`` for every linked id, the label being the smallest id of its
    linked set.

    Args:
        rounds (`int`, *optional*, defaults to `ROUNDS`): rounds of label passing; longer chains are joined
            from the labels that still disagree (one small collection, empty when every set settled).
    """

    def __init__(self, rounds: int = ROUNDS):
        super().__init__()
        self._rounds = rounds

    def expand(self, links):
        state = (
            links
            | "BothEnds" >> beam.FlatMap(_adjacent)
            | "ByNode" >> beam.GroupByKey()
            | "Nodes" >> beam.Map(_node)
        )
        for r in range(self._rounds):
            state = (
                state
                | f"Send{r}" >> beam.FlatMap(_send)
                | f"Meet{r}" >> beam.GroupByKey()
                | f"Smallest{r}" >> beam.Map(_receive)
            )
        settled = (
            state
            | "SendLast" >> beam.FlatMap(_send)
            | "MeetLast" >> beam.GroupByKey()
            | "Settle" >> beam.ParDo(_settle).with_outputs(_UNSETTLED, main="labelled")
        )
        roots = (
            settled[_UNSETTLED] | "Unsettled" >> beam.combiners.ToList() | "JoinUnsettled" >> beam.Map(_roots)
        )
        return settled.labelled | "Relabel" >> beam.Map(
            lambda item, roots: (roots.get(item[0], item[0]), item[1]), roots=pvalue.AsSingleton(roots)
        )


def _meeting_points(fp: tuple[str, str, str], max_distance: int) -> list[tuple[bytes, tuple[str, int]]]:
    """``(key, (id, value))`` per :func:`candidate_keys` key, the key shortened to 8 bytes: a collision only
    puts two sets into one, which the judging of that set undoes (it recomputes the duplicate relation)."""
    return [
        (hashlib.blake2b(key.encode(), digest_size=8).digest(), (fp[0], value))
        for key, value in candidate_keys(fp, max_distance)
    ]


def _judge_set(grouped: tuple, prints_of: Callable[[str], tuple[str, str, str]], max_distance: int):
    prints = [prints_of(record_id) for record_id in grouped[1]]
    for record_id, duplicate in dedupe_fingerprints(prints, max_distance).items():
        yield record_id, duplicate.verdict


def stored_print(store: RecordStore, record_id: str) -> tuple[str, str, str]:
    """The :func:`~validators.duplicates.fingerprint` of the stored record ``record_id``."""
    return fingerprint(store.get(record_id))


class FindInRun(beam.PTransform):
    """Fingerprints -> ``(id, verdict)`` of each duplicate of a smaller id of the run that was kept itself.

    Only ids and dHashes travel; the few records that turn out linked are fingerprinted again by
    ``prints_of`` when their set is judged.

    Args:
        max_distance (`int`): the near-duplicate Hamming threshold.
        prints_of (`Callable[[str], tuple]`): id -> its fingerprint (e.g. ``partial(stored_print, store)``).
        rounds (`int`, *optional*, defaults to `ROUNDS`): rounds of :class:`LinkedSets`.
    """

    def __init__(
        self, max_distance: int, prints_of: Callable[[str], tuple[str, str, str]], rounds: int = ROUNDS
    ):
        super().__init__()
        self._distance, self._prints_of, self._rounds = max_distance, prints_of, rounds

    def expand(self, prints):
        distance = self._distance
        return (
            prints
            | "CandidateKeys" >> beam.FlatMap(_meeting_points, distance)
            | "MeetByKey" >> beam.GroupByKey()
            | "Link" >> beam.FlatMap(lambda group: linked(group[1], distance))
            | "LinkedSets" >> LinkedSets(self._rounds)
            | "BySet" >> beam.GroupByKey()
            | "JudgeSet" >> beam.FlatMap(_judge_set, self._prints_of, distance)
        )


class Deduplicate(beam.PTransform):
    """Accepted ids -> ids without duplicates (exact and near, within the run and against a reference set),
    and the dead letters of the duplicates.

    Of each duplicate set the smallest id survives, whatever order the runner used; the verdicts are those of
    :func:`~validators.duplicates.dedupe_fingerprints` over the whole run, found without gathering the run.

    Args:
        cfg (`DuplicatesCheckConfig`): distance, reference set, whether duplicates within the run count.
        store (`RecordStore`): the accepted records (read for fingerprints and dead-letter payloads).
    """

    def __init__(self, cfg: DuplicatesCheckConfig, store: RecordStore):
        super().__init__()
        self._cfg, self._store = cfg, store

    def expand(self, ids):
        prints, dead_prints = ids | "Fingerprint" >> RunStage("dedupe", _Fingerprint(self._cfg, self._store))
        found = prints | "OfReference" >> beam.FlatMap(lambda p: [(p[0], p[2])] if p[2] is not None else [])
        if self._cfg.within_run:
            in_run = (
                prints
                | "NotOfReference" >> beam.FlatMap(lambda p: [p[1]] if p[2] is None else [])
                | "FindInRun" >> FindInRun(self._cfg.max_distance, partial(stored_print, self._store))
            )
            found = (found, in_run) | "AllFound" >> beam.Flatten()
        judged = (
            {"id": prints | "KeyById" >> beam.Map(lambda p: (p[0], None)), "found": found}
            | "PerRecord" >> beam.CoGroupByKey()
            | "Verdict" >> beam.Map(_one_verdict)
        )
        kept, dead = judged | "Drop" >> RunStage("dedupe", _DropDuplicates(self._store))
        return kept, (dead_prints, dead) | "AllDuplicates" >> beam.Flatten()
