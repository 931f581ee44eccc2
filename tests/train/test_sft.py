"""SFT: the loss falls on real records; a resumed run takes exactly the step an uninterrupted run takes."""

from train.checkpoint import latest_checkpoint, resume_from
from train.config import SftConfig
from train.metrics import MetricsLog, read_metrics
from train.policy import load_policy
from train.sft import train_sft


def _losses(path):
    return {r["step"]: r["loss"] for r in read_metrics(path) if r["stage"] == "sft"}


def test_loss_falls(policy, sft_dir, tmp_path):
    cfg = SftConfig(steps=12, lr=5e-3, warmup_steps=2, batch_size=2, grad_accum=2, log_every=1, save_every=12)
    train_sft(policy, cfg, sft_dir, tmp_path / "sft", 0, MetricsLog(tmp_path / "m.jsonl"))
    losses = _losses(tmp_path / "m.jsonl")
    assert sum(losses[s] for s in (10, 11, 12)) < sum(losses[s] for s in (1, 2, 3)) - 0.3
    assert latest_checkpoint(tmp_path / "sft").name == "step-000012"


def test_resume_gives_the_same_next_step_loss(tiny_dir, tiny_cfg, sft_dir, tmp_path):
    import torch

    cfg = SftConfig(
        steps=3, lr=5e-3, warmup_steps=1, batch_size=2, log_every=1, save_every=2, shuffle_buffer=4
    )
    torch.manual_seed(0)
    train_sft(
        load_policy(tiny_dir, tiny_cfg), cfg, sft_dir, tmp_path / "a", 0, MetricsLog(tmp_path / "a.jsonl")
    )
    stopped = SftConfig(**{**cfg.__dict__, "steps": 2})
    torch.manual_seed(0)
    train_sft(
        load_policy(tiny_dir, tiny_cfg), stopped, sft_dir, tmp_path / "b", 0, MetricsLog(tmp_path / "b.jsonl")
    )
    assert latest_checkpoint(tmp_path / "b").name == "step-000002"
    resumed = load_policy(resume_from(tmp_path / "b", tiny_dir), tiny_cfg)
    train_sft(resumed, cfg, sft_dir, tmp_path / "b", 0, MetricsLog(tmp_path / "b.jsonl"))
    a, b = _losses(tmp_path / "a.jsonl"), _losses(tmp_path / "b.jsonl")
    assert b[3] == a[3]
    assert b[1] == a[1] and b[2] == a[2]


def test_examples_mix_families_although_the_shards_are_sorted(policy, sft_dir):
    import itertools

    from train.data import sft_records
    from train.sft import sft_examples

    families = sorted({r.family for r in sft_records(sft_dir)})
    in_files = {r.family for r in itertools.islice(sft_records(sft_dir), 6)}
    streamed = [
        policy.tokenizer.decode(e.ids)
        for e in itertools.islice(sft_examples(policy, sft_dir, SftConfig(randomize_ids=False), 0), 6)
    ]
    mixed = {f for f in families for text in streamed if f"input/{f}-" in text}
    assert len(in_files) == 3  # the fixture's shards hold the families in blocks, like the pipeline's
    assert len(mixed) >= 4


def test_fixed_input_stem_names_the_input_in_the_prompt_and_the_code(policy, sft_dir):
    """With ``input_stem`` no record id survives: the prompt and every ``image_path`` line say image.<ext>."""
    import itertools
    import re

    from sandbox.layout import INPUT_DIR
    from train.data import sft_records
    from train.sft import sft_examples

    ids, opened = [r.id for r in sft_records(sft_dir)], 0
    for example in itertools.islice(
        sft_examples(policy, sft_dir, SftConfig(max_len=8192), 0, input_stem="image"), 8
    ):
        text = policy.tokenizer.decode(example.ids)
        paths = re.findall(re.escape(INPUT_DIR) + r"[\w.-]+", text)
        assert set(paths) <= {INPUT_DIR + "image.png", INPUT_DIR + "image.jpg"}
        assert len(set(paths)) == 1  # the code opens the file the prompt names
        assert not any(i in text for i in ids)
        opened += len(paths) > 1
    assert opened >= 4  # most examples open the input in their code


def test_shrunk_images_keep_the_format_and_what_the_model_sees(policy, sft_records):
    from train.data import image_name
    from train.sft import shrink_images

    record = next(r for r in sft_records if len(r.images) > 1)
    small = shrink_images(record, policy.vision.side)
    assert [image_name("x", i) for i in small.images] == [image_name("x", i) for i in record.images]
    assert sum(map(len, small.images)) < sum(map(len, record.images))
    for big, little in zip(record.images, small.images, strict=True):
        a, b = (
            policy.vision.encode([big])[1]["pixel_values"],
            policy.vision.encode([little])[1]["pixel_values"],
        )
        assert (a - b).abs().mean() < 0.02 if big[:2] == b"\xff\xd8" else bool((a == b).all())


def test_copy_weight_lands_on_the_code_path_only(policy, sft_dir):
    import itertools

    from train.sft import sft_examples

    weighted, plain_cfg = SftConfig(copy_weight=7, max_len=8192), SftConfig(max_len=8192)
    pairs = zip(
        sft_examples(policy, sft_dir, weighted, 0), sft_examples(policy, sft_dir, plain_cfg, 0), strict=False
    )  # both stream forever
    checked = 0
    for heavy, plain in itertools.islice(pairs, 12):
        assert heavy.ids == plain.ids and set(plain.mask) <= {0, 1}
        assert [m > 0 for m in heavy.mask] == [m > 0 for m in plain.mask]  # weights change, masks do not
        marked = [i for i, m in zip(heavy.ids, heavy.mask, strict=True) if m == 7]
        text = policy.tokenizer.decode(heavy.ids)
        if 'image_path = "/mnt/data/input/' in text:
            path = text.split('image_path = "', 1)[1].split('"', 1)[0]
            assert path.split("/")[-1].split(".")[0] in policy.tokenizer.decode(
                marked
            )  # the copied id, in the code
            assert path in text.split("<|im_start|>assistant", 1)[0]  # which the prompt shows
            checked += 1
        else:
            assert not marked
    assert checked >= 2


def test_copy_loss_is_logged_with_a_copy_weight(policy, sft_dir, tmp_path):
    cfg = SftConfig(
        steps=2, lr=1e-3, warmup_steps=1, batch_size=6, log_every=1, save_every=2, copy_weight=5, max_len=8192
    )
    train_sft(policy, cfg, sft_dir, tmp_path / "sft", 0, MetricsLog(tmp_path / "m.jsonl"))
    rows = [r for r in read_metrics(tmp_path / "m.jsonl") if r["stage"] == "sft"]
    assert all(r["copy_loss"] > 0 and r["loss"] > 0 for r in rows)
