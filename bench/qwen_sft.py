"""SFT throughput of the tiny Qwen2-VL against the tiny LLaVA: same sizes, same records, same loop.

Usage::

    python bench/qwen_sft.py --sft-data DIR [--steps 20] [--batch 4] [--image-size 64] [--threads 1]

Both models are built from the same ``ModelConfig`` (random weights, :func:`train.tiny_model.build_tiny` and
:func:`train.tiny_qwen.build_tiny_qwen`) and trained with ``train.sft``'s loss on the same encoded records, in
the same order. Prints tokens/s and examples/s of each and the ratio Qwen2-VL / LLaVA. The token counts
differ: LLaVA spends ``(image_size / patch_size)^2`` tokens per image, Qwen2-VL one per merged 28 px patch
plus two markers, so examples/s is the like-for-like number.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from train.chat import prompt_text  # noqa: E402
from train.config import ModelConfig, SftConfig  # noqa: E402
from train.data import prompt_from_record, sft_records  # noqa: E402
from train.policy import load_policy  # noqa: E402
from train.sft import collate, sft_examples, token_loss  # noqa: E402
from train.tiny_model import build_tiny  # noqa: E402
from train.tiny_qwen import build_tiny_qwen  # noqa: E402


def measure(model_dir: Path, cfg: ModelConfig, data: str, steps: int, batch: int) -> tuple[float, float]:
    """Tokens/s and examples/s of ``steps`` SFT steps (encoding excluded, one warm-up step untimed)."""
    policy = load_policy(model_dir, cfg)
    sft = SftConfig(steps=steps, batch_size=batch)
    examples = list(itertools.islice(sft_examples(policy, data, sft, seed=0), (steps + 1) * batch))
    opt = torch.optim.AdamW(policy.model.parameters(), lr=1e-3)
    tokens, start = 0, 0.0
    for step in range(steps + 1):
        if step == 1:
            tokens, start = 0, time.perf_counter()
        b = collate(examples[step * batch : (step + 1) * batch], policy.tokenizer.pad_token_id)
        loss, count = token_loss(policy.model, b, policy.device)
        (loss / count).backward()
        opt.step()
        opt.zero_grad()
        tokens += int(b["attention_mask"].sum())
    elapsed = time.perf_counter() - start
    return tokens / elapsed, steps * batch / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sft-data", required=True, help="folder of SFT shards")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = replace(ModelConfig(), image_size=args.image_size, device="cpu")
    texts = []
    for record in itertools.islice(sft_records(args.sft_data), 2000):
        conv = prompt_from_record(record).conversation()
        texts += [prompt_text(conv.system, conv.user), record.response]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {
            "llava": build_tiny(cfg, texts, Path(tmp, "llava")),
            "qwen2_vl": build_tiny_qwen(cfg, texts, Path(tmp, "qwen2_vl")),
        }
        for name, folder in folders.items():
            results[name] = measure(folder, cfg, args.sft_data, args.steps, args.batch)
            print(f"{name}: {results[name][0]:.0f} tokens/s, {results[name][1]:.2f} examples/s")
    (llava_tok, llava_ex), (qwen_tok, qwen_ex) = results["llava"], results["qwen2_vl"]
    print(f"ratio qwen2_vl / llava: tokens/s {qwen_tok / llava_tok:.2f}, examples/s {qwen_ex / llava_ex:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
