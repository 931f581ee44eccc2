"""The corpus is well-formed in the released Thyme-SFT layout and has the promised mix of verdicts.

Only the shape is checked here (files, column types, base64 lists, the question template, counts); whether our
importer and validators give every row its verdict is the pipeline's test.
"""

import base64
import binascii
import io
import re
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from thyme_corpus import SHARDS, SIDECAR, SUBSETS, read_expectations, write_corpus
from thyme_corpus.build import ROWS_PER_GROUP

_QUESTION = re.compile(
    r'<image>\n(?P<q>.+)\n\n### User Image Path:\*\* "(?P<path>/[^"\n]+)"\n'
    r'### User Image Size:\*\* "(?P<w>\d+)x(?P<h>\d+)"'
    r"\n\n### \*\*Output Format \(strict adherence required\):\*\*\n\n"
    r"<think>Your detailed reasoning process, including any code, should go here\.</think>\n"
    r"<answer>Your final answer to the user's question goes here\.</answer>\n",
    re.DOTALL,
)
_RESPONSE = re.compile(r"<think>(?P<body>.*)</think>\s<answer>(?P<answer>.+)</answer>", re.DOTALL)
CROP_FIXES = {"fix_crop_clamp", "fix_slice_clamp"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("thyme_corpus")
    paths = write_corpus(folder)
    expected = read_expectations(folder)
    rows = {(p.name, i): row for p in paths for i, row in enumerate(pq.read_table(p).to_pylist())}
    return folder, paths, expected, rows


def _decode(item: str) -> bytes:
    return base64.b64decode(item, validate=True)


def test_files_and_columns(corpus):
    folder, paths, expected, rows = corpus
    names = sorted(p.name for p in paths)
    want = sorted(f"{split}-{k:05d}-of-{n:05d}.parquet" for split, n in SHARDS.values() for k in range(n))
    assert names == want
    assert sorted(p.name for p in folder.iterdir()) == sorted([*want, SIDECAR])
    for path in paths:
        meta = pq.ParquetFile(path)
        assert meta.schema_arrow == pa.schema(
            [("image", pa.list_(pa.string())), ("question", pa.string()), ("response", pa.string())]
        )
        groups = [meta.metadata.row_group(g).num_rows for g in range(meta.num_row_groups)]
        assert all(n == ROWS_PER_GROUP for n in groups[:-1]) and 0 < groups[-1] <= ROWS_PER_GROUP
    assert set(expected) == set(rows)


def test_counts(corpus):
    _, _, expected, _ = corpus
    entries = list(expected.values())
    verdicts = Counter(e["verdict"]["expect"] for e in entries)
    assert len(entries) >= 66 and verdicts["accept"] >= 48 and verdicts["reject"] >= 12
    assert len({e["key"] for e in entries}) == len(entries)
    subsets = Counter(e["subset"] for e in entries)
    assert set(subsets) == set(SUBSETS) and subsets["single_round"] > subsets["two_round"] >= 10
    assert subsets["computation"] >= 10
    for subset in SUBSETS:
        mine = Counter(e["verdict"]["expect"] for e in entries if e["subset"] == subset)
        assert mine["accept"] >= 8 and mine["reject"] >= 3, subset
    stages = Counter(e["verdict"]["stage"] for e in entries if e["verdict"]["expect"] == "reject")
    assert stages["import"] >= 10 and stages["validate"] >= 3
    fixups = [e for e in entries if e["needs_fixups"]]
    assert len(fixups) >= 6 and all(e["verdict"]["expect"] == "accept" for e in fixups)
    assert sum(bool(CROP_FIXES & set(e["fixes"])) for e in fixups) >= 6
    assert any("fix_precision" in e["fixes"] for e in fixups)


def test_verdict_shapes(corpus):
    _, _, expected, _ = corpus
    for entry in expected.values():
        for verdict in (entry["verdict"], entry["strict"]):
            if verdict["expect"] == "accept":
                assert verdict == {"expect": "accept"}
            else:
                assert (
                    verdict["stage"] in ("import", "validate")
                    and verdict["reason_prefix"]
                    and verdict["defect"]
                )
        if not entry["needs_fixups"]:
            assert entry["strict"] == entry["verdict"]
        else:
            assert entry["strict"]["expect"] == "reject" and entry["strict"]["stage"] == "import"


def test_rows_in_released_layout(corpus):
    _, _, expected, rows = corpus
    for where, row in rows.items():
        entry = expected[where]
        reason = entry["verdict"].get("reason_prefix", "")
        assert (
            isinstance(row["image"], list) and row["image"] and all(isinstance(s, str) for s in row["image"])
        )
        match = _QUESTION.fullmatch(row["question"])
        assert match, where
        if reason == "import_bad_image":  # the row's defect is an image that cannot be read
            continue
        images = [_decode(s) for s in row["image"]]
        with Image.open(io.BytesIO(images[0])) as original:
            size = original.size
            assert original.format in ("JPEG", "PNG")
        stated_wrong = reason == "import_image_size_mismatch" and "question" in entry["verdict"]["defect"]
        assert ((int(match["w"]), int(match["h"])) == size) != stated_wrong, where
        for data in images[1:]:
            with Image.open(io.BytesIO(data)) as processed:
                assert processed.format in ("JPEG", "PNG") and min(processed.size) >= 64
        if entry["verdict"]["expect"] == "accept":
            response = _RESPONSE.fullmatch(row["response"])
            assert response and response["answer"].strip(), where
            assert row["response"].count("<image>") == len(images) - 1, where
            assert row["response"].count("<code>") == row["response"].count("</code>")
            assert "/mnt/data/input/" not in row["response"] + row["question"], where


def test_undecodable_images_are_rejects(corpus):
    _, _, expected, rows = corpus
    for where, row in rows.items():
        try:
            for item in row["image"]:
                with Image.open(io.BytesIO(_decode(item))) as image:
                    image.load()
        except (binascii.Error, ValueError, OSError):
            assert expected[where]["verdict"].get("reason_prefix") == "import_bad_image", where


def test_original_formats_vary(corpus):
    _, _, _, rows = corpus
    kinds = Counter()
    for row in rows.values():
        try:
            with Image.open(io.BytesIO(_decode(row["image"][0]))) as image:
                kinds[(image.format, image.mode)] += 1
        except (binascii.Error, ValueError, OSError):
            continue
    assert {("JPEG", "RGB"), ("PNG", "RGB"), ("PNG", "RGBA"), ("PNG", "P")} <= set(kinds)
