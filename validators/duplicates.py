"""Duplicates: exact (image bytes + normalised question) and near (perceptual image hash + question + answer).

The near key carries the answer because a 9x8 grey thumbnail cannot tell a red square from a blue one, nor a
sign reading "OPEN" from one reading "EXIT" in a 3000-px scene: two records whose images look alike at that
scale, with the same question and different answers, differ exactly in what the task is about, so they are not
duplicates.

Keys are pure functions so a pipeline can group by them: :func:`exact_key` and :func:`near_key`, plus
:func:`near_keys`, the banded form of the near key (two hashes within ``max_distance`` bits share at least one
of ``max_distance + 1`` bands, so grouping by every band finds every near pair). A :class:`DuplicateIndex`
built from a reference set (records, or a folder of Parquet shards, e.g. an evaluation set) answers
``seen(record)``; :func:`dedupe` judges a group of records, keeping the smallest id of each duplicate set.

A run-wide dedupe works on :func:`fingerprint` values: :func:`dedupe_fingerprints` judges them all in one
place (the reference implementation); :func:`candidate_keys` and :func:`linked` let a pipeline find the same
duplicate sets by grouping instead (``pipelines.dedupe``), then judge each set with it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from synthesis.records import SftRecord
from validators.text import normalize_question, normalize_text
from validators.verdict import Verdict, fail, ok

__all__ = [
    "Duplicate",
    "DuplicateIndex",
    "band_keys",
    "candidate_keys",
    "dedupe",
    "dedupe_fingerprints",
    "dhash",
    "exact_key",
    "fingerprint",
    "hamming",
    "linked",
    "near_key",
    "near_keys",
    "split_near",
]

CHECK = "duplicates"


def dhash(image: bytes) -> int:
    """64-bit difference hash of an encoded image (grey 9x8 thumbnail, one bit per horizontal gradient).

    Example:
        >>> buf = io.BytesIO()
        >>> Image.linear_gradient("L").save(buf, "PNG")
        >>> f"{dhash(buf.getvalue()):016x}"
        '0000000000000000'
    """
    with Image.open(io.BytesIO(image)) as img:
        small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    """Number of differing bits.

    Example:
        >>> hamming(0b1011, 0b0001)
        2
    """
    return (a ^ b).bit_count()


def _question_hash(question: str) -> str:
    return hashlib.sha256(normalize_question(question).encode()).hexdigest()[:16]


def _task_hash(question: str, answer: str) -> str:
    """Hash of the normalised question and answer: the near key's text half."""
    return hashlib.sha256(f"{normalize_question(question)}\0{normalize_text(answer)}".encode()).hexdigest()[
        :16
    ]


def exact_key(record: SftRecord) -> str:
    """sha256 of the input image bytes + hash of the normalised question.

    Example:
        >>> r = SftRecord(
        ...     id="a",
        ...     images=(b"img",),
        ...     question="What is it?",
        ...     image_size=(1, 1),
        ...     response="",
        ...     answer="",
        ...     answer_type="text",
        ...     family="crop",
        ... )
        >>> exact_key(r) == exact_key(
        ...     SftRecord(
        ...         id="b",
        ...         images=(b"img",),
        ...         question="what is it",
        ...         image_size=(1, 1),
        ...         response="",
        ...         answer="",
        ...         answer_type="text",
        ...         family="crop",
        ...     )
        ... )
        True
    """
    return f"{hashlib.sha256(record.images[0]).hexdigest()}:{_question_hash(record.question)}"


def near_key(record: SftRecord) -> str:
    """The input image's dHash (16 hex digits) + hash of the normalised question and answer.

    Example:
        >>> buf = io.BytesIO()
        >>> Image.linear_gradient("L").save(buf, "PNG")
        >>> near_key(
        ...     SftRecord(
        ...         id="a",
        ...         images=(buf.getvalue(),),
        ...         question="Q?",
        ...         image_size=(256, 256),
        ...         response="",
        ...         answer="",
        ...         answer_type="text",
        ...         family="crop",
        ...     )
        ... )[:17]
        '0000000000000000:'
    """
    return f"{dhash(record.images[0]):016x}:{_task_hash(record.question, record.answer)}"


def near_keys(record: SftRecord, max_distance: int = 6) -> list[str]:
    """One key per band of the dHash (``max_distance + 1`` bands) + question and answer hash.

    Near pairs share at least one of these keys.

    Args:
        record (`SftRecord`): the record.
        max_distance (`int`, *optional*, defaults to `6`): the near-duplicate Hamming threshold.

    Example:
        >>> buf = io.BytesIO()
        >>> Image.linear_gradient("L").save(buf, "PNG")
        >>> len(
        ...     near_keys(
        ...         SftRecord(
        ...             id="a",
        ...             images=(buf.getvalue(),),
        ...             question="Q?",
        ...             image_size=(256, 256),
        ...             response="",
        ...             answer="",
        ...             answer_type="text",
        ...             family="crop",
        ...         ),
        ...         6,
        ...     )
        ... )
        7
    """
    return band_keys(dhash(record.images[0]), _task_hash(record.question, record.answer), max_distance)


