"""The keyed run-wide dedupe gives exactly the verdicts of the all-in-one reference algorithm
(``dedupe_fingerprints``): on random fingerprints full of exact twins, near twins and chains, and on a store
of planted records (with a reference set), where the kept ids and dead letters must match the old
transform's."""

import io
import random
from itertools import combinations

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from pipelines.dedupe import Deduplicate, FindInRun, LinkedSets
from pipelines.record_store import RecordStore
from synthesis.records import SFT_SCHEMA, SftRecord, to_table
from validators.config import DuplicatesCheckConfig
from validators.duplicates import (
    DuplicateIndex,
    band_keys,
    candidate_keys,
    dedupe_fingerprints,
    dhash,
    fingerprint,
    hamming,
    linked,
)


def _flip(value: int, rng: random.Random, bits: int) -> int:
    for bit in rng.sample(range(64), bits):
        value ^= 1 << bit
    return value


def _random_prints(rng: random.Random, count: int, distance: int) -> list[tuple[str, str, str]]:
    """Fingerprints with many exact twins, near twins (including chains that drift away) and look-alikes with
    other questions, under shuffled ids."""
    prints: list[tuple[str, str, str]] = []
    ids = rng.sample(range(10 * count), count)
    while len(prints) < count:
        rid = f"r{ids[len(prints)]:05d}"
        roll = rng.random()
        if prints and roll < 0.25:  # an exact twin (its near key may differ: another answer)
            other = rng.choice(prints)
            near = other[2] if rng.random() < 0.7 else f"{other[2][:16]}:t{rng.randrange(3)}"
            prints.append((rid, other[1], near))
        elif prints and roll < 0.7:  # a near twin, or a link of a chain, or just beyond the distance
            other = rng.choice(prints)
            value = _flip(int(other[2][:16], 16), rng, rng.choice([1, distance, distance, distance + 1]))
            task = other[2][17:] if rng.random() < 0.85 else f"t{rng.randrange(3)}"
            prints.append((rid, f"k{rng.randrange(10**6)}", f"{value:016x}:{task}"))
        else:
            value = rng.getrandbits(64)
            prints.append((rid, f"k{rng.randrange(10**6)}", f"{value:016x}:t{rng.randrange(3)}"))
    return prints


def _expected(prints, distance: int) -> dict[str, str]:
    return {
        k: f"{d.verdict.reason}|{d.verdict.detail}" for k, d in dedupe_fingerprints(prints, distance).items()
    }


