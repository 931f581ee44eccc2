"""Copy probe: does a checkpoint copy the prompt's item id into its code? Teacher-forced, per id token.

In strict mode a code block that misspells the input path fails, so the share of whole ids copied right
bounds the strict execution rate of every family that opens its input. Greedy rollouts only say that the code
failed; this says which token of the id the policy gets wrong. Each held-out prompt (from the evaluation's
benchmark) is followed by a training response of the same family, up to and including its ``image_path``
line, with the id replaced by the prompt's; the policy's argmax at every id token is compared with the truth.
It is meant for checkpoints trained with ``train.input_name=record``: with ``fixed`` there is no id to copy.

    python train/copy_probe.py CHECKPOINT [--count 60] [--sft-data DIR] [--fresh-ids]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.layout import INPUT_DIR  # noqa: E402
from train.chat import Chunk, encode, prompt_text  # noqa: E402
from train.copy_drills import DrillTemplate, drill_templates, random_id, spelling_tokens  # noqa: E402
from train.data import Prompt  # noqa: E402

__all__ = ["CopyReport", "probe"]


@dataclass
class CopyReport:
    """Right / total at each id token position (0 = the family token), and whole ids right."""

    right: list[int] = field(default_factory=list)
    total: list[int] = field(default_factory=list)
    whole: int = 0
    prompts: int = 0

    def add(self, hits: list[bool]) -> None:
        for k, hit in enumerate(hits):
            if k == len(self.total):
                self.right.append(0)
                self.total.append(0)
            self.right[k] += hit
            self.total[k] += 1
        self.whole += all(hits)
        self.prompts += 1

    def as_dict(self) -> dict:
        return {
            "prompts": self.prompts,
            "whole_id_rate": self.whole / self.prompts if self.prompts else 0.0,
            "per_token": [f"{r}/{t}" for r, t in zip(self.right, self.total, strict=True)],
        }


def probe(
    policy, prompts: list[Prompt], templates: list[DrillTemplate], fresh_ids: bool = False
) -> CopyReport:
    """Teacher-forced accuracy of each id token in the code's ``image_path`` line, over ``prompts``.

    Args:
        policy (`train.policy.Policy`): the checkpoint.
        prompts (`list[Prompt]`): held-out prompts; families without a template (no input path) are skipped.
        templates (`list[DrillTemplate]`): training responses up to their ``image_path`` line.
        fresh_ids (`bool`, *optional*): replace each prompt's id by a random one shaped like a training id.
    """
    import torch

    by_family: dict[str, DrillTemplate] = {}
    for t in templates:
        by_family.setdefault(t.id.split("-", 1)[0], t)
    report, tok = CopyReport(), policy.tokenizer
    for prompt in prompts:
        template = by_family.get(prompt.family)
        if template is None:
            continue
        item = random_id(prompt.id, random.Random(prompt.id)) if fresh_ids else prompt.id
        conv = prompt.conversation()
        user = conv.user.replace(prompt.id, item)
        head = Chunk(prompt_text(conv.system, user), False, conv.images)
        code = template.prefix.replace(template.id, item)
        encoded = encode([head, Chunk(code, True)], tok, policy.vision)
        ids = torch.tensor([encoded.ids], device=policy.device)
        pixels = {k: v.to(policy.device) for k, v in encoded.pixels.items()}
        with torch.no_grad():
            predicted = (
                policy.model(input_ids=ids, attention_mask=torch.ones_like(ids), **pixels)
                .logits[0]
                .argmax(-1)
            )
        pieces = [tok.decode([i]) for i in encoded.ids]
        code_start = len("".join(pieces)) - len(code)
        line = code.rindex('image_path = "' + INPUT_DIR) + code_start
        positions = next(spelling_tokens(pieces, item, line))
        report.add([int(predicted[k - 1]) == encoded.ids[k] for k in positions])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a policy folder (sft/step-N, grpo/step-N)")
    parser.add_argument("--count", type=int, default=60, help="held-out prompts (the evaluation's benchmark)")
    parser.add_argument(
        "--sft-data", default="out/thyme-sft/data", help="SFT shards the response templates come from"
    )
    parser.add_argument(
        "--fresh-ids", action="store_true", help="random training-shaped ids instead of held-out ones"
    )
    args = parser.parse_args(argv)

    import torch

    from train.config import TrainConfig
    from train.evaluate import build_benchmark
    from train.policy import load_policy

    torch.set_num_threads(1)
    cfg = TrainConfig()
    cfg.eval.count = args.count
    policy = load_policy(args.checkpoint, cfg.model, trainable=False)
    report = probe(policy, build_benchmark(cfg.eval), drill_templates(args.sft_data), args.fresh_ids)
    print(json.dumps(report.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
