"""The record store keeps a run's images once: an accepted record shares its draft's images, reads back
exactly the row it was given, and counts as gone once that draft changes; ``run.work`` keeps or prunes the
folder. Every behaviour holds in a local folder and under a prefix of a real S3-compatible server."""

import random
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from pipelines.record_store import RecordStore, StaleRecord, finish_work, run_stores
from runconfig import storage
from synthesis.records import Check, SftRecord

sys.path.append(str(Path(__file__).resolve().parent))
from s3_server import s3_endpoint  # noqa: E402, F401 - the fixture

IMAGES = (random.Random(0).randbytes(50_000), random.Random(1).randbytes(20_000))  # as incompressible as PNGs


def _draft(rid: str = "a", images: tuple[bytes, ...] = IMAGES) -> SftRecord:
    return SftRecord(
        id=rid,
        images=images,
        question="q",
        image_size=(1, 1),
        response="draft response",
        answer="1",
        answer_type="number",
        family="user",
    )


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path) -> str:
    """The store's folder: a local one, or a fresh prefix on the S3 server."""
    if request.param == "local":
        return str(tmp_path)
    request.getfixturevalue("s3_endpoint")
    return f"s3://bucket/{uuid.uuid4().hex}"


def _size(location: str) -> int:
    return len(storage.read_bytes(location))


def _accepted(draft: SftRecord) -> SftRecord:
    return replace(draft, response="rewritten response", checks=(Check(name="format", passed=True),))


def test_an_accepted_record_shares_its_drafts_images_and_reads_back_whole(where):
    drafts, accepted = run_stores(where)
    draft = _draft()
    drafts.put(draft, "d1")
    accepted.put(_accepted(draft), "v1")
    assert _size(accepted.path("a")) < 20_000 < 70_000 < _size(drafts.path("a"))
    whole = RecordStore(storage.join(where, "whole"))  # what a store without shared images gives back
    whole.put(_accepted(draft), "v1")
    assert accepted.table("a").equals(whole.table("a"), check_metadata=True)
    assert accepted.get("a") == _accepted(draft) and accepted.has("a", "v1")
    assert drafts.get("a") == draft  # the draft is untouched


def test_a_record_with_other_images_or_no_draft_is_stored_whole(where):
    drafts, accepted = run_stores(where)
    drafts.put(_draft(), "d1")
    changed = _accepted(_draft(images=(b"other",)))
    accepted.put(changed, "v1")
    accepted.put(_accepted(_draft("b")), "v1")  # no draft b
    storage.delete(drafts.path("a"))
    assert accepted.get("a") == changed and accepted.get("b") == _accepted(_draft("b"))
    assert accepted.has("a", "v1") and accepted.has("b", "v1")


@pytest.mark.parametrize("change", ["new_key", "removed", "store_without_drafts"])
def test_an_accepted_record_is_gone_once_its_draft_changes(where, change):
    drafts, accepted = run_stores(where)
    drafts.put(_draft(), "d1")
    accepted.put(_accepted(_draft()), "v1")
    if change == "new_key":  # e.g. another teacher rewrote the draft: its accepted record must be recomputed
        drafts.put(_draft(images=(b"new",)), "d2")
    elif change == "removed":
        storage.delete(drafts.path("a"))
    else:
        accepted = RecordStore(storage.join(where, "accepted"))
    assert accepted.key("a") is None and not accepted.has("a", "v1")
    with pytest.raises(StaleRecord):
        accepted.table("a")
    with pytest.raises(FileNotFoundError):  # what the replay's readers already catch
        accepted.row("a")


def test_the_same_draft_rewritten_under_its_key_keeps_the_accepted_record(where):
    drafts, accepted = run_stores(where)
    drafts.put(_draft(), "d1")
    accepted.put(_accepted(_draft()), "v1")
    drafts.put(_draft(), "d1")  # e.g. the same released row imported from a second file
    assert accepted.has("a", "v1") and accepted.get("a") == _accepted(_draft())


def test_work_is_pruned_only_after_a_successful_run_with_prune(where):
    work = storage.join(where, "work")
    RecordStore(work).put(_draft(), "d1")
    assert not finish_work(work, "keep", True) and storage.list_tree(work)
    assert not finish_work(work, "prune", False) and storage.list_tree(work)
    assert finish_work(work, "prune", True) and not storage.list_tree(work)
    assert finish_work(work, "prune", True)  # nothing left to prune is no error


def test_a_failed_write_leaves_no_record(where, monkeypatch):
    """A record is published whole or not at all: a writer killed mid-file leaves nothing under the final key
    (on a store an aborted upload stream would otherwise still publish what it had)."""
    import pipelines.record_store as module

    def dies_mid_file(table, sink, **kwargs):
        sink.write(b"PAR1 half a record")
        raise RuntimeError("killed mid-write")

    store = RecordStore(storage.join(where, "work"))
    store.put(_draft(), "d1")
    monkeypatch.setattr(module.pq, "write_table", dies_mid_file)
    with pytest.raises(RuntimeError, match="mid-write"):
        store.put(_draft(images=(b"new",)), "d2")
    monkeypatch.undo()
    assert store.key("a") == "d1" and store.get("a") == _draft()
    assert storage.list_tree(storage.join(where, "work")) == [store.path("a")[len(where) + 6 :]]