def band_keys(value: int, task: str, max_distance: int = 6) -> list[str]:
    """The keys of :func:`near_keys` from a dHash ``value`` and a question and answer hash ``task``.

    The 64 bits are cut into ``max_distance + 1`` contiguous bands: two hashes that differ in at most
    ``max_distance`` bits cannot differ in every band (pigeonhole), so they share the key of at least one.

    Example:
        >>> band_keys(0xFF, "q", 1)
        ['0:ff:q', '1:0:q']
    """
    bands = max_distance + 1
    edges = [round(64 * i / bands) for i in range(bands + 1)]
    return [
        f"{i}:{(value >> lo) & ((1 << (hi - lo)) - 1):x}:{task}"
        for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))
    ]


class DuplicateIndex:
    """Exact and near keys of a reference set; ``seen(record)`` judges a record against it.

    Args:
        max_distance (`int`, *optional*, defaults to `6`): largest Hamming distance that counts as near.

    Example:
        >>> index = DuplicateIndex()
        >>> buf = io.BytesIO()
        >>> Image.linear_gradient("L").save(buf, "PNG")
        >>> r = SftRecord(
        ...     id="a",
        ...     images=(buf.getvalue(),),
        ...     question="Q?",
        ...     image_size=(256, 256),
        ...     response="",
        ...     answer="",
        ...     answer_type="text",
        ...     family="crop",
        ... )
        >>> index.add(r)
        >>> index.seen(r).reason
        'duplicates_exact'
    """

    def __init__(self, max_distance: int = 6) -> None:
        self.max_distance = max_distance
        self._exact: dict[str, str] = {}
        self._near: dict[str, list[tuple[int, str]]] = {}

    def __len__(self) -> int:
        return len(self._exact)

    def add(self, record: SftRecord) -> None:
        """Add a record's keys (first id wins for reporting)."""
        self.add_keys(
            record.id, exact_key(record), dhash(record.images[0]), _task_hash(record.question, record.answer)
        )

    def seen(self, record: SftRecord) -> Verdict:
        """``duplicates_exact`` / ``duplicates_near`` when the reference holds this record, else passed."""
        task = _task_hash(record.question, record.answer)
        return self.match(exact_key(record), dhash(record.images[0]), task) or ok(CHECK)

    def match(self, key: str, value: int, question: str, label: str = "") -> Verdict | None:
        """The failing verdict for precomputed keys, or None.

        The keys: the exact key, the image dHash, and the question and answer hash.
        """
        other = self._exact.get(key)
        if other is not None:
            return fail(CHECK, "exact", f"same image and question as {label}{other}")
        for ref, ref_id in self._near.get(question, ()):
            if hamming(value, ref) <= self.max_distance:
                detail = (
                    f"image within {hamming(value, ref)} bits of {label}{ref_id}, same question and answer"
                )
                return fail(CHECK, "near", detail)
        return None

    def add_keys(self, record_id: str, key: str, value: int, question: str) -> None:
        """Add precomputed keys (first id wins for reporting)."""
        self._exact.setdefault(key, record_id)
        self._near.setdefault(question, []).append((value, record_id))

    @classmethod
    def from_records(cls, records: Iterable[SftRecord], max_distance: int = 6) -> DuplicateIndex:
        """An index of ``records``."""
        index = cls(max_distance)
        for record in records:
            index.add(record)
        return index

    @classmethod
    def from_parquet(cls, folder: str | Path, max_distance: int = 6) -> DuplicateIndex:
        """An index of every row of the ``*.parquet`` files under ``folder`` (a local folder or an
        object-store prefix, ``runconfig.storage``).

        Reads SFT shards (an ``images`` column) or RL shards (an ``image`` column).
        """
        import pyarrow.parquet as pq

        from runconfig import storage

        index = cls(max_distance)
        for name in storage.list_tree(str(folder), ".parquet"):
            table = pq.read_table(storage.open_input(storage.join(str(folder), name)))
            image_col = "images" if "images" in table.column_names else "image"
            for row in table.select(["id", "question", "answer", image_col]).to_pylist():
                image = row[image_col][0] if image_col == "images" else row[image_col]
                index.add(
                    SftRecord(
                        id=row["id"],
                        images=(image["bytes"],),
                        question=row["question"],
                        image_size=(0, 0),
                        response="",
                        answer=row["answer"],
                        answer_type="text",
                        family="",
                    )
                )
        return index


