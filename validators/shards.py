"""Shard checks: a great-expectations suite over the Parquet shards of a run, read with dask.

Two batches are validated. *files*: one row per shard with ``schema_ok`` (its Arrow schema equals
``SFT_SCHEMA``). *rows*: the scalar columns :func:`~validators.shard_suite.derive_columns` derives from every
row of the well-formed shards (one dask partition per row group, so memory is bounded by a row group's
images), run through :func:`~validators.shard_suite.expectations`. The report folder gets ``result.json`` and
Data Docs HTML (``data_docs/index.html``). Offline: an ephemeral context, analytics and progress bars off.

CLI: ``python -m validators.shards DIR --out REPORT_DIR`` exits 1 with a short summary naming every failing
expectation and column.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synthesis.records import SFT_SCHEMA
from validators.config import ShardChecksConfig
from validators.shard_suite import DERIVED, derive_columns, expectations

__all__ = ["ShardReport", "main", "preload", "read_shards", "validate_shards"]

log = logging.getLogger(__name__)
_FORMAT = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": ["shard"],
    "partial_unexpected_count": 5,
}
_SOURCE = ["id", "question", "response", "answer", "family", "answer_type", "images", "image_size", "checks"]


@dataclass
class ShardReport:
    """Outcome of the shard suite: ``success``, one line per failing expectation, the raw GX results."""

    success: bool
    failures: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    evaluated: int = 0

    def summary(self) -> str:
        """A short human-readable verdict (the CLI prints it)."""
        head = f"shard suite {'PASSED' if self.success else 'FAILED'}: {self.evaluated} expectations"
        return "\n".join([head + ("" if self.success else f", {len(self.failures)} failed"), *self.failures])


def read_shards(folder: str | Path, pattern: str = "**/*.parquet") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The *files* frame (shard, rows, schema_ok) and the derived *rows* frame of the shards under ``folder``.

    Each well-formed shard is read with ``dask.dataframe.read_parquet`` (one partition per row group, tagged
    with its file) and reduced to the derived scalar columns partition by partition, on dask's threaded
    scheduler.

    Args:
        folder (`str | Path`): the folder holding the shards.
        pattern (`str`, *optional*, defaults to `"**/*.parquet"`): glob of the shard files
            (hidden files skipped).
    """
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    paths = sorted(p for p in Path(folder).glob(pattern) if not p.name.startswith("."))
    want = SFT_SCHEMA.remove_metadata()
    schemas = {p: pq.read_schema(p).remove_metadata() for p in paths}
    files = pd.DataFrame(
        {
            "shard": [p.name for p in paths],
            "rows": [pq.ParquetFile(p).metadata.num_rows for p in paths],
            "schema_ok": [schemas[p].equals(want) for p in paths],
        }
    )
    good = [str(p) for p in paths if schemas[p].equals(want)]
    if not good:
        return files, pd.DataFrame({name: pd.Series(dtype=object) for name in DERIVED})
    parts = [dd.read_parquet(path, columns=_SOURCE, split_row_groups=True).assign(path=path) for path in good]
    frame = dd.concat(parts) if len(parts) > 1 else parts[0]
    meta = derive_columns(frame._meta)
    rows = frame.map_partitions(derive_columns, meta=meta).compute(scheduler="threads").reset_index(drop=True)
    return files, rows


def preload() -> threading.Thread:
    """Import great-expectations and dask in a background thread, and return it.

    Those imports take about 2.5 s of one core here. A pipeline starts this before its run so the imports
    overlap with the work and the suite begins as soon as the shards exist; a later import just waits for
    this one.
    """

    def work():
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        try:
            import dask.dataframe  # noqa: F401
            import great_expectations  # noqa: F401
        except Exception:  # the suite's own import reports it
            log.debug("preloading the shard suite failed", exc_info=True)

    thread = threading.Thread(target=work, name="preload-shard-suite", daemon=True)
    thread.start()
    return thread


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return gx, gxe, context


def _run(gx, gxe, context, name: str, frame: pd.DataFrame, suite_spec: list[tuple[str, dict]]):
    batch = context.data_sources.add_pandas(f"{name}_source").add_dataframe_asset(name)
    definition = batch.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name=f"thyme_{name}"))
    for cls_name, kwargs in suite_spec:
        suite.add_expectation(getattr(gxe, cls_name)(**kwargs))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=definition, suite=suite)
    )
    return validation.run(batch_parameters={"dataframe": frame}, result_format=_FORMAT)


