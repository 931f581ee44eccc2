"""Publishing: a Hub-ready folder that `datasets.load_dataset(folder)` loads with images, and a retrying
push."""

import io
import json

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image

from pipelines.publish import publish_folder, push_folder
from pipelines.shards import shard_name, write_shard
from synthesis.records import DEAD_LETTER_SCHEMA, SFT_SCHEMA, Check, DeadLetter, SftRecord


def _png(i):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (i * 20 % 256, 50, 60)).save(buf, format="PNG")
    return buf.getvalue()


def _record(i, family):
    return SftRecord(
        id=f"{family}-{i:04d}",
        images=(_png(i), _png(i + 1)),
        question=f"Question {i}?",
        image_size=(40, 30),
        response="<think>x<code>\n```python\nprint(1)\n```\n</code><sandbox_output><image></sandbox_output>y</think>\n"
        "<answer>A</answer>",
        answer="A",
        answer_type="choice",
        family=family,
        checks=(Check(name="format", passed=True),),
    )


@pytest.fixture()
def run_dir(tmp_path):
    run = tmp_path / "run"
    fams = ["crop", "crop", "rotate", "compute", "no_code"]
    train = [_record(i, fams[i % 5]).to_row() for i in range(10)]
    test = [_record(100 + i, "crop").to_row() for i in range(3)]
    write_shard(train[:6], SFT_SCHEMA, run / "data" / shard_name("train", 0, 2), rows_per_group=2)
    write_shard(train[6:], SFT_SCHEMA, run / "data" / shard_name("train", 1, 2))
    write_shard(test, SFT_SCHEMA, run / "data" / shard_name("test", 0, 1))
    dead = [
        DeadLetter(
            id=f"d{i}",
            stage="validate",
            reason="answer_mismatch" if i % 2 else "exec_timeout",
            detail="",
            payload={},
        ).to_row()
        for i in range(5)
    ]
    write_shard(dead, DEAD_LETTER_SCHEMA, run / "dead_letter" / shard_name("dead_letter", 0, 1))
    (run / "manifest.json").write_text(
        json.dumps({"config": {"run": {"name": "tiny"}, "tasks": {"count": 18}}})
    )
    return run


def test_published_folder_loads_with_datasets(run_dir):
    folder = publish_folder(run_dir)
    ds = datasets.load_dataset(str(folder))
    assert {k: len(v) for k, v in ds.items()} == {"train": 10, "test": 3}
    row = ds["train"][0]
    assert isinstance(row["images"][0], Image.Image) and row["images"][1].size == (40, 30)


def test_card_has_counts_reasons_config_examples_and_plots(run_dir):
    folder = publish_folder(run_dir)
    card = (folder / "README.md").read_text()
    assert (
        card.startswith("---\n") and "config_name: default" in card and "path: data/train-*.parquet" in card
    )
    assert "| train | 10 |" in card and "| test | 3 |" in card
    assert "| crop | 3 | 4 |" in card  # family counts per split: columns test, train (name order)
    assert "| validate/answer_mismatch | 2 |" in card and "| validate/exec_timeout | 3 |" in card
    assert '"count": 18' in card
    # The first row of each family in shard order (test before train, ids sorted, across row groups), 3 at
    # most.
    assert [line.split("`")[1] for line in card.splitlines() if line.startswith("### `")] == [
        "crop-0100",
        "compute-0003",
        "no_code-0004",
    ]
    assert sorted(p.name for p in (folder / "examples").iterdir()) == [
        f"{rid}_{k}.png" for rid in ("compute-0003", "crop-0100", "no_code-0004") for k in (0, 1)
    ]
    for png in ("family_mix.png", "rejection_reasons.png"):
        assert Image.open(folder / png).format == "PNG"
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in (folder / "data").glob("*.parquet")) == 13


class _FlakyHub:
    """Stands in for the Hub, which cannot exist here: fails twice with 503, then accepts."""

    def __init__(self, failures=2, status=503):
        self.failures, self.status, self.uploads = failures, status, []

    def create_repo(self, repo_id, repo_type, exist_ok):
        assert repo_type == "dataset" and exist_ok

    def upload_folder(self, repo_id, folder_path, repo_type, commit_message):
        if self.failures:
            self.failures -= 1
            err = RuntimeError("hub unavailable")
            err.response = type("R", (), {"status_code": self.status})()
            raise err
        self.uploads.append((repo_id, folder_path))


def test_push_is_a_dry_run_by_default(run_dir):
    folder = publish_folder(run_dir)
    hub = _FlakyHub(failures=0)
    files = push_folder(folder, "org/tiny", api=hub)
    assert "README.md" in files and not hub.uploads


def test_push_retries_transient_errors_with_backoff(run_dir):
    folder = publish_folder(run_dir)
    hub, waits = _FlakyHub(failures=2), []
    push_folder(folder, "org/tiny", dry_run=False, api=hub, sleep=waits.append, backoff_s=1.0)
    assert hub.uploads == [("org/tiny", str(folder))] and waits == [1.0, 2.0]


def test_push_gives_up_on_permanent_errors(run_dir):
    folder = publish_folder(run_dir)
    with pytest.raises(RuntimeError, match="hub unavailable"):
        push_folder(
            folder, "org/tiny", dry_run=False, api=_FlakyHub(failures=1, status=403), sleep=lambda s: None
        )
