"""A build_sft run keeps each image once in ``work/`` (the accepted records hold no image bytes) and writes
the same shards as ever; with ``run.work=prune`` a successful run leaves no ``work/``, a failed one does."""

from pathlib import Path

import pyarrow.parquet as pq

from pipelines import build_sft
from runconfig.root import load_config

ROOT = Path(__file__).resolve().parents[2]
COUNT = 6


def _config(out: Path, *overrides: str):
    return load_config(
        ROOT / "pipeline.yaml",
        [
            f"run.output_dir={out}",
            f"tasks.count={COUNT}",
            "tasks.mix={crop: 0.5, rotate: 0.5}",
            "sandbox.workers=1",
            "runner.kind=in_process",
            "run.report=false",
            *overrides,
        ],
    )


def _bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _shards(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.glob("*/*.parquet"))}


def test_work_keeps_images_once_and_prune_removes_it_after_success(tmp_path):
    keep, prune = tmp_path / "keep" / "thyme-sft", tmp_path / "prune" / "thyme-sft"
    assert build_sft.run(_config(keep.parent, "run.work=keep")) == 0
    data, accepted = _bytes(keep / "data"), _bytes(keep / "work" / "accepted")
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in (keep / "data").glob("*.parquet")) == COUNT
    assert accepted < data / 10  # checks and rewritten fields only: the images are the drafts'
    assert _bytes(keep / "work" / "trajectories") < 1.2 * data
    assert build_sft.run(_config(prune.parent)) == 0  # the default
    assert not (prune / "work").exists()
    assert _shards(prune) == _shards(keep)


def test_a_failed_run_keeps_its_work_even_with_prune(tmp_path):
    rows = tmp_path / "bad.jsonl"
    rows.write_text('{"image": ["%%%"], "question": "q", "response": "r"}\n')
    out = tmp_path / "out"
    config = _config(out, "sources.generated=false", f"sources.thyme_files=[{rows}]", "run.work=prune")
    assert build_sft.run(config) == 1
    assert (out / "thyme-sft" / "work").is_dir()