def _failure_line(batch: str, result) -> str:
    config, res = result.expectation_config, result.result or {}
    column = config.kwargs.get("column", "<table>")
    if res.get("unexpected_count") is not None:
        sample = [str(v)[:40] for v in (res.get("partial_unexpected_list") or [])[:3]]
        shards = sorted({str(row.get("shard")) for row in res.get("unexpected_index_list") or ()})
        where = f" in {', '.join(shards[:5])}" if shards else ""
        got = f"{res['unexpected_count']} unexpected of {res.get('element_count')}{where}, e.g. {sample}"
    else:
        value = res.get("observed_value")
        shown = value.item() if value is not None and hasattr(value, "item") else value
        got = f"observed {shown!r}"
    bounds = {k: v for k, v in config.kwargs.items() if k in ("min_value", "max_value", "value_set")}
    return f"  {batch}: {config.type}({column}) {bounds or ''} -> {got}".replace(" {} ", " ")


def validate_shards(
    folder: str | Path,
    cfg: ShardChecksConfig | None = None,
    out: str | Path | None = None,
    pattern: str = "**/*.parquet",
) -> ShardReport:
    """Run the shard suite on the shards under ``folder``; write ``result.json`` and Data Docs into ``out``.

    Args:
        folder (`str | Path`): the shards' folder.
        cfg (`ShardChecksConfig`, *optional*): allowed values, ranges, family bounds.
        out (`str | Path`, *optional*): report folder; nothing is written when None.
        pattern (`str`, *optional*, defaults to `"**/*.parquet"`): glob of the shard files.
    """
    cfg = cfg or ShardChecksConfig()
    files, rows = read_shards(folder, pattern)
    for family in cfg.family_bounds:
        rows[f"is_{family}"] = (rows["family"] == family).astype(float)
    gx, gxe, context = _gx()
    files_spec: list[tuple[str, dict[str, Any]]] = [
        ("ExpectTableRowCountToBeBetween", {"min_value": 1}),
        ("ExpectColumnValuesToBeInSet", {"column": "schema_ok", "value_set": [True]}),
    ]
    row_spec = [spec for spec in expectations(cfg) if spec[1].get("column") != "schema_ok"]
    runs = {
        "files": _run(gx, gxe, context, "files", files, files_spec),
        "rows": _run(gx, gxe, context, "rows", rows, row_spec),
    }
    failures = [_failure_line(name, r) for name, run in runs.items() for r in run.results if not r.success]
    report = ShardReport(
        all(run.success for run in runs.values()),
        failures,
        {name: run.to_json_dict() for name, run in runs.items()},
        sum(len(run.results) for run in runs.values()),
    )
    if out is not None:
        _write(Path(out), report, runs)
    return report


def _write(out: Path, report: ShardReport, runs: dict[str, Any]) -> None:
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    docs = out / "data_docs"
    docs.mkdir(parents=True, exist_ok=True)
    for run in report.results.values():  # COMPLETE results list every unexpected row: keep the first 100
        for result in run.get("results", ()):
            for key in ("unexpected_list", "unexpected_index_list"):
                if isinstance(result.get("result", {}).get(key), list):
                    result["result"][key] = result["result"][key][:100]
    payload = {"success": report.success, "failures": report.failures, "results": report.results}
    (out / "result.json").write_text(json.dumps(payload, indent=1, sort_keys=True, default=str))
    links = []
    for name, run in runs.items():
        # GX's renderer cannot format numpy scalars (numpy 2 repr): make them plain
        for result in run.results:
            value = (result.result or {}).get("observed_value")
            if value is not None and hasattr(value, "item"):
                result.result["observed_value"] = value.item()
        html = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(run))
        (docs / f"{name}.html").write_text(html)
        links.append(f'<li><a href="{name}.html">{name}</a>: {"passed" if run.success else "FAILED"}</li>')
    (docs / "index.html").write_text(
        f"<html><body><h1>Shard suite</h1><ul>{''.join(links)}</ul>"
        f"<pre>{report.summary()}</pre></body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m validators.shards DIR --out REPORT_DIR``: 0 when every expectation holds, else 1."""
    parser = argparse.ArgumentParser(prog="python -m validators.shards", description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder holding the Parquet shards")
    parser.add_argument("--out", required=True, help="report folder (result.json, data_docs/)")
    parser.add_argument("--glob", default="**/*.parquet", help="shard file pattern under the folder")
    args = parser.parse_args(argv)
    report = validate_shards(args.folder, out=args.out, pattern=args.glob)
    sys.stdout.write(report.summary() + "\n")
    return 0 if report.success else 1


if __name__ == "__main__":
    sys.exit(main())
