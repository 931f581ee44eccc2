"""Metrics as JSON lines (one object per logged step, tagged with its stage) and the PNG curves of them."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "plot_curves", "read_metrics"]


class MetricsLog:
    """Append-only ``metrics.jsonl``: every line is ``{"stage": ..., "step": ..., <metric>: <value>, ...}``.

    Args:
        path (`str | Path`): the JSONL file; a resumed run appends to it.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, stage: str, step: int, **values: Any) -> dict[str, Any]:
        """Append one line and return it."""
        row = {"stage": stage, "step": step, **values}
        with self.path.open("a") as out:
            out.write(json.dumps(row, sort_keys=True, default=float) + "\n")
        return row


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Every line of a metrics file; a later line for the same (stage, step) replaces an earlier one (resume).

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "m.jsonl")
        >>> log = MetricsLog(p)
        >>> _ = log.log("sft", 1, loss=2.0)
        >>> _ = log.log("sft", 1, loss=1.5)
        >>> read_metrics(p)
        [{'loss': 1.5, 'stage': 'sft', 'step': 1}]
    """
    if not Path(path).exists():
        return []
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            rows[(row["stage"], row["step"])] = row
    return list(rows.values())


def plot_curves(metrics_path: str | Path, out_dir: str | Path) -> list[Path]:
    """One PNG per stage (``curves_<stage>.png``) with a panel per numeric metric against the step.

    Args:
        metrics_path (`str | Path`): the ``metrics.jsonl`` file.
        out_dir (`str | Path`): where the PNGs go.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in read_metrics(metrics_path):
        for key, value in row.items():
            if key not in ("stage", "step") and isinstance(value, int | float) and math.isfinite(value):
                series[row["stage"]][key].append((row["step"], float(value)))
    written = []
    for stage, metrics in sorted(series.items()):
        names = sorted(metrics)
        cols = min(3, len(names))
        rows = math.ceil(len(names) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
        for ax, name in zip(axes.flat, names, strict=False):
            points = sorted(metrics[name])
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None)
            ax.set_title(name, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
        for ax in list(axes.flat)[len(names) :]:
            ax.axis("off")
        fig.suptitle(stage)
        fig.tight_layout()
        path = Path(out_dir) / f"curves_{stage}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
