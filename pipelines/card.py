"""The dataset card of a published folder: Hub YAML header, counts, rejections, config, examples, plots."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

__all__ = ["card_yaml", "evidence_section", "plot_bars", "preload_plots", "render_card"]


def card_yaml(
    splits: dict[str, int],
    features: dict[str, Any],
    license_id: str,
    split_bytes: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The Hub YAML header: one default config whose splits point at the shards, plus the features.

    Example:
        >>> card_yaml({"train": 3}, {}, "apache-2.0")["configs"][0]["data_files"]
        [{'split': 'train', 'path': 'data/train-*.parquet'}]
    """
    split_bytes = split_bytes or {}
    return {
        "license": license_id,
        "task_categories": ["visual-question-answering", "image-text-to-text"],
        "tags": ["thyme", "code-augmented-reasoning", "tool-use", "synthetic"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in sorted(splits)],
            }
        ],
        "dataset_info": {
            "features": features,
            "splits": [
                {"name": s, "num_bytes": split_bytes.get(s, 0), "num_examples": n}
                for s, n in sorted(splits.items())
            ],
        },
    }


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def preload_plots() -> threading.Thread:
    """Import matplotlib (about 1 s of one core) in a background thread while the run goes on, so the
    card's charts after it do not wait for it; returns the thread."""
    thread = threading.Thread(target=_pyplot, name="preload-plots", daemon=True)
    thread.start()
    return thread


def plot_bars(counts: dict[str, int], title: str, path: Path) -> None:
    """A horizontal bar chart PNG of ``counts`` (matplotlib, headless)."""
    plt = _pyplot()

    items = sorted(counts.items(), key=lambda kv: kv[1]) or [("(none)", 0)]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(items) + 1.2), dpi=100)
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4c72b0")
    for i, (_, v) in enumerate(items):
        ax.text(v, i, f" {v}", va="center", fontsize=9)
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})  # no version stamp: same counts, same bytes
    plt.close(fig)


def _table(counts: dict[str, int], header: tuple[str, str]) -> str:
    rows = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    rows += [f"| {k} | {v} |" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(rows) if counts else "_none_"


def evidence_section(evidence: list[dict[str, Any]]) -> str:
    """The card's tool-evidence section from ``{"family", "kind", "needed", ...measures}`` rows: how many
    records of each family show that their tool step was needed, and the median measurements behind it.

    Example:
        >>> print(
        ...     evidence_section(
        ...         [{"family": "crop", "kind": "zoom", "needed": "yes", "target_px_before": 8.0}]
        ...     ).splitlines()[4]
        ... )
        | crop | zoom | 1 | 0 | 0 | 1 | target 8.0 px at input |
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in evidence:
        groups.setdefault((row["family"], row["kind"]), []).append(row)
    lines = [
        "| family | kind | needed: yes | no | unknown | records | median measurements |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for (family, kind), rows in sorted(groups.items()):
        needed = Counter(r["needed"] for r in rows)
        lines.append(
            f"| {family} | {kind} | {needed['yes']} | {needed['no']} | {needed['unknown']} | {len(rows)} | "
            f"{_medians(rows)} |"
        )
    return (
        "Each record's `tool_evidence` says, from its pixels and code, whether its tool step was needed: "
        "the target's size at the model's input resolution before and after a zoom, the angle a rotation "
        "undid, the contrast an enhancement raised, the arithmetic the code did that the text did not. "
        "`unknown` means the data cannot tell (e.g. an imported record's target size).\n\n" + "\n".join(lines)
    )


def _medians(rows: list[dict[str, Any]]) -> str:
    import statistics

    parts = []
    for key, label in (
        ("target_px_before", "target {} px at input"),
        ("target_px_after", "{} px after"),
        ("magnification", "zoom {}x"),
        ("angle_applied", "turned {} deg"),
        ("contrast_before", "contrast {}"),
        ("contrast_after", "-> {}"),
        ("arithmetic_ops", "{} operations"),
    ):
        values = [r[key] for r in rows if r.get(key) is not None]
        if values:
            parts.append(label.format(round(statistics.median(values), 3)))
    return ", ".join(parts)


def render_card(
    meta: dict[str, Any],
    name: str,
    splits: dict[str, int],
    families: dict[str, Counter],
    reasons: dict[str, int],
    config: dict[str, Any],
    examples: list[str],
    evidence: list[dict[str, Any]] | None = None,
) -> str:
    """The README.md of the published folder.

    Args:
        meta (`dict`): the YAML header (:func:`card_yaml`).
        name (`str`): dataset name.
        splits (`dict`): rows per split.
        families (`dict`): split -> Counter of families.
        reasons (`dict`): ``stage/reason`` -> dead-letter count.
        config (`dict`): the generating config (from the run manifest).
        examples (`list[str]`): rendered example trajectories (markdown).
        evidence (`list[dict]`, *optional*): each accepted record's family and ``tool_evidence``.
    """
    fam_rows = ["| family | " + " | ".join(sorted(splits)) + " |", "|---|" + "---:|" * len(splits)]
    all_families = sorted({f for c in families.values() for f in c})
    fam_rows += [
        f"| {f} | " + " | ".join(str(families[s][f]) for s in sorted(splits)) + " |" for f in all_families
    ]
    parts = [
        "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---",
        f"# {name}",
        "Code-augmented visual reasoning trajectories in the Thyme format: the model writes Python in "
        "`<code>` blocks, a sandbox runs it, `<sandbox_output>` holds the returned images (`<image>`, in the "
        "order of the `images` column after the original) or printed text, and the final answer is in "
        "`<answer>`. Every row was executed in an isolated sandbox and passed every record check listed in "
        "its `checks` column.",
        "## Splits\n\n" + _table(splits, ("split", "rows")),
        "## Families\n\n" + "\n".join(fam_rows) + "\n\n![family mix](family_mix.png)",
        "## Rejections\n\nRecords that did not make it, by stage and reason (their full payloads are in the "
        "run's dead-letter shards).\n\n"
        + _table(reasons, ("stage/reason", "records"))
        + "\n\n![rejection reasons](rejection_reasons.png)",
        "## Tool evidence\n\n" + evidence_section(evidence or []),
        "## Example trajectories\n\n" + "\n\n".join(examples),
        "## Generating config\n\n```json\n" + json.dumps(config, indent=2, sort_keys=True) + "\n```",
    ]
    return "\n\n".join(parts) + "\n"
