"""The GRPO objective as pure tensor functions: group advantages, clipped surrogate, k3 KL, aggregation.

Conventions (thyme.md §6.1, training.md §4): A_i = (r_i - mean_g) / (std_g + 1e-4) with the unbiased group
std, the same on every token of trajectory i; per-token loss = -min(ratio * A, clip(ratio, 1 - eps_low,
1 + eps_high) * A) + beta * k3, with k3 = exp(ref - logp) - (ref - logp) - 1; aggregation "grpo": mean over
each sequence's unmasked tokens, then mean over the sequences that have any.
"""

from __future__ import annotations

__all__ = ["clipped_surrogate", "group_advantages", "grpo_loss", "k3_kl"]


def group_advantages(rewards, group_size: int, eps: float = 1e-4):
    """Group-normalised advantages of a flat reward vector laid out group after group.

    Args:
        rewards (`torch.Tensor`): shape ``(groups * group_size,)``.
        group_size (`int`): G.
        eps (`float`, *optional*, defaults to `1e-4`): added to the std (a zero-std group gives zeros).

    Example:
        >>> import torch
        >>> group_advantages(torch.tensor([1.0, 0.0, 2.0, 2.0]), 2).tolist()
        [0.7070068120956421, -0.7070068120956421, 0.0, 0.0]
    """
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(dim=1, keepdim=True)
    std = grouped.std(dim=1, keepdim=True, unbiased=True)
    return ((grouped - mean) / (std + eps)).view(-1)


def k3_kl(logp, ref_logp):
    """Per-token k3 estimator of KL(policy || reference): ``exp(ref - logp) - (ref - logp) - 1`` (>= 0).

    Example:
        >>> import torch, math
        >>> round(k3_kl(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])).item(), 6)
        0.193147
    """
    import torch

    delta = ref_logp - logp
    return torch.exp(delta) - delta - 1


def clipped_surrogate(logp, old_logp, advantages, eps_low: float = 0.2, eps_high: float = 0.2):
    """Per-token PPO-clip loss ``-min(ratio * A, clip(ratio) * A)`` and whether each token was clipped.

    Args:
        logp (`torch.Tensor`): current log-probs, ``(batch, tokens)``.
        old_logp (`torch.Tensor`): log-probs at sampling time (detached), same shape.
        advantages (`torch.Tensor`): one per sequence, ``(batch,)``.
        eps_low (`float`): lower clip range.
        eps_high (`float`): upper clip range.

    Example:
        >>> import torch, math
        >>> logp, old_logp = torch.tensor([[math.log(1.5)]]), torch.zeros(1, 1)
        >>> loss, clipped = clipped_surrogate(logp, old_logp, torch.tensor([1.0]))
        >>> round(loss.item(), 4), clipped.item()
        (-1.2, True)
    """
    import torch

    ratio = torch.exp(logp - old_logp)
    adv = advantages.unsqueeze(-1)
    unclipped, clipped = ratio * adv, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv
    return -torch.min(unclipped, clipped), clipped < unclipped


def grpo_loss(
    logp, old_logp, ref_logp, advantages, mask, beta: float = 0.0, eps_low: float = 0.2, eps_high: float = 0.2
) -> tuple:
    """The GRPO loss and its diagnostics (mean KL, clip fraction) over the masked-in tokens.

    Args:
        logp, old_logp, ref_logp (`torch.Tensor`): ``(batch, tokens)`` log-probs (``ref_logp`` unused if
            beta 0).
        advantages (`torch.Tensor`): ``(batch,)``.
        mask (`torch.Tensor`): ``(batch, tokens)``, 1 on policy tokens that train (sandbox and padding 0).
        beta (`float`): KL coefficient.
        eps_low, eps_high (`float`): clip ranges.

    Example:
        >>> import torch
        >>> z = torch.zeros(2, 2)
        >>> mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
        >>> loss, kl, clip = grpo_loss(z, z, z, torch.tensor([1.0, -3.0]), mask)
        >>> loss.item(), kl.item(), clip.item()
        (1.0, 0.0, 0.0)
    """
    import torch

    per_token, clipped = clipped_surrogate(logp, old_logp, advantages, eps_low, eps_high)
    kl = k3_kl(logp, ref_logp) if beta else torch.zeros_like(logp)
    per_token = per_token + beta * kl
    mask = mask.float()
    counts = mask.sum(dim=1)
    alive = counts > 0
    if not alive.any():
        zero = (logp * 0).sum()
        return zero, zero.detach(), zero.detach()
    per_seq = (per_token * mask).sum(dim=1)[alive] / counts[alive]
    tokens = mask.sum()
    return (
        per_seq.mean(),
        ((kl * mask).sum() / tokens).detach(),
        ((clipped.float() * mask).sum() / tokens).detach(),
    )
