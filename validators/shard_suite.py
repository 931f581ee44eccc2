"""The shard expectations, as plain data: which great-expectations expectation runs on which derived column.

GX handles list and binary columns poorly, so shards are validated through scalar columns derived per row
(:func:`derive_columns`): ``n_images``, ``image_width``, ``response_chars``, ``all_checks_passed``, one 0/1
``is_<family>`` column per family with bounds, ``schema_ok``. :func:`expectations` lists the suite for a
:class:`ShardChecksConfig` as ``(expectation class name, kwargs)`` pairs; :mod:`validators.shards` runs it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from validators.config import ShardChecksConfig

__all__ = ["DERIVED", "derive_columns", "expectations"]

DERIVED = [
    "id",
    "question",
    "response",
    "answer",
    "family",
    "answer_type",
    "n_images",
    "image_width",
    "image_height",
    "response_chars",
    "n_checks",
    "all_checks_passed",
    "shard",
]
NOT_NULL = [
    "id",
    "question",
    "response",
    "answer",
    "family",
    "answer_type",
    "n_images",
    "image_width",
    "image_height",
]


def _size(value: Any, key: str) -> float | None:
    return None if not isinstance(value, dict) or value.get(key) is None else float(value[key])


def _length(value: Any) -> float | None:
    return None if value is None else float(len(value))


def _all_passed(checks: Any) -> bool:
    return checks is not None and len(checks) > 0 and all(bool(c["passed"]) for c in checks)


def derive_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The scalar view of SFT shard rows that the suite validates (works on one dask partition).

    Args:
        frame (`pandas.DataFrame`): rows read from SFT shards (``synthesis.records.SFT_SCHEMA``) plus a
            ``path`` column naming each row's file.

    Example:
        >>> rows = pd.DataFrame(
        ...     {
        ...         "id": ["a"],
        ...         "question": ["q"],
        ...         "response": ["r"],
        ...         "answer": ["1"],
        ...         "family": ["crop"],
        ...         "answer_type": ["text"],
        ...         "images": [[{"bytes": b"x", "path": None}]],
        ...         "image_size": [{"width": 4, "height": 3}],
        ...         "checks": [[{"passed": True}]],
        ...         "path": ["s.parquet"],
        ...     }
        ... )
        >>> print(
        ...     derive_columns(rows)[["n_images", "image_width", "all_checks_passed"]].to_string(index=False)
        ... )
         n_images  image_width  all_checks_passed
              1.0          4.0               True
    """
    text = ("id", "question", "response", "answer", "family", "answer_type")
    out = pd.DataFrame({name: frame[name].astype(object) for name in text})
    out = out.where(out.notna(), None)  # plain None, not pd.NA: GX's renderer cannot handle pd.NA
    out["n_images"] = frame["images"].map(_length)
    out["image_width"] = frame["image_size"].map(lambda v: _size(v, "width"))
    out["image_height"] = frame["image_size"].map(lambda v: _size(v, "height"))
    out["response_chars"] = frame["response"].map(_length)
    out["n_checks"] = frame["checks"].map(_length)
    out["all_checks_passed"] = frame["checks"].map(_all_passed)
    out["shard"] = frame["path"].astype(str).map(lambda p: p.rsplit("/", 1)[-1])
    return out[DERIVED]


def expectations(cfg: ShardChecksConfig) -> list[tuple[str, dict[str, Any]]]:
    """The suite for ``cfg``: ``(GX expectation class name, kwargs)`` in the order they are reported.

    Args:
        cfg (`ShardChecksConfig`): allowed values, ranges and family bounds.

    Example:
        >>> [name for name, kw in expectations(ShardChecksConfig())][:3]
        ['ExpectTableRowCountToBeBetween', 'ExpectColumnValuesToBeInSet', 'ExpectColumnValuesToBeUnique']
    """
    suite: list[tuple[str, dict[str, Any]]] = [
        ("ExpectTableRowCountToBeBetween", {"min_value": cfg.min_rows}),
        ("ExpectColumnValuesToBeInSet", {"column": "schema_ok", "value_set": [True]}),
        ("ExpectColumnValuesToBeUnique", {"column": "id"}),
    ]
    suite += [("ExpectColumnValuesToNotBeNull", {"column": c}) for c in NOT_NULL]
    suite += [
        ("ExpectColumnValueLengthsToBeBetween", {"column": "id", "min_value": 1}),
        ("ExpectColumnValuesToBeInSet", {"column": "family", "value_set": list(cfg.families)}),
        ("ExpectColumnValuesToBeInSet", {"column": "answer_type", "value_set": list(cfg.answer_types)}),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "n_images", "min_value": 1, "max_value": cfg.max_images},
        ),
        ("ExpectColumnValuesToBeBetween", {"column": "image_width", "min_value": 1}),
        ("ExpectColumnValuesToBeBetween", {"column": "image_height", "min_value": 1}),
        (
            "ExpectColumnValuesToBeBetween",
            {"column": "response_chars", "min_value": 1, "max_value": cfg.max_response_chars},
        ),
        ("ExpectColumnValuesToBeBetween", {"column": "n_checks", "min_value": 1}),
        ("ExpectColumnValuesToBeInSet", {"column": "all_checks_passed", "value_set": [True]}),
    ]
    for family, (lo, hi) in sorted(cfg.family_bounds.items()):
        suite.append(
            ("ExpectColumnMeanToBeBetween", {"column": f"is_{family}", "min_value": lo, "max_value": hi})
        )
    return suite
