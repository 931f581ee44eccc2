"""The record store keeps a run's images once: an accepted record shares its draft's images, reads back
exactly the row it was given, and counts as gone once that draft changes; ``run.work`` keeps or prunes the
folder."""

import random
from dataclasses import replace

import pytest

from pipelines.record_store import RecordStore, StaleRecord, finish_work, run_stores
from synthesis.records import Check, SftRecord

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


def _accepted(draft: SftRecord) -> SftRecord:
    return replace(draft, response="rewritten response", checks=(Check(name="format", passed=True),))


def test_an_accepted_record_shares_its_drafts_images_and_reads_back_whole(tmp_path):
    drafts, accepted = run_stores(tmp_path)
    draft = _draft()
    drafts.put(draft, "d1")
    accepted.put(_accepted(draft), "v1")
    assert accepted.path("a").stat().st_size < 20_000 < 70_000 < drafts.path("a").stat().st_size
    whole = RecordStore(tmp_path / "whole")  # what a store without shared images gives back
    whole.put(_accepted(draft), "v1")
    assert accepted.table("a").equals(whole.table("a"), check_metadata=True)
    assert accepted.get("a") == _accepted(draft) and accepted.has("a", "v1")
    assert drafts.get("a") == draft  # the draft is untouched


def test_a_record_with_other_images_or_no_draft_is_stored_whole(tmp_path):
    drafts, accepted = run_stores(tmp_path)
    drafts.put(_draft(), "d1")
    changed = _accepted(_draft(images=(b"other",)))
    accepted.put(changed, "v1")
    accepted.put(_accepted(_draft("b")), "v1")  # no draft b
    drafts.path("a").unlink()
    drafts.path("b").parent.mkdir(parents=True, exist_ok=True)
    assert accepted.get("a") == changed and accepted.get("b") == _accepted(_draft("b"))
    assert accepted.has("a", "v1") and accepted.has("b", "v1")


@pytest.mark.parametrize("change", ["new_key", "removed", "store_without_drafts"])
def test_an_accepted_record_is_gone_once_its_draft_changes(tmp_path, change):
    drafts, accepted = run_stores(tmp_path)
    drafts.put(_draft(), "d1")
    accepted.put(_accepted(_draft()), "v1")
    if change == "new_key":  # e.g. another teacher rewrote the draft: its accepted record must be recomputed
        drafts.put(_draft(images=(b"new",)), "d2")
    elif change == "removed":
        drafts.path("a").unlink()
    else:
        accepted = RecordStore(tmp_path / "accepted")
    assert accepted.key("a") is None and not accepted.has("a", "v1")
    with pytest.raises(StaleRecord):
        accepted.table("a")
    with pytest.raises(FileNotFoundError):  # what the replay's readers already catch
        accepted.row("a")


def test_the_same_draft_rewritten_under_its_key_keeps_the_accepted_record(tmp_path):
    drafts, accepted = run_stores(tmp_path)
    drafts.put(_draft(), "d1")
    accepted.put(_accepted(_draft()), "v1")
    drafts.put(_draft(), "d1")  # e.g. the same released row imported from a second file
    assert accepted.has("a", "v1") and accepted.get("a") == _accepted(_draft())


def test_work_is_pruned_only_after_a_successful_run_with_prune(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    assert not finish_work(work, "keep", True) and work.is_dir()
    assert not finish_work(work, "prune", False) and work.is_dir()
    assert finish_work(work, "prune", True) and not work.exists()
    assert finish_work(work, "prune", True)  # nothing left to prune is no error
