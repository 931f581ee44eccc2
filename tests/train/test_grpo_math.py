"""GRPO maths against hand-computed values: advantages, clipping on both sides, k3 KL, masked aggregation."""

import math

import pytest
import torch

from train.grpo_math import clipped_surrogate, group_advantages, grpo_loss, k3_kl


def test_group_advantages_use_the_unbiased_group_std():
    # group 1: rewards 2, 0, 1, 1 -> mean 1, unbiased var (1 + 1 + 0 + 0) / 3, std sqrt(2/3) = 0.816497
    adv = group_advantages(torch.tensor([2.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]), 4)
    std = math.sqrt(2 / 3)
    expected = [1 / (std + 1e-4), -1 / (std + 1e-4), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert adv.tolist() == pytest.approx(expected, abs=1e-6)


def test_zero_std_group_gives_zero_advantage():
    assert group_advantages(torch.tensor([1.5, 1.5]), 2).tolist() == [0.0, 0.0]


def test_k3_kl_matches_its_formula_and_is_zero_at_equality():
    logp, ref = torch.tensor([math.log(0.2), math.log(0.5)]), torch.tensor([math.log(0.4), math.log(0.5)])
    # token 1: ref - logp = log 2 -> 2 - log 2 - 1 = 0.306853; token 2: 0
    assert k3_kl(logp, ref).tolist() == pytest.approx([1 - math.log(2), 0.0], abs=1e-6)


@pytest.mark.parametrize(
    ("ratio", "adv", "loss", "clipped"),
    [
        (1.5, 1.0, -1.2, True),  # positive advantage: ratio capped at 1 + eps
        (0.5, 1.0, -0.5, False),  # positive advantage, ratio below: the smaller unclipped term wins
        (0.5, -1.0, 0.8, True),  # negative advantage: ratio floored at 1 - eps
        (1.5, -1.0, 1.5, False),  # negative advantage, ratio above: unclipped (pessimistic) term
    ],
)
def test_clipped_surrogate_takes_the_pessimistic_term(ratio, adv, loss, clipped):
    out, was_clipped = clipped_surrogate(
        torch.tensor([[math.log(ratio)]]), torch.zeros(1, 1), torch.tensor([adv])
    )
    assert out.item() == pytest.approx(loss, abs=1e-6)
    assert was_clipped.item() is clipped


def test_asymmetric_clip_range():
    out, _ = clipped_surrogate(
        torch.tensor([[math.log(1.5)]]), torch.zeros(1, 1), torch.tensor([2.0]), 0.2, 0.28
    )
    assert out.item() == pytest.approx(-2 * 1.28)


def test_loss_is_mean_over_tokens_then_sequences_and_ignores_masked_tokens():
    logp = torch.tensor([[0.0, 0.0, 0.0], [0.0, math.log(2.0), 0.0], [0.0, 0.0, 0.0]])
    ref = torch.zeros(3, 3)
    ref[0, 0] = math.log(2.0)  # k3 = 2 - log 2 - 1 on that token
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])  # sequence 3 fully masked (sandbox/truncated)
    adv = torch.tensor([1.0, -2.0, 5.0])
    loss, kl, clip = grpo_loss(logp, logp.detach(), ref, adv, mask, beta=0.1)
    k3 = 1 - math.log(2.0)
    seq1 = ((-1 + 0.1 * k3) + (-1)) / 2
    seq2 = 2.0  # the masked token with ratio 2 does not count
    assert loss.item() == pytest.approx((seq1 + seq2) / 2, abs=1e-6)
    assert kl.item() == pytest.approx(k3 / 3, abs=1e-6) and clip.item() == 0.0


def test_gradient_flows_only_through_unmasked_tokens():
    logp = torch.zeros(1, 2, requires_grad=True)
    loss, _, _ = grpo_loss(logp, logp.detach(), logp.detach(), torch.tensor([1.0]), torch.tensor([[1, 0]]))
    loss.backward()
    assert logp.grad.tolist() == [[-1.0, 0.0]]
