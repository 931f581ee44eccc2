"""The run report's files: made from a run's output alone, streamed by row group, every record paged, each
image written once; the turns of a trajectory; the command on an existing folder; a real build_rl run's
report."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from report_rows import dead_letter, record, write_run

from pipelines import build_rl
from pipelines.report import images, write_report
from pipelines.report.__main__ import main
from pipelines.report.images import image_key
from pipelines.report.site_writer import SiteWriter
from pipelines.report.trajectory import turns_of
from runconfig.root import load_config
from synthesis.format import Code, SandboxOutput, Text, Trajectory, render
from synthesis.records import DEAD_LETTER_SCHEMA, DeadLetter, to_table

ROOT = Path(__file__).resolve().parents[2]


def data_of(path: Path) -> list:
    """The arguments of a data script ``REPORT.fn(args);`` (the index array ends in a comma, as JS allows)."""
    text = path.read_text()
    body = text[text.index("(") + 1 : text.rindex(")")]
    return json.loads(f"[{body}]".replace(",\n]", "\n]"))


def records_of(root: Path) -> list[dict]:
    return [r for page in sorted((root / "data" / "pages").iterdir()) for r in data_of(page)[1]]


@pytest.fixture
def small_run(tmp_path):
    return write_run(tmp_path / "run", accepted=23, dead=6, rows_per_group=4, rows_per_shard=10)


def test_every_record_is_paged_in_order_with_its_index_row(small_run):
    root = write_report(small_run, page_size=10).parent
    assert sorted(p.name for p in root.iterdir()) == [
        "data",
        "images",
        "index.html",
        "report.css",
        "report.js",
        "thumbs",
    ]
    assert sorted(p.name for p in (root / "data" / "pages").iterdir()) == [
        "p00000.js",
        "p00001.js",
        "p00002.js",
    ]
    ids = [record(i).id for i in range(23)] + [dead_letter(23 + i).id for i in range(6)]
    [rows] = data_of(root / "data" / "index.js")
    assert [r[0] for r in rows] == ids == [v["id"] for v in records_of(root)]
    assert [r[1] for r in rows] == ["a"] * 23 + ["d"] * 6
    [summary] = data_of(root / "data" / "summary.js")
    site = summary["site"]
    family = dict(zip(site["facets"]["family"]["values"], site["facets"]["family"]["counts"], strict=True))
    assert family == {"crop": 8 + 1, "rotate": 8 + 3 + 1, "contrast": 7 + 1}  # dead letters: by their input
    reasons = dict(zip(site["facets"]["reason"]["values"], site["facets"]["reason"]["counts"], strict=True))
    assert reasons == {"answer_mismatch": 3, "exception_ValueError": 3}
    assert site["facets"]["check"]["values"] == [
        "format:passed",
        "answer:passed",
        "images:passed",
        "answer:failed",
    ]
    assert [site["facets"]["family"]["values"][r[2]] for r in rows[:3]] == ["crop", "rotate", "contrast"]
    assert summary["totals"]["accepted"] == 23 and summary["reason"] == {
        "generate/exception_ValueError": 3,
        "validate/answer_mismatch": 3,
    }
    assert summary["costs"]["metrics"]["sandbox_cpu_ms_mean"] == 10.0
    assert data_of(root / "data" / "text" / "t0000.js")[1][0].startswith("crop-000000 crop")


def test_each_distinct_image_is_written_once_as_its_own_bytes(small_run):
    root = write_report(small_run).parent
    blobs = {
        image_key(b): b
        for folder, column in (("data", "images"), ("dead_letter", "payload_blobs"))
        for f in sorted((small_run / folder).glob("*.parquet"))
        for row in pq.read_table(f).to_pylist()
        for b in (img["bytes"] if isinstance(img, dict) else img for img in row[column])
    }
    fulls = {p.stem: p.read_bytes() for p in (root / "images").rglob("*.png")}
    assert fulls == blobs  # the original bytes, never re-encoded, one file per distinct image
    assert {p.stem for p in (root / "thumbs").rglob("*.jpg")} == set(blobs)
    views = records_of(root)
    first = views[0]["images"][0]
    assert (
        first["thumb"] == f"thumbs/{first['key'][:2]}/{first['key']}.jpg" and (root / first["full"]).is_file()
    )
    assert (first["w"], first["h"]) == (48, 32)
    [rows] = data_of(root / "data" / "index.js")
    assert (
        rows[0][6] == first["key"] and rows[23][6] == ""
    )  # the list's thumbnail; a generator error has none


def test_a_dead_letter_shows_its_input_as_a_record_and_keeps_a_broken_image(small_run):
    broken = b"\x89PNG but not really"
    row = {**record(0).to_row(), "images": [{"bytes": broken, "path": None}], "response": "no tags at all"}
    letter = DeadLetter(
        id="crop-broken", stage="validate", reason="images_undecodable", detail="x", payload=row
    )
    path = small_run / "dead_letter" / "dead_letter-00001-of-00001.parquet"
    pq.write_table(to_table([letter.to_row()], DEAD_LETTER_SCHEMA), path)
    root = write_report(small_run).parent
    views = {v["id"]: v for v in records_of(root)}
    mismatch = views[dead_letter(24).id]
    assert (mismatch["stage"], mismatch["reason"]) == ("validate", "answer_mismatch")
    assert [c["passed"] for c in mismatch["record"]["checks"]] == [True, False]
    assert mismatch["record"]["trajectory"]["turns"][0]["images"] == [1]
    assert [img["key"] for img in mismatch["record"]["images"]] == [image_key(b) for b in record(24).images]
    assert '"__blob__": 0' in mismatch["payload"] and mismatch["blobs"] == [len(b) for b in record(24).images]
    exploded = views[dead_letter(23).id]
    assert exploded["record"]["family"] == "rotate" and exploded["record"]["images"] == []
    shown = views["crop-broken"]["record"]
    [image] = shown["images"]
    assert image["thumb"] == "" and image["error"].startswith("UnidentifiedImageError")
    assert (root / image["full"]).read_bytes() == broken
    assert shown["trajectory"]["raw"] == "no tags at all" and "format_" in shown["trajectory"]["error"]
    assert shown["executions"][0]["status"] == "ok"  # no turn to attach it to: listed on its own


def test_shards_are_read_one_row_group_at_a_time(small_run, monkeypatch):
    groups = []
    read_row_group = pq.ParquetFile.read_row_group

    def spy(self, i, *args, **kwargs):
        groups.append(i)
        return read_row_group(self, i, *args, **kwargs)

    def whole(*args, **kwargs):
        raise AssertionError("a whole shard was read at once")

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", spy)
    monkeypatch.setattr(pq.ParquetFile, "read", whole)
    monkeypatch.setattr(pq, "read_table", whole)
    write_report(small_run)
    assert groups == [0, 1, 2, 0, 1, 2, 0, 0, 1]  # data: 10 + 10 + 3 rows in groups of 4; dead letters: 6


def test_the_command_rewrites_the_report_of_an_existing_folder(small_run, capsys):
    write_report(small_run)
    (small_run / "report" / "stale.txt").write_text("from an older report")
    assert main([str(small_run), "--page-size", "5"]) == 0
    assert "report/index.html" in capsys.readouterr().err
    assert not (small_run / "report" / "stale.txt").exists()
    assert len(list((small_run / "report" / "data" / "pages").iterdir())) == 6
    assert not (small_run / ".report-staging").exists()


def test_a_folder_without_shards_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        write_report(tmp_path)


def test_turns_pair_each_block_with_its_execution_and_images():
    segments = (
        Text("Crop."),
        Code("a = 1"),
        SandboxOutput(1),
        Code("b = 2"),
        SandboxOutput(2),
        Text("Compute."),
        Code("print(3)"),
        SandboxOutput(0, "3"),
        Text("So 3."),
    )
    runs = [{"status": "ok"}, {"status": "error"}, {"status": "ok"}]
    got = turns_of(render(Trajectory(segments, "\n", "3")), runs)
    assert got["answer"] == "3"
    assert [(t["text"], t["code"], t["images"], t["output"]) for t in got["turns"]] == [
        ("Crop.", "a = 1", [1], ""),
        ("", "b = 2", [2, 3], ""),
        ("Compute.", "print(3)", [], "3"),
        ("So 3.", None, [], ""),
    ]
    assert [t["exec"] for t in got["turns"]] == [*runs, None]
    assert turns_of("<think>x</think>", [])["error"].startswith("invalid trajectory")


def test_images_already_there_are_named_not_rendered_and_ones_no_longer_shown_go(small_run, monkeypatch):
    first = write_report(small_run).parent
    before = {p.relative_to(first): p.read_bytes() for p in first.rglob("*.*") if p.parent.name != "pages"}
    stray = first / "thumbs" / "zz" / "zz00000000000000.jpg"  # an image of an older run, shown no more
    stray.parent.mkdir()
    stray.write_bytes(b"old")
    rendered: list[int] = []
    real = images._jpegs
    monkeypatch.setattr(
        images, "_jpegs", lambda data, sides: (rendered.append(len(sides)), real(data, sides))[1]
    )
    root = write_report(small_run).parent
    assert rendered and not any(rendered)  # every image file was there: named, none rendered
    assert not stray.exists()
    after = {p.relative_to(root): p.read_bytes() for p in root.rglob("*.*") if p.parent.name != "pages"}
    assert after == before


def test_a_report_that_fails_half_way_leaves_the_previous_one_whole(small_run, monkeypatch):
    root = write_report(small_run).parent
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    monkeypatch.setattr(
        SiteWriter, "close", lambda self, summary: (_ for _ in ()).throw(OSError("disk full"))
    )
    with pytest.raises(OSError, match="disk full"):
        write_report(small_run)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files


def test_a_real_build_rl_run_writes_its_report(tmp_path, monkeypatch):
    """The workers render every image as prompts pass; the launcher's report finds them all there."""
    found: list[set[str]] = []
    real = build_rl.write_report

    def spy(run_dir):
        found.append({str(p.relative_to(run_dir / "report")) for p in (run_dir / "report").rglob("*.*")})
        return real(run_dir)

    monkeypatch.setattr(build_rl, "write_report", spy)
    cfg = load_config(
        ROOT / "pipeline.yaml", [f"run.output_dir={tmp_path}", "tasks.count=3", "runner.kind=in_process"]
    )
    assert build_rl.run(cfg) == 0
    root = tmp_path / "thyme-rl" / "report"
    shown = {name for v in records_of(root) for i in v["images"] for name in (i["full"], i["thumb"])}
    assert len(shown) == 6 and shown == found[0]  # a thumbnail and a preview each, all rendered before
    views = records_of(root)
    assert len(views) == 3 and all(len(v["images"]) == 1 and v["images"][0]["thumb"] for v in views)
    assert all("difficulty" in v and "trajectory" not in v for v in views)
    assert data_of(root / "data" / "summary.js")[0]["run"]["pipeline"] == "build_rl"


def test_a_large_canvas_is_shown_as_a_preview_and_a_small_image_as_itself(tmp_path):
    """Originals above PREVIEW_BYTES would double a run's disk: they become JPEG previews, marked as such."""
    import io

    from PIL import Image

    from pipelines.report.images import PREVIEW_BYTES, PREVIEW_SIDE, write_images

    def png(size: tuple[int, int]) -> bytes:
        buf = io.BytesIO()
        Image.effect_noise(size, 64).convert("RGB").save(buf, "PNG")  # noise: a PNG as large as its pixels
        return buf.getvalue()

    big, small = png((2400, 1200)), png((300, 200))
    assert len(big) > PREVIEW_BYTES >= len(small)
    big_view, small_view = write_images(tmp_path, [big, small])
    assert big_view["preview"] and big_view["full"].endswith(".preview.jpg")
    assert (big_view["w"], big_view["h"], big_view["bytes"]) == (2400, 1200, len(big))  # of the exact image
    with Image.open(tmp_path / big_view["full"]) as shown:
        assert shown.format == "JPEG" and max(shown.size) == PREVIEW_SIDE
    assert not small_view["preview"] and (tmp_path / small_view["full"]).read_bytes() == small
