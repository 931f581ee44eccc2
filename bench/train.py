"""Training benchmarks: SFT throughput against TRL's SFTTrainer, and where a GRPO-ATS step spends its time.

Usage::

    python bench/train.py --sft-data DIR --rl-data DIR [--model PATH] [--steps 30] [--grpo-steps 2]

1. SFT tokens/s: ``train.sft`` (own loop) and ``trl.SFTTrainer`` train the same tiny model on the same encoded
   examples with the same collator, batch size and learning rate; the ratio is own / TRL.
2. GRPO: ``train.grpo.grpo_step`` timings split into generation, sandbox, forward and backward.
3. GRPO rollouts with and without reusing greedy calls (``LocalBackend(reuse_greedy=...)``), alternated on
   the same prompts and seed; the ratio is without / with, and the rollouts' ids must be identical. It only
   shows where the policy writes code (``--model`` an SFT checkpoint: a fresh tiny model rarely does).

Without ``--model`` a tiny model is built from the SFT shards' text (random weights).
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

from sandbox import Sandbox, SandboxConfig  # noqa: E402
from train.chat import prompt_text  # noqa: E402
from train.config import GrpoConfig, ModelConfig, SftConfig  # noqa: E402
from train.data import iter_rows, prompt_from_record, prompt_from_row, sft_records  # noqa: E402
from train.grpo import collect_groups, grpo_step  # noqa: E402
from train.policy import load_policy  # noqa: E402
from train.policy_backend import LocalBackend  # noqa: E402
from train.sft import collate, sft_examples, token_loss  # noqa: E402
from train.tiny_model import build_tiny  # noqa: E402


def tiny(sft_data: str, folder: Path) -> Path:
    texts = []
    for record in itertools.islice(sft_records(sft_data), 2000):
        conv = prompt_from_record(record).conversation()
        texts += [prompt_text(conv.system, conv.user), record.response]
    return build_tiny(ModelConfig(), texts, folder)


def own_loop(model_dir, examples, steps: int, batch: int, lr: float) -> float:
    policy = load_policy(model_dir, ModelConfig())
    opt = torch.optim.AdamW(policy.model.parameters(), lr=lr)
    tokens, start = 0, time.perf_counter()
    for step in range(steps):
        b = collate(examples[step * batch : (step + 1) * batch], policy.tokenizer.pad_token_id)
        loss, count = token_loss(policy.model, b, "cpu")
        (loss / count).backward()
        opt.step()
        opt.zero_grad()
        tokens += int(b["attention_mask"].sum())
    return tokens / (time.perf_counter() - start)


def trl_loop(model_dir, examples, steps: int, batch: int, lr: float, out: Path) -> float:
    from datasets import Dataset
    from trl import SFTConfig as TrlSFTConfig
    from trl import SFTTrainer

    policy = load_policy(model_dir, ModelConfig())
    counted = {"tokens": 0}

    def collator(rows):
        b = collate([examples[r["idx"]] for r in rows], policy.tokenizer.pad_token_id)
        b["labels"] = b["input_ids"].masked_fill(b.pop("loss_mask") == 0, -100)
        counted["tokens"] += int(b["attention_mask"].sum())
        return b

    args = TrlSFTConfig(
        output_dir=str(out),
        per_device_train_batch_size=batch,
        max_steps=steps,
        learning_rate=lr,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        logging_steps=10**6,
        bf16=False,
        remove_unused_columns=False,
        dataset_kwargs={"skip_prepare_dataset": True},
        dataloader_num_workers=0,
        lr_scheduler_type="constant",
        warmup_steps=0,
    )
    dataset = Dataset.from_list([{"idx": i} for i in range(steps * batch)])
    trainer = SFTTrainer(
        model=policy.model,
        args=args,
        train_dataset=dataset,
        data_collator=collator,
        processing_class=policy.tokenizer,
    )
    trainer.train_dataset = dataset
    start = time.perf_counter()
    trainer.train()
    return counted["tokens"] / (time.perf_counter() - start)


def greedy_reuse(policy, sandbox, prompts, cfg: GrpoConfig, rounds: int = 2) -> str:
    """Best-of-``rounds`` time to collect the same groups with and without reusing greedy calls."""
    times: dict[bool, list[float]] = {False: [], True: []}
    ids, reused = {}, 0
    policy.model.eval()
    for _ in range(rounds):
        for reuse in (False, True):
            backend = LocalBackend(policy, reuse_greedy=reuse)
            start = time.perf_counter()
            rollouts = collect_groups(policy, sandbox, prompts, cfg, seed=0, backend=backend)
            times[reuse].append(time.perf_counter() - start)
            ids[reuse] = [[p.token_ids for p in r.conversation.pieces] for r in rollouts]
            reused = max(reused, backend.greedy_reused)
    without, with_ = min(times[False]), min(times[True])
    return (
        f"GRPO rollouts ({len(prompts)} prompts x G={cfg.group_size}, ATS {cfg.ats}): without reuse "
        f"{without:.2f} s, with {with_:.2f} s, ratio {without / with_:.2f}; "
        f"{reused} greedy calls reused; identical ids: {ids[False] == ids[True]}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sft-data",
        default="out/bench/thyme-sft/data",
        help="SFT shards (default: %(default)s, which `make bench` builds first)",
    )
    parser.add_argument(
        "--rl-data",
        default="out/bench/thyme-rl/data",
        help="RL prompt shards (default: %(default)s, which `make bench` builds first)",
    )
    parser.add_argument("--model", default=None, help="checkpoint folder (default: a fresh tiny model)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--grpo-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model_dir = args.model or tiny(args.sft_data, work / "tiny")
    policy = load_policy(model_dir, ModelConfig())
    stream = sft_examples(policy, args.sft_data, SftConfig(), seed=0)
    examples = [next(stream) for _ in range(args.steps * args.batch)]
    own = own_loop(model_dir, examples, args.steps, args.batch, 1e-3)
    trl = trl_loop(model_dir, examples, args.steps, args.batch, 1e-3, work / "trl")
    print(
        f"SFT tokens/s: own {own:.0f}, TRL SFTTrainer {trl:.0f}, ratio own/TRL {own / trl:.2f} "
        f"({args.steps} steps x batch {args.batch}, same model, examples and collator)"
    )
    cfg = GrpoConfig(prompts_per_step=2, group_size=4)
    rows = iter_rows(args.rl_data, seed=0, shuffle_buffer=cfg.shuffle_buffer)  # shards are sorted by family
    prompts = [prompt_from_row(r) for r in itertools.islice(rows, args.grpo_steps * cfg.prompts_per_step)]
    reference = load_policy(model_dir, ModelConfig(), trainable=False)
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=cfg.lr)
    with Sandbox(SandboxConfig(workers=2)) as sandbox:
        for step in range(args.grpo_steps):
            batch = prompts[step * cfg.prompts_per_step : (step + 1) * cfg.prompts_per_step]
            start = time.perf_counter()
            s = grpo_step(policy, reference, optimizer, sandbox, batch, cfg, seed=step)
            total = time.perf_counter() - start
            other = total - s["generate_s"] - s["sandbox_s"] - s["forward_s"] - s["backward_s"]
            print(
                f"GRPO step {step + 1} ({cfg.prompts_per_step} prompts x G={cfg.group_size}): "
                f"total {total:.2f} s = generation {s['generate_s']:.2f} + sandbox {s['sandbox_s']:.2f} + "
                f"forward {s['forward_s']:.2f} + backward {s['backward_s']:.2f} + other {other:.2f}; "
                f"{s['completion_tokens']:.0f} completion tokens/rollout"
            )
        print(greedy_reuse(policy, sandbox, prompts[: 2 * cfg.prompts_per_step], replace(cfg, group_size=8)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
