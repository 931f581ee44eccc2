"""Duplicates: exact and near keys, the reference index (records and Parquet), in-run dedupe."""

import io

import numpy as np
import pyarrow.parquet as pq
from PIL import Image, ImageEnhance

from synthesis.records import SFT_SCHEMA, SftRecord, to_table
from validators.duplicates import DuplicateIndex, dedupe, dhash, exact_key, hamming, near_key, near_keys


def _png(image: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def _scene(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).resize(
        (320, 240), Image.Resampling.BICUBIC
    )


def _rec(
    rid: str, image: bytes, question: str = "What colour is the star?", answer: str = "red"
) -> SftRecord:
    return SftRecord(
        id=rid,
        images=(image,),
        question=question,
        image_size=(320, 240),
        response="",
        answer=answer,
        answer_type="text",
        family="crop",
    )


def test_exact_key_ignores_question_case_and_spacing():
    img = _png(_scene(0))
    assert exact_key(_rec("a", img)) == exact_key(_rec("b", img, "what colour is the  star"))
    assert exact_key(_rec("a", img)) != exact_key(_rec("a", img, "What colour is the circle?"))


def test_dhash_is_robust_to_reencoding_and_small_edits():
    base = _scene(1)
    same = [
        _png(base, "JPEG"),
        _png(ImageEnhance.Brightness(base).enhance(1.05)),
        _png(base.resize((300, 225))),
    ]
    for variant in same:
        assert hamming(dhash(_png(base)), dhash(variant)) <= 6
    assert hamming(dhash(_png(base)), dhash(_png(_scene(2)))) > 12


def test_index_exact_and_near_and_distinct():
    base = _png(_scene(3))
    index = DuplicateIndex.from_records([_rec("ref", base)])
    assert index.seen(_rec("x", base)).reason == "duplicates_exact"
    near = index.seen(_rec("y", _png(_scene(3), "JPEG"), "WHAT colour is the star"))
    assert near.reason == "duplicates_near" and "ref" in near.detail
    assert index.seen(_rec("z", _png(_scene(4)))).passed
    assert index.seen(
        _rec("w", _png(_scene(3), "JPEG"), "How many stars?")
    ).passed  # same image, new question
    assert index.seen(_rec("v", _png(_scene(3), "JPEG"), answer="The red.")).reason == "duplicates_near"


def test_look_alike_images_with_different_answers_are_not_near_duplicates():
    # Same layout, different colour: the grey 9x8 dHash is identical, the task is not.
    def square(colour: str) -> bytes:
        image = Image.new("RGB", (320, 240), "white")
        image.paste(colour, (100, 60, 220, 180))
        return _png(image)

    red, blue = square("red"), square("blue")
    assert hamming(dhash(red), dhash(blue)) <= 6
    question = "What colour is the large square?"
    index = DuplicateIndex.from_records([_rec("a", red, question, "red")])
    assert index.seen(_rec("b", blue, question, "blue")).passed
    assert index.seen(_rec("c", blue, question, "Red")).reason == "duplicates_near"
    assert not set(near_keys(_rec("a", red, question, "red"))) & set(
        near_keys(_rec("b", blue, question, "blue"))
    )


def test_near_keys_share_a_band_for_near_pairs():
    a, b = _rec("a", _png(_scene(5))), _rec("b", _png(_scene(5), "JPEG"))
    assert hamming(dhash(a.images[0]), dhash(b.images[0])) <= 6
    assert set(near_keys(a)) & set(near_keys(b))
    assert len(near_keys(a, 6)) == 7 and near_key(a).startswith(f"{dhash(a.images[0]):016x}:")


def test_index_from_parquet(tmp_path):
    rows = [_rec("r1", _png(_scene(6))).to_row(), _rec("r2", _png(_scene(7))).to_row()]
    pq.write_table(to_table(rows, SFT_SCHEMA), tmp_path / "train-00000-of-00001.parquet")
    index = DuplicateIndex.from_parquet(tmp_path)
    assert len(index) == 2
    assert index.seen(_rec("new", _png(_scene(7)))).reason == "duplicates_exact"


def test_dedupe_keeps_smallest_id():
    img = _png(_scene(8))
    verdicts = dedupe(
        [_rec("b", img), _rec("a", img), _rec("c", _png(_scene(8), "JPEG")), _rec("d", _png(_scene(9)))]
    )
    assert {k: v.reason for k, v in verdicts.items()} == {
        "a": "",
        "b": "duplicates_exact",
        "c": "duplicates_near",
        "d": "",
    }