def dedupe(records: Iterable[SftRecord], max_distance: int = 6) -> dict[str, Verdict]:
    """Judge a group of records against each other: the smallest id of each duplicate set passes.

    Args:
        records (`Iterable[SftRecord]`): e.g. one group of records sharing a key.
        max_distance (`int`, *optional*, defaults to `6`): the near-duplicate threshold.

    Returns:
        record id -> verdict.
    """
    index, verdicts = DuplicateIndex(max_distance), {}
    for record in sorted(records, key=lambda r: r.id):
        verdicts[record.id] = index.seen(record)
        if verdicts[record.id].passed:
            index.add(record)
    return verdicts


def fingerprint(record: SftRecord) -> tuple[str, str, str]:
    """``(id, exact key, near key)``: all a run-wide dedupe needs, a few dozen bytes per record.

    Example:
        >>> buf = io.BytesIO()
        >>> Image.linear_gradient("L").save(buf, "PNG")
        >>> fingerprint(
        ...     SftRecord(
        ...         id="a",
        ...         images=(buf.getvalue(),),
        ...         question="Q?",
        ...         image_size=(256, 256),
        ...         response="",
        ...         answer="",
        ...         answer_type="text",
        ...         family="crop",
        ...     )
        ... )[2][:17]
        '0000000000000000:'
    """
    return record.id, exact_key(record), near_key(record)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Why a record of a run is dropped: its verdict, and whether it repeats the reference set or the run."""

    verdict: Verdict
    of_reference: bool


def dedupe_fingerprints(
    fingerprints: Iterable[tuple[str, str, str]],
    max_distance: int = 6,
    reference: DuplicateIndex | None = None,
) -> dict[str, Duplicate]:
    """The duplicates of a whole run: of a reference set first, then of a smaller id in the run.

    Records are visited in id order, so of each set of duplicates the smallest id is kept, whatever the order
    the runner delivered them in.

    Args:
        fingerprints (`Iterable[tuple[str, str, str]]`): :func:`fingerprint` of every record.
        max_distance (`int`, *optional*, defaults to `6`): the near-duplicate Hamming threshold.
        reference (`DuplicateIndex`, *optional*): e.g. an evaluation set to keep out of training data.

    Example:
        >>> fps = [
        ...     ("b", "k1", "0000000000000000:q"),
        ...     ("a", "k1", "0000000000000000:q"),
        ...     ("c", "k2", "ffffffffffffffff:q"),
        ... ]
        >>> {k: (d.verdict.reason, d.of_reference) for k, d in dedupe_fingerprints(fps).items()}
        {'b': ('duplicates_exact', False)}
    """
    run, failed = DuplicateIndex(max_distance), {}
    for rid, key, near_id in sorted(fingerprints):
        value, question = int(near_id.split(":", 1)[0], 16), near_id.split(":", 1)[1]
        seen = reference.match(key, value, question, "reference ") if reference is not None else None
        if seen is not None:
            failed[rid] = Duplicate(seen, of_reference=True)
        elif (twin := run.match(key, value, question)) is not None:
            failed[rid] = Duplicate(twin, of_reference=False)
        else:
            run.add_keys(rid, key, value, question)
    return failed


def split_near(near: str) -> tuple[int, str]:
    """A fingerprint's near key as ``(dHash, question and answer hash)``.

    Example:
        >>> split_near("00000000000000ff:q1")
        (255, 'q1')
    """
    value, task = near.split(":", 1)
    return int(value, 16), task


def candidate_keys(fp: tuple[str, str, str], max_distance: int = 6) -> list[tuple[str, int]]:
    """Every key under which the :func:`fingerprint` ``fp`` meets each possible twin, with the value that
    :func:`linked` compares there: its exact key (value 0: all that meet there are twins), and the
    :func:`band_keys` of its near key (value: the dHash).

    Example:
        >>> candidate_keys(("a", "k1", "00000000000000ff:q"), 1)
        [('exact:k1', 0), ('near:0:ff:q', 255), ('near:1:0:q', 255)]
    """
    value, task = split_near(fp[2])
    return [(f"exact:{fp[1]}", 0), *((f"near:{k}", value) for k in band_keys(value, task, max_distance))]


def linked(members: Iterable[tuple[str, int]], max_distance: int = 6) -> list[tuple[str, str]]:
    """Links between the ``(id, value)`` of :func:`candidate_keys` that met under one key: enough id pairs to
    connect every set of twins among them (values within ``max_distance`` bits: under an exact key all are;
    under a band key, the images are near), each as ``(smallest id of its set, other id)``.

    Example:
        >>> [*linked([("c", 3), ("a", 0), ("b", 0xF0)], 2)]
        [('a', 'c')]
    """
    ordered = sorted(set(members))
    if len(ordered) < 2:
        return []
    parent = list(range(len(ordered)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(ordered)):
        for j in range(i):
            if hamming(ordered[i][1], ordered[j][1]) <= max_distance:
                a, b = root(i), root(j)  # a set's root stays its smallest position, so its smallest id
                parent[max(a, b)] = min(a, b)
    return [(ordered[root(i)][0], member[0]) for i, member in enumerate(ordered) if root(i) != i]
