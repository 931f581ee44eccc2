"""Synthetic run folders for the report tests: rows written with the real schemas, small images, any size."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image, ImageDraw

from synthesis.format import Code, SandboxOutput, Text, Trajectory, render
from synthesis.records import (
    DEAD_LETTER_SCHEMA,
    SFT_SCHEMA,
    Check,
    DeadLetter,
    Execution,
    Provenance,
    SftRecord,
    to_table,
)

FAMILIES = ("crop", "rotate", "contrast")
CHECKS = ("format", "answer", "images")
IMAGES = 50  # distinct images: records reuse them, as copies do, so a big report stays a few files
CODE = "from PIL import Image\nimg = Image.open('/mnt/data/input/x.png')  # open\nprint(img.size[0] + 1)"


def png(i: int, size: tuple[int, int] = (48, 32)) -> bytes:
    """A small PNG that differs per ``i``: a coloured background with a contrasting block (never blank)."""
    img = Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, 120))
    ImageDraw.Draw(img).rectangle((4, 4, size[0] // 2, size[1] // 2), fill=(255 - (i * 37) % 256, 20, 240))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def record(i: int) -> SftRecord:
    """Accepted record ``i``: one code block that returned one image, so two images in all."""
    family = FAMILIES[i % len(FAMILIES)]
    answer = f"answer {i}"
    segments = (
        Text(f"Record {i}: crop the top left."),
        Code(CODE),
        SandboxOutput(1),
        Text("The crop shows it."),
    )
    return SftRecord(
        id=f"{family}-{i:06d}",
        images=(png(i % IMAGES), png(i % IMAGES + IMAGES, (24, 16))),
        question=f"What does panel {i} of the {family} image say?",
        image_size=(48, 32),
        response=render(Trajectory(segments, "\n", answer)),
        answer=answer,
        answer_type="text",
        family=family,
        task_params={"panel": i},
        executions=(
            Execution(
                code=CODE,
                code_as_run=CODE,
                status="ok",
                stdout="/mnt/data/temp_processed_images/x_crop.png\n",
                fixes=("fix_crop_clamp",) if i % 5 == 0 else (),
                image_indices=(1,),
            ),
        ),
        checks=tuple(Check(name=name, passed=True) for name in CHECKS),
        provenance=Provenance(source="generated", generator="synthetic", generator_version="0", seed=i),
    )


def dead_letter(i: int) -> DeadLetter:
    """Dead letter ``i``: a record that failed the answer check (its image in the payload), or a generator
    exception with a plain input, alternately."""
    if i % 2:
        return DeadLetter(
            id=f"rotate-{i:06d}",
            stage="generate",
            reason="exception_ValueError",
            detail="ValueError('generator exploded')",
            payload={"input": {"id": f"rotate-{i:06d}", "family": "rotate", "seed": i}},
        )
    rec = record(i)
    failed = (*rec.checks[:1], Check(name="answer", passed=False, reason="answer_mismatch", detail="wrong"))
    row = {
        **rec.to_row(),
        "checks": [
            {"name": c.name, "passed": c.passed, "reason": c.reason, "detail": c.detail} for c in failed
        ],
    }
    return DeadLetter(
        id=rec.id, stage="validate", reason="answer_mismatch", detail="answer_mismatch: wrong", payload=row
    )


def write_run(
    out: Path, accepted: int, dead: int, rows_per_group: int = 32, rows_per_shard: int = 2000
) -> Path:
    """A build_sft-shaped folder under ``out``: data and dead-letter shards, stats.json and manifest.json."""
    _write(
        out / "data",
        "train",
        SFT_SCHEMA,
        [record(i) for i in range(accepted)],
        rows_per_group,
        rows_per_shard,
    )
    letters = [dead_letter(accepted + i) for i in range(dead)]
    _write(out / "dead_letter", "dead_letter", DEAD_LETTER_SCHEMA, letters, rows_per_group, rows_per_shard)
    counts: dict[str, int] = {"in": accepted + dead, "accepted": accepted, "dead": dead}
    for i in range(accepted):
        key = f"accepted/family/{FAMILIES[i % len(FAMILIES)]}"
        counts[key] = counts.get(key, 0) + 1
    for letter in letters:
        for key in (f"dead/stage/{letter.stage}", f"dead/reason/{letter.stage}/{letter.reason}"):
            counts[key] = counts.get(key, 0) + 1
    for name in CHECKS:
        counts[f"check/{name}/passed"] = accepted
    stats = {
        "records_in": accepted + dead,
        "accepted": accepted,
        "dead_lettered": dead,
        "holds": True,
        "counts": counts,
        "elapsed_s": 12.5,
        "records_per_s": 1.0,
        "metrics": {"sandbox_cpu_ms_sum": 40, "sandbox_cpu_ms_count": 4},
        "shard_checks": {"passed": True, "failures": []},
    }
    (out / "stats.json").write_text(json.dumps(stats))
    (out / "manifest.json").write_text(json.dumps({"pipeline": "build_sft", "git_commit": "synthetic"}))
    return out


def _write(folder: Path, name: str, schema, items: list, rows_per_group: int, rows_per_shard: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shards = max(1, -(-len(items) // rows_per_shard))
    for s in range(shards):
        part = items[s * rows_per_shard : (s + 1) * rows_per_shard]
        path = folder / f"{name}-{s:05d}-of-{shards:05d}.parquet"
        with pq.ParquetWriter(path, schema) as writer:
            for g in range(0, len(part), rows_per_group):
                writer.write_table(to_table([x.to_row() for x in part[g : g + rows_per_group]], schema))
