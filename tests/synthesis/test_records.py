"""Record schemas: Parquet round trip, `datasets` decoding, byte-identical writes, dead-letter replay."""

import io

import datasets
import pyarrow.parquet as pq
import pytest
from PIL import Image

from synthesis.records import (
    DEAD_LETTER_SCHEMA,
    RL_SCHEMA,
    SFT_SCHEMA,
    Check,
    DeadLetter,
    Execution,
    Provenance,
    RlPrompt,
    SftRecord,
    decode_payload,
    encode_payload,
    to_table,
)


def _png(color, size=(32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _sft(i: int) -> SftRecord:
    return SftRecord(
        id=f"crop-{i:06d}",
        images=(_png((i, 0, 0)), _png((0, i, 0), (16, 16))),
        question=f"What is written on sign {i}?",
        image_size=(32, 24),
        response="<think>look<code>\n```python\nprint(1)\n```\n</code><sandbox_output><image></sandbox_output>ok</think>\n<answer>A</answer>",
        answer="A",
        answer_type="choice",
        family="crop",
        task_params={"target": [1, 2, 3, 4], "zoom": 2.0},
        executions=(
            Execution(
                code="print(1)",
                code_as_run="print(1)",
                status="ok",
                stdout="1",
                fixes=("fix_crop_clamp",),
                image_indices=(1,),
            ),
        ),
        checks=(
            Check(name="format", passed=True),
            Check(name="answer", passed=False, reason="answer_mismatch", detail="got B"),
        ),
        provenance=Provenance(
            source="generated",
            generator="programmatic",
            generator_version="0.1.0",
            seed=i,
            sandbox_config_hash="abc",
        ),
    )


def test_sft_parquet_round_trip_is_lossless(tmp_path):
    records = [_sft(i) for i in range(5)]
    path = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(to_table([r.to_row() for r in records], SFT_SCHEMA), path)
    table = pq.read_table(path)
    assert table.schema.metadata == SFT_SCHEMA.metadata  # the `datasets` features travel with the file
    assert table.cast(SFT_SCHEMA).schema.equals(SFT_SCHEMA)  # Parquet only renames list items ("element")
    assert [SftRecord.from_row(row) for row in table.to_pylist()] == records


def test_same_rows_give_byte_identical_files(tmp_path):
    rows = [_sft(i).to_row() for i in range(3)]
    for name in ("a.parquet", "b.parquet"):
        pq.write_table(to_table(rows, SFT_SCHEMA), tmp_path / name)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_datasets_loads_sft_shards_with_images_decoded(tmp_path):
    records = [_sft(i) for i in range(4)]
    (tmp_path / "data").mkdir()
    pq.write_table(
        to_table([r.to_row() for r in records], SFT_SCHEMA),
        tmp_path / "data" / "train-00000-of-00001.parquet",
    )
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "data" / "*.parquet"), split="train")
    assert len(ds) == 4
    row = ds[2]
    assert isinstance(row["images"][0], Image.Image)
    assert row["images"][0].size == (32, 24) and row["images"][1].size == (16, 16)
    assert row["images"][0].getpixel((0, 0)) == (2, 0, 0)
    assert row["executions"][0]["fixes"] == ["fix_crop_clamp"]
    assert row["checks"][1] == {
        "name": "answer",
        "passed": False,
        "reason": "answer_mismatch",
        "detail": "got B",
    }


def test_datasets_loads_rl_prompts_with_image_decoded(tmp_path):
    prompt = RlPrompt(
        id="rotate-000001",
        image=_png((9, 9, 9)),
        question="What does it say?",
        image_size=(32, 24),
        answer="7",
        answer_type="number",
        family="rotate",
        difficulty=0.25,
        choices=("6", "7"),
        task_params={"rotation": 90},
        provenance=Provenance(source="generated", generator="rotate", generator_version="0.1.0", seed=1),
    )
    pq.write_table(to_table([prompt.to_row()], RL_SCHEMA), tmp_path / "rl.parquet")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "rl.parquet"), split="train")
    assert isinstance(ds[0]["image"], Image.Image) and ds[0]["image"].getpixel((1, 1)) == (9, 9, 9)
    assert ds[0]["choices"] == ["6", "7"] and ds[0]["difficulty"] == 0.25


def test_dead_letter_keeps_complete_payload_for_replay(tmp_path):
    payload = {
        "task": {"image": _png((1, 2, 3)), "question": "q", "box": (1, 2, 3, 4)},
        "raw": [b"\x00\xff", None],
    }
    letter = DeadLetter(
        id="crop-000001",
        stage="execute",
        reason="exec_timeout",
        detail="block 1 ran past 10 s",
        payload=payload,
    )
    pq.write_table(to_table([letter.to_row()], DEAD_LETTER_SCHEMA), tmp_path / "dl.parquet")
    back = DeadLetter.from_row(pq.read_table(tmp_path / "dl.parquet").to_pylist()[0])
    assert back.payload["task"]["image"] == payload["task"]["image"]
    assert back.payload["task"]["box"] == [1, 2, 3, 4]
    assert back.payload["raw"] == [b"\x00\xff", None]
    assert (back.id, back.stage, back.reason) == ("crop-000001", "execute", "exec_timeout")


def test_payload_encoding_never_fails_on_odd_values():
    text, blobs = encode_payload({"obj": object(), "exc": ValueError("bad"), 3: {1.5, 2.5}})
    decoded = decode_payload(text, blobs)
    assert decoded["exc"] == {"__repr__": "ValueError('bad')"}
    assert "__repr__" in decoded["obj"] and "3" in decoded


def test_rows_contain_no_wall_clock_fields():
    names = {f.name for f in SFT_SCHEMA} | {f.name for f in SFT_SCHEMA.field("executions").type.value_type}
    assert not {"duration", "duration_s", "wall_s", "cpu_s", "timestamp", "created_at"} & names


@pytest.mark.parametrize("schema", [SFT_SCHEMA, RL_SCHEMA, DEAD_LETTER_SCHEMA])
def test_schemas_carry_huggingface_features(schema):
    assert b"huggingface" in schema.metadata
    assert datasets.Features.from_arrow_schema(schema).arrow_schema.equals(schema)
