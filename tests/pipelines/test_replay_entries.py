"""Where a dead letter re-enters build_sft, and the reason it keeps when it cannot."""

from pipelines.config import SourcesConfig
from pipelines.replay_entries import Selection, entry_of
from synthesis.importers.common import RowGroup
from synthesis.records import DeadLetter, decode_payload, encode_payload
from synthesis.tasks.task import Task


def _letter(stage: str, payload, reason: str = "some_reason") -> DeadLetter:
    """A letter as a replay reads it back: the payload through the dead-letter encoding."""
    return DeadLetter(
        id="r1", stage=stage, reason=reason, detail="d", payload=decode_payload(*encode_payload(payload))
    )


def test_selection_is_any_stage_and_any_reason():
    both = Selection(reasons=("a", "b"), stages=("validate",))
    assert [both.matches(s, r) for s, r in (("validate", "a"), ("validate", "c"), ("dedupe", "a"))] == [
        True,
        False,
        False,
    ]
    assert Selection(stages=("import",)).matches("import", "anything")


def test_generate_and_teacher_letters_re_enter_with_their_input():
    item = {"id": "crop-000001", "family": "crop", "seed": 1}
    assert entry_of(_letter("generate", {"input": item, "traceback": "tb"}), SourcesConfig()) == (
        "generate",
        item,
    )
    task = Task(
        "t1", "user", 0, b"\x89PNG", "png", 2, 2, "q", "A", "choice", choices=("x", "y"), target=(0, 0, 1, 1)
    )
    assert entry_of(_letter("teacher", task.to_dict()), SourcesConfig()) == ("tasks", task)
    assert entry_of(_letter("teacher", {"input": task, "traceback": "tb"}), SourcesConfig()) == (
        "tasks",
        task,
    )


def test_validate_and_dedupe_letters_re_enter_from_the_store():
    assert entry_of(_letter("validate", {"input": "r1", "traceback": "tb"}), SourcesConfig())[0] == "drafts"
    assert (
        entry_of(_letter("dedupe", {"id": "r1", "response": "x", "images": []}), SourcesConfig())[0]
        == "accepted"
    )


def test_source_rows_re_enter_by_the_source_they_came_from(tmp_path):
    tasks, thyme = tmp_path / "tasks.jsonl", tmp_path / "thyme.jsonl"
    tasks.write_text("{}\n")
    thyme.write_text("{}\n")
    sources = SourcesConfig(task_files=[str(tasks)], thyme_files=[str(thyme)])
    row = {"id": "tasks.jsonl#0", "path": str(tasks), "index": 0, "raw": {"question": "q"}}
    assert entry_of(_letter("import", row), sources) == ("task_rows", row)
    assert entry_of(_letter("import", {**row, "path": str(thyme)}), sources)[0] == "thyme_rows"
    group = {"path": str(thyme), "group": None, "first": 0, "rows": 1}
    entry, unit = entry_of(
        _letter("import", {"input": {"id": "thyme.jsonl@None", "group": group}, "traceback": ""}), sources
    )
    assert (entry, unit["group"]) == ("thyme_slices", RowGroup(str(thyme), None, 0, 1))


def test_letters_that_cannot_re_enter_keep_their_stage_and_payload_with_a_replay_reason(tmp_path):
    gone = tmp_path / "gone.jsonl"
    row = {"id": "gone.jsonl#3", "path": str(gone), "index": 3, "raw": {"image": "a.png"}}
    entry, letter = entry_of(
        _letter("import", row, "import_bad_image"), SourcesConfig(task_files=[str(gone)])
    )
    assert (entry, letter.stage, letter.reason, letter.payload) == (
        "dead",
        "import",
        "replay_source_missing",
        row,
    )
    assert letter.detail == f"source file {gone} is gone (was import_bad_image: d)"
    entry, letter = entry_of(_letter("import", row), SourcesConfig())
    assert (entry, letter.reason) == ("dead", "replay_unknown_source")
    entry, letter = entry_of(_letter("teacher", {"question": "no task"}), SourcesConfig())
    assert (entry, letter.stage, letter.reason) == ("dead", "teacher", "replay_unsupported")
    assert entry_of(_letter("unheard_of", {}), SourcesConfig())[1].reason == "replay_unsupported"