def _sets(links) -> dict[str, str]:
    """id -> smallest id of its linked set (a plain union-find: the test's own account of what Beam finds)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in links:
        ra, rb = root(a), root(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}


@pytest.mark.parametrize("distance", [0, 2, 6, 12])
def test_bands_catch_every_pair_within_the_distance(distance):
    # The proof: the bands cut the 64 bits into max_distance + 1 non-empty parts, so max_distance flipped bits
    # leave at least one part (and its key) intact.
    keys = band_keys(0, "q", distance)
    assert len(keys) == distance + 1
    owners = [
        [i for i, k in enumerate(band_keys(1 << bit, "q", distance)) if k != keys[i]] for bit in range(64)
    ]
    assert all(len(o) == 1 for o in owners) and {o[0] for o in owners} == set(range(distance + 1))
    # And by sampling, worst cases included: one flipped bit in each of max_distance different bands.
    rng = random.Random(distance)
    for _ in range(3000):
        value = rng.getrandbits(64)
        other = _flip(value, rng, rng.randint(0, distance))
        assert hamming(value, other) <= distance
        assert set(band_keys(value, "q", distance)) & set(band_keys(other, "q", distance))
    for skip in range(distance + 1):
        bands = [o[0] for o in owners]
        other = 0
        for band in range(distance + 1):
            if band != skip:
                other |= 1 << bands.index(band)
        assert set(band_keys(0, "q", distance)) & set(band_keys(other, "q", distance))


def test_keyed_sets_give_the_reference_verdicts_on_random_fingerprints():
    rng = random.Random(18)
    for trial in range(150):
        distance = rng.choice([0, 3, 6])
        prints = _random_prints(rng, rng.randint(2, 60), distance)
        groups: dict[str, list] = {}
        for fp in prints:
            for key, value in candidate_keys(fp, distance):
                groups.setdefault(key, []).append((fp[0], value))
        sets = _sets(link for group in groups.values() for link in linked(group, distance))
        members: dict[str, list] = {}
        for fp in prints:
            if fp[0] in sets:
                members.setdefault(sets[fp[0]], []).append(fp)
        verdicts = {}
        for group in members.values():
            verdicts.update(_expected(group, distance))
        assert verdicts == _expected(prints, distance), f"trial {trial}"
        # every twin pair shares a set
        for a, b in combinations(prints, 2):
            twins = a[1] == b[1] or (
                a[2][17:] == b[2][17:] and hamming(int(a[2][:16], 16), int(b[2][:16], 16)) <= distance
            )
            assert not twins or sets[a[0]] == sets[b[0]]


def test_a_chain_keeps_its_ends():
    prints = [
        ("a", "ka", "0000000000000000:q"),
        ("b", "kb", "000000000000003f:q"),
        ("c", "kc", "0000000000000fff:q"),
    ]
    assert set(_expected(prints, 6)) == {"b"}  # a~b, b~c, a and c 12 bits apart: c's only twin is dropped


def _run_find(prints, distance: int, rounds: int) -> None:
    by_id = {fp[0]: fp for fp in prints}
    with TestPipeline(runner="FnApiRunner") as p:
        found = (
            p
            | beam.Create(prints)
            | FindInRun(distance, by_id.__getitem__, rounds)
            | beam.MapTuple(lambda rid, v: (rid, f"{v.reason}|{v.detail}"))
        )
        assert_that(found, equal_to(sorted(_expected(prints, distance).items())))


@pytest.mark.parametrize("rounds", [0, 1, 3])
def test_beam_finds_the_reference_verdicts(rounds):
    rng = random.Random(rounds)
    prints = _random_prints(rng, 300, 6)
    # and a long chain of near twins, one bit apart, longer than any number of rounds
    value = rng.getrandbits(64)
    for i in range(20):
        value ^= 1 << (i % 64)
        prints.append((f"chain{i:02d}", f"kc{i}", f"{value:016x}:chain"))
    _run_find(prints, 6, rounds)


def test_linked_sets_label_by_smallest_id_even_when_unsettled():
    chain = [f"n{i:02d}" for i in range(12)]
    links = list(zip(chain[1:], chain, strict=False))
    with TestPipeline(runner="FnApiRunner") as p:
        labelled = p | beam.Create(links) | LinkedSets(rounds=1) | beam.MapTuple(lambda label, i: (i, label))
        assert_that(labelled, equal_to([(i, "n00") for i in chain]))


# A store of planted records: the old transform's verdicts are ``dedupe_fingerprints`` over every fingerprint.


def _hashed_png(value: int, start: int = 100) -> bytes:
    """A 9x8 grey image whose dHash is ``value`` (each row's pixels rise where the bit is set)."""
    rows = []
    for r in range(8):
        bits = [(value >> (63 - (8 * r + c))) & 1 for c in range(8)]
        row = [start]
        for bit in bits:
            row.append(row[-1] + 10 if bit else row[-1] - 10)
        rows.append(row)
    buf = io.BytesIO()
    Image.fromarray(np.array(rows, np.uint8), "L").save(buf, "PNG")
    return buf.getvalue()


def _record(rid: str, image: bytes, question: str = "How many?", answer: str = "3") -> SftRecord:
    return SftRecord(
        id=rid,
        images=(image, b"derived"),
        question=question,
        image_size=(9, 8),
        response="r",
        answer=answer,
        answer_type="number",
        family="compute",
    )


def _planted(tmp_path) -> tuple[RecordStore, list[str], str]:
    rng = random.Random(7)
    store = RecordStore(tmp_path / "accepted")
    base, evaluated = [rng.getrandbits(64) for _ in range(6)], rng.getrandbits(64)
    records = [_record(f"u{i}", _hashed_png(v), answer=str(i)) for i, v in enumerate(base)]
    chain = base[0]
    records += [
        _record("u0-exact", _hashed_png(base[0]), answer="0"),  # exact twin of u0 (same bytes and question)
        _record("u1-exact-other-answer", _hashed_png(base[1]), answer="other"),  # exact key, other answer
        _record("u1-near", _hashed_png(_flip(base[1], rng, 4)), answer="1"),
        _record("u2-far", _hashed_png(_flip(base[2], rng, 7)), answer="2"),  # 7 bits: not near
        _record("u3-look-alike", _hashed_png(base[3], 101), answer="not 3"),  # same dHash, other answer
        _record("z-ref", _hashed_png(_flip(evaluated, rng, 2)), answer="5"),
    ]
    for name, bits in (("c1", 0x3F), ("c2", 0xFFF), ("c3", 0x3FFFF)):  # a chain: c1 ~ u0 and c2, u0 !~ c2
        records.append(_record(f"u0-{name}", _hashed_png(chain ^ bits), answer="0"))
    for record in records:
        store.put(record, "k")
    reference = tmp_path / "eval"
    reference.mkdir()
    pq.write_table(
        to_table([_record("eval-1", _hashed_png(evaluated), answer="5").to_row()], SFT_SCHEMA),
        reference / "e.parquet",
    )
    return store, [r.id for r in records], str(reference)


@pytest.mark.parametrize("within_run", [True, False])
@pytest.mark.parametrize("with_reference", [True, False])
def test_planted_duplicates_give_the_old_kept_ids_and_dead_letters(tmp_path, within_run, with_reference):
    store, ids, reference = _planted(tmp_path)
    cfg = DuplicatesCheckConfig(within_run=within_run, reference=reference if with_reference else "")
    index = DuplicateIndex.from_parquet(reference, 6) if with_reference else None
    prints = [fingerprint(store.get(i)) for i in ids]
    assert hamming(dhash(store.get("u0").images[0]), dhash(store.get("u0-c2").images[0])) > 6
    old = {
        k: d.verdict for k, d in dedupe_fingerprints(prints, 6, index).items() if within_run or d.of_reference
    }
    assert within_run == ({"u0-exact", "u0-c1", "u0-c3", "u1-near", "u1-exact-other-answer"} <= set(old))
    assert {"u2-far", "u3-look-alike"}.isdisjoint(old)
    assert "u0-c2" not in old  # a chain: u0-c2's twins u0-c1 and u0-c3 are dropped, so it is kept
    assert with_reference == ("z-ref" in old)
    letters = [(i, "dedupe", v.reason, v.detail, repr(store.row(i))) for i, v in sorted(old.items())]
    with TestPipeline(runner="FnApiRunner") as p:
        kept, dead = p | beam.Create(ids) | Deduplicate(cfg, store)
        assert_that(kept, equal_to(sorted(set(ids) - set(old))), label="Kept")
        rows = dead | beam.Map(lambda d: (d.id, d.stage, d.reason, d.detail, repr(d.payload)))
        assert_that(rows, equal_to(letters), label="DeadLetters")
