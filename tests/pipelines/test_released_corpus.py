"""The released-format corpus through ``beam run pipelines/build_sft.py``: every row gets the verdict written
beside it (0 false rejects, 0 false accepts), with the default config and with ``sandbox.fixups=false`` (where
the rows that need a fix-up must be turned away at import and every other row keeps its verdict)."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.append(
    str(Path(__file__).resolve().parents[1])
)  # tests/, for the corpus package (after the real sandbox)
from thyme_corpus import read_expectations, verdict_matches, write_corpus  # noqa: E402

from synthesis.records import DeadLetter, SftRecord  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def outcomes(out: Path) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    """``(file, row index) -> (stage, reason)`` of every row of a finished run; (None, None) when accepted."""
    seen: dict[tuple[str, int], tuple[str | None, str | None]] = {}
    for shard in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            params = SftRecord.from_row(row).task_params
            seen[(params["source"], params["index"])] = (None, None)
    for shard in sorted((out / "dead_letter").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            letter = DeadLetter.from_row(row)
            payload = letter.payload
            if "raw" in payload:  # an import-stage letter carries the source row
                where = (Path(payload["path"]).name, payload["index"])
            else:  # a record's row, from the checks
                params = json.loads(payload["task_params"])
                where = (params["source"], params["index"])
                assert payload["checks"], f"{where}: a checks-stage dead letter must carry every verdict"
            seen[where] = (letter.stage, letter.reason)
    return seen


def run_corpus(tmp_path: Path, *overrides: str) -> tuple[dict, dict, dict]:
    corpus = tmp_path / "corpus"
    files = write_corpus(corpus)
    out = tmp_path / "out"
    cmd = [
        str(Path(sys.executable).with_name("beam")),
        "run",
        "pipelines/build_sft.py",
        "--config",
        "pipeline.yaml",
        f"run.output_dir={out}",
        "sources.generated=false",
        f"sources.thyme_files=[{','.join(map(str, files))}]",
        *overrides,
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads((out / "thyme-sft" / "stats.json").read_text())
    return read_expectations(corpus), outcomes(out / "thyme-sft"), stats


def _judge(expected: dict, seen: dict, key: str) -> tuple[list, list, Counter]:
    false_rejects, false_accepts, reasons = [], [], Counter()
    for where, entry in expected.items():
        stage, reason = seen[where]
        reasons[reason or "accepted"] += 1
        if not verdict_matches(entry[key], stage, reason):
            (false_rejects if entry[key]["expect"] == "accept" else false_accepts).append(
                (where, stage, reason)
            )
    return false_rejects, false_accepts, reasons


@pytest.mark.parametrize("fixups", ["true", "false"])
def test_every_released_row_gets_its_verdict(tmp_path, fixups):
    expected, seen, stats = run_corpus(tmp_path, f"sandbox.fixups={fixups}")
    assert stats["holds"] and stats["records_in"] == len(expected) == len(seen)
    false_rejects, false_accepts, reasons = _judge(
        expected, seen, "verdict" if fixups == "true" else "strict"
    )
    print(f"\nsandbox.fixups={fixups}: {dict(sorted(reasons.items()))}")
    assert false_rejects == [] and false_accepts == []
    # every imported record is measured from its own pixels and code; nothing about its task is known, so a
    # zoom can say "no" (it shows nothing the input did not) or "unknown", never "yes"
    evidence = [
        (row["tool_evidence"]["kind"], row["tool_evidence"]["needed"])
        for shard in sorted((tmp_path / "out" / "thyme-sft" / "data").glob("*.parquet"))
        for row in pq.read_table(shard, columns=["tool_evidence"]).to_pylist()
    ]
    print(f"tool evidence: {dict(Counter(evidence))}")
    assert len(evidence) == stats["accepted"] and ("zoom", "yes") not in evidence
    assert {kind for kind, _ in evidence} >= {"zoom", "compute"}
