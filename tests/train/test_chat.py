"""Loss masks on rendered examples: only model-written tokens train; sandbox outputs and images never do."""

from synthesis import format as fmt
from train.chat import Chunk, encode, response_chunks
from train.sft import record_chunks

RESPONSE = (
    "<think>look<code>\n```python\nprint(1)\n```\n</code><sandbox_output><image></sandbox_output>"
    "again<code>\n```python\nprint(2)\n```\n</code><sandbox_output>2</sandbox_output>"
    "done</think> <answer>2</answer>"
)


def _trained_text(policy, enc):
    return policy.tokenizer.decode([i for i, m in zip(enc.ids, enc.mask, strict=True) if m])


def test_response_chunks_split_model_text_from_sandbox_outputs():
    chunks = response_chunks(RESPONSE, [b"crop"], end="<|im_end|>")
    assert [(c.trainable, c.images) for c in chunks] == [
        (True, ()),
        (False, (b"crop",)),
        (True, ()),
        (False, ()),
        (True, ()),
    ]
    assert chunks[1].text == "<sandbox_output><image></sandbox_output>"
    assert chunks[-1].text == "done</think> <answer>2</answer><|im_end|>"


def test_last_round_only_masks_every_round_before_the_last_code_round():
    chunks = response_chunks(RESPONSE, [b"crop"], last_round_only=True, end="")
    assert [c.trainable for c in chunks] == [False, False, True, False, True]
    single = response_chunks(
        "<think>a<code>c</code><sandbox_output>1</sandbox_output>b", last_round_only=True
    )
    assert [c.trainable for c in single] == [True, False, True]


def test_encoded_record_trains_exactly_the_model_written_text(policy, sft_records):
    record = next(r for r in sft_records if r.family == "multi_round")
    enc = encode(record_chunks(record), policy.tokenizer, policy.vision)
    expected = "".join(c.text for c in response_chunks(record.response, record.images[1:]) if c.trainable)
    assert _trained_text(policy, enc) == expected
    assert fmt.OUTPUT_OPEN not in expected and fmt.OUTPUT_CLOSE not in expected
    image_id = policy.vision.token_ids["image"]
    per_image = policy.vision.tokens_per_image
    assert enc.ids.count(image_id) == per_image * len(record.images)
    assert all(m == 0 for i, m in zip(enc.ids, enc.mask, strict=True) if i == image_id)
    assert enc.pixels["pixel_values"].shape[0] == len(record.images) == enc.images


def test_prompt_is_never_trained(policy, sft_records):
    enc = encode(record_chunks(sft_records[0]), policy.tokenizer, policy.vision)
    first = enc.mask.index(1)
    assert policy.tokenizer.decode(enc.ids[:first]).endswith("<|im_start|>assistant\n")
    assert policy.tokenizer.decode(enc.ids[first : first + 1]) == "<think>"


def test_truncation_never_splits_an_image_block(policy):
    per = policy.vision.tokens_per_image
    chunks = [Chunk("a<image>", False, (b"",)), Chunk("bb", True), Chunk("<image>", False, (b"",))]
    from io import BytesIO

    from PIL import Image

    buf = BytesIO()
    Image.new("RGB", (40, 40)).save(buf, format="PNG")
    chunks = [Chunk(c.text, c.trainable, (buf.getvalue(),) * len(c.images)) for c in chunks]
    full = encode(chunks, policy.tokenizer, policy.vision)
    cut = encode(chunks, policy.tokenizer, policy.vision, max_len=len(full.ids) - 2)
    assert cut.truncated and cut.images == 1
    assert len(cut.ids) == len(full.ids) - per and cut.pixels["pixel_values"].shape[0] == 1


def test_path_randomisation_renames_the_prompt_path_and_the_code_consistently(sft_records):
    import random

    from train.copy_drills import random_id

    record = next(r for r in sft_records if r.family == "crop")
    new = random_id(record.id, random.Random(0))
    chunks = record_chunks(record, rename=new)
    text = "".join(c.text for c in chunks)
    assert record.id not in text
    assert f"/mnt/data/input/{new}." in chunks[0].text and f"/mnt/data/input/{new}." in chunks[1].text
    assert new.split("-")[0] == record.id.split("-")[0]
