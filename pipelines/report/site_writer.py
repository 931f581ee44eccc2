"""The report's data files, streamed: record pages, the filter index and search text, each written once.

Every file is a script that hands its data to the page (``REPORT.page(n, [...])``): Chromium forbids
``fetch()`` from ``file://``, but a ``<script src>`` added on demand loads, so the site opens from disk with
no server. Records are numbered in the order they arrive (the ordinal); record ``i`` is entry
``i % page_size`` of page ``i // page_size`` and of search chunk ``i // TEXT_CHUNK``. The index holds one
short row per record, so opening the report costs one small file however many records there are; pages and
search text load on demand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from pipelines.report.views import Entry

__all__ = ["TEXT_CHUNK", "Facet", "SiteWriter"]

TEXT_CHUNK = 5000  # records per search-text file: loaded the first time the free-text filter is used


class Facet:
    """The distinct values of one filter, numbered in order of first sight, with a count each."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.counts: list[int] = []
        self._number: dict[str, int] = {}

    def number(self, value: str) -> int:
        """The number of ``value`` (-1 for ""), counted once more.

        Example:
            >>> f = Facet()
            >>> [f.number(v) for v in ("crop", "", "rotate", "crop")], f.counts
            ([0, -1, 1, 0], [2, 1])
        """
        if not value:
            return -1
        n = self._number.setdefault(value, len(self.values))
        if n == len(self.values):
            self.values.append(value)
            self.counts.append(0)
        self.counts[n] += 1
        return n

    def table(self) -> dict[str, list]:
        return {"values": self.values, "counts": self.counts}


class SiteWriter:
    """Streams record views into page files, index rows into ``data/index.js`` and search text into chunks."""

    def __init__(self, root: Path, page_size: int) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self.root, self.page_size, self.count = root, page_size, 0
        self.facets = {name: Facet() for name in ("family", "stage", "reason", "check")}
        self.checksets: dict[tuple[int, ...], int] = {}
        (root / "data" / "pages").mkdir(parents=True, exist_ok=True)
        (root / "data" / "text").mkdir(parents=True, exist_ok=True)
        self._index: IO[str] = (root / "data" / "index.js").open("w", encoding="utf-8")
        self._index.write("REPORT.index([\n")
        self._page: list[dict[str, Any]] = []
        self._text: list[str] = []

    def add(self, view: dict[str, Any], entry: Entry) -> None:
        """Add the next record (ordinal ``self.count``); full pages and chunks go to disk at once."""
        check = self.facets["check"]
        checks = tuple(sorted(check.number(f"{n}:{'passed' if ok else 'failed'}") for n, ok in entry.checks))
        row = [
            entry.id,
            entry.kind,
            self.facets["family"].number(entry.family),
            self.facets["stage"].number(entry.stage),
            self.facets["reason"].number(entry.reason),
            self.checksets.setdefault(checks, len(self.checksets)),
            _first_thumb(view),
        ]
        self._index.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + ",\n")
        self._page.append(view)
        self._text.append(entry.text)
        self.count += 1
        if len(self._page) == self.page_size:
            self._flush_page()
        if len(self._text) == TEXT_CHUNK:
            self._flush_text()

    def close(self, summary: dict[str, Any]) -> None:
        """Write what is left, end the index and write ``data/summary.js`` (run summary plus facets)."""
        self._flush_page()
        self._flush_text()
        self._index.write("]);\n")
        self._index.close()
        meta = {
            "total": self.count,
            "page_size": self.page_size,
            "text_chunk": TEXT_CHUNK,
            "facets": {name: f.table() for name, f in self.facets.items()},
            "checksets": [list(c) for c in sorted(self.checksets, key=self.checksets.__getitem__)],
        }
        _script(self.root / "data" / "summary.js", "REPORT.summary", {**summary, "site": meta})

    def _flush_page(self) -> None:
        if self._page:
            n = (self.count - 1) // self.page_size
            _script(self.root / "data" / "pages" / f"p{n:05d}.js", "REPORT.page", n, self._page)
            self._page = []

    def _flush_text(self) -> None:
        if self._text:
            n = (self.count - 1) // TEXT_CHUNK
            _script(self.root / "data" / "text" / f"t{n:04d}.js", "REPORT.text", n, self._text)
            self._text = []


def _first_thumb(view: dict[str, Any]) -> str:
    """The image key of the record's first thumbnail, "" when it has none (the list shows it)."""
    images = view["images"] if "images" in view else view.get("record", {}).get("images", [])
    return images[0]["key"] if images and images[0]["thumb"] else ""


def _script(path: Path, function: str, *args: Any) -> None:
    """A script that calls ``function`` with ``args`` as JSON (JSON is valid JavaScript)."""
    text = ",".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in args)
    path.write_text(f"{function}({text});\n", "utf-8")
