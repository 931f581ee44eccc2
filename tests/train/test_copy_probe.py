"""Copy probe: it scores exactly the id tokens of the code's input path, aligned with next-token logits."""

from dataclasses import replace
from types import SimpleNamespace

import torch

from train.config import EvalConfig
from train.copy_drills import drill_templates
from train.copy_probe import probe
from train.evaluate import build_benchmark


class Reader(torch.nn.Module):
    """Predicts the token ``shift`` places ahead by reading its input: a perfect copier when ``shift`` is 1.

    A trained policy that copies every id cannot be made in a test; this stands in for one, and for one that
    copies each token one place too far (the tiny policy's measured failure on the hex digits).
    """

    def __init__(self, vocab: int, shift: int):
        super().__init__()
        self.vocab, self.shift = vocab, shift

    def forward(self, input_ids, attention_mask=None, **_):
        ahead = torch.roll(input_ids, -self.shift, dims=1)
        return SimpleNamespace(logits=torch.nn.functional.one_hot(ahead, self.vocab).float())


def _prompts():
    from tests.train.conftest import TASKS

    return build_benchmark(EvalConfig(count=12, base_seed=10**6, long_side_range=(1100, 1200)), TASKS)


def test_a_perfect_copier_gets_every_id_token(policy, sft_dir):
    prompts, templates = _prompts(), drill_templates(sft_dir)
    reader = replace(policy, model=Reader(len(policy.tokenizer), 1))
    report = probe(reader, prompts, templates)
    opening = {t.id.split("-", 1)[0] for t in templates}
    assert report.prompts == sum(p.family in opening for p in prompts) > 0
    assert report.whole == report.prompts and report.right == report.total
    assert report.total[0] == report.prompts and len(report.total) >= 4  # family, seed digits, "-", hex


def test_copying_one_place_too_far_fails(policy, sft_dir):
    prompts, templates = _prompts(), drill_templates(sft_dir)
    skipping = probe(replace(policy, model=Reader(len(policy.tokenizer), 2)), prompts, templates)
    assert skipping.prompts > 0 and skipping.whole == 0 and sum(skipping.right) < sum(skipping.total)
