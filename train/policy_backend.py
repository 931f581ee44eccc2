"""A :class:`~synthesis.agent.Backend` over a local Hugging Face policy: RL rollouts and evaluation use it.

Each call encodes the conversation exactly as training does (:func:`train.chat.conversation_chunks`: earlier
model pieces by their generated ids), generates with ``model.generate`` under the call's :class:`Sampling`
(temperature 0 = greedy), and stops on decoded text, because ``<code>`` need not be a token of the vocabulary.
The generation returns the token ids and their log-probabilities at temperature 1 (what the GRPO loss scores).
Tokens the policy must never write (image and vision tokens, the ChatML opener, padding) are banned.

``ats_logits=True`` is the per-token variant of adaptive temperature sampling: a logits processor keeps only
the argmax while a ``<code>`` block is open in the text generated so far, so code is greedy without stopping
at ``<code>`` (thyme.md §6.2: "a per-sequence logits processor ... equivalent re-implementation").

A greedy call is a pure function of the weights and its input (in eval mode), so its answer is kept and
reused until the weights change: under ATS the G rollouts of a group mostly reach the same ``<code>`` prefix,
and write their code block once instead of G times, with exactly the ids and log-probabilities they would
have generated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from synthesis import format as fmt
from synthesis.agent import Conversation, Generation, Sampling
from train.chat import conversation_chunks, encode
from train.tiny_model import IM_START, PAD

__all__ = ["LocalBackend", "cut_at_stop", "in_open_code"]

_TAIL_TOKENS = 24  # tokens decoded to look for a stop string (longer than any tag)
_GREEDY_KEPT = 512  # greedy generations kept for reuse (a GRPO step reaches a few dozen)


def in_open_code(text: str) -> bool:
    """Whether ``text`` ends inside a ``<code>`` block (an opened block not yet closed).

    Example:
        >>> in_open_code("<think>a<code>\\nx = 1"), in_open_code("<code>x</code>b")
        (True, False)
    """
    return text.rfind(fmt.CODE_OPEN) > text.rfind(fmt.CODE_CLOSE)


def cut_at_stop(tokenizer, ids: list[int], stops: Sequence[str]) -> tuple[list[int], bool]:
    """The shortest prefix of ``ids`` whose text contains a stop string (and whether one was found).

    Args:
        tokenizer: decodes the ids.
        ids (`list[int]`): generated ids.
        stops (`Sequence[str]`): stop strings.
    """
    if not stops:
        return ids, False
    text = tokenizer.decode(ids, skip_special_tokens=False)
    if not any(s in text for s in stops):
        return ids, False
    lo, hi = 1, len(ids)
    while lo < hi:  # the first prefix length whose text holds a stop string
        mid = (lo + hi) // 2
        if any(s in tokenizer.decode(ids[:mid], skip_special_tokens=False) for s in stops):
            hi = mid
        else:
            lo = mid + 1
    return ids[:lo], True


class _Processors:
    """Logits processors and a stopping criterion built per call (bans, per-token ATS, stop strings)."""

    def __init__(
        self,
        tokenizer,
        prompt_len: int,
        banned: list[int],
        stops: Sequence[str],
        ats_logits: bool,
        before: str = "",
    ):
        self.tok, self.prompt_len, self.banned, self.stops, self.ats = (
            tokenizer,
            prompt_len,
            banned,
            stops,
            ats_logits,
        )
        self.before = before  # the assistant text so far: a block may already be open when the call starts

    def process(self, input_ids, scores):
        scores = (
            scores.clone()
        )  # generate() keeps the raw logits tensor for output_logits: never edit it in place
        scores[:, self.banned] = -float("inf")
        if self.ats:
            for row in range(scores.shape[0]):
                generated = self.tok.decode(input_ids[row, self.prompt_len :], skip_special_tokens=False)
                if in_open_code(self.before + generated):
                    best = scores[row].argmax()
                    keep = scores[row, best].clone()
                    scores[row] = -float("inf")
                    scores[row, best] = keep
        return scores

    def stop(self, input_ids, scores, **kwargs):
        import torch

        tail = self.tok.decode(
            input_ids[0, max(self.prompt_len, input_ids.shape[1] - _TAIL_TOKENS) :], skip_special_tokens=False
        )
        done = any(s in tail for s in self.stops)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


class LocalBackend:
    """Continue Thyme conversations with a local policy.

    Args:
        policy (`train.policy.Policy`): model, tokenizer, image adapter.
        ats_logits (`bool`, *optional*, defaults to `False`): greedy decoding inside open code blocks, per
            token.
        max_context (`int`, *optional*, defaults to `4096`): longest prompt + generation the model is given.
        reuse_greedy (`bool`, *optional*, defaults to `True`): answer a greedy call seen before, with the same
            weights, from memory (see the module's docstring).
    """

    def __init__(self, policy, ats_logits: bool = False, max_context: int = 4096, reuse_greedy: bool = True):
        self.policy, self.ats_logits, self.max_context = policy, ats_logits, max_context
        self.reuse_greedy, self.greedy_reused = reuse_greedy, 0
        self._greedy: dict[tuple, Generation] = {}
        self._weights: tuple[int, ...] = ()
        tok = policy.tokenizer
        specials = [
            IM_START,
            PAD,
            fmt.IMAGE_PLACEHOLDER,
            "<|vision_start|>",
            "<|vision_end|>",
            "<|image_pad|>",
            "<|video_pad|>",
        ]
        ids = {tok.convert_tokens_to_ids(t) for t in specials} | set(policy.vision.token_ids.values())
        self.banned = sorted(
            i for i in ids if i is not None and i != tok.unk_token_id and i != tok.eos_token_id
        )

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        """One generation call: ``conversation.assistant`` continued to a stop string, EOS or the budget."""
        enc = encode(conversation_chunks(conversation), self.policy.tokenizer, self.policy.vision)
        if sampling.temperature > 0 or not self.reuse_greedy or self.policy.model.training:  # dropout draws
            return self._generate(conversation, enc, sampling, stop)
        weights = tuple(p._version for p in self.policy.model.parameters())  # bumped by every in-place update
        if weights != self._weights:
            self._greedy, self._weights = {}, weights
        key = (
            tuple(enc.ids),
            tuple(hashlib.blake2b(image, digest_size=16).digest() for image in conversation.all_images),
            replace(sampling, seed=None),  # greedy decoding draws nothing
            tuple(stop),
            conversation.assistant[-2000:],
        )
        if (kept := self._greedy.get(key)) is not None:
            self.greedy_reused += 1
            return kept
        gen = self._generate(conversation, enc, sampling, stop)
        if len(self._greedy) >= _GREEDY_KEPT:
            self._greedy.pop(next(iter(self._greedy)))
        self._greedy[key] = gen
        return gen

    def _generate(self, conv: Conversation, enc, sampling: Sampling, stop: Sequence[str]) -> Generation:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        policy, tok = self.policy, self.policy.tokenizer
        budget = min(sampling.max_new_tokens, self.max_context - len(enc.ids))
        if budget <= 0:
            return Generation("", "length", prompt_tokens=len(enc.ids))
        input_ids = torch.tensor([enc.ids], device=policy.device)
        inputs = {
            "input_ids": input_ids,
            "attention_mask": torch.ones(1, len(enc.ids), dtype=torch.long, device=policy.device),
            **{k: v.to(policy.device) for k, v in enc.pixels.items()},
        }
        if enc.pixels:  # Qwen2-VL: generate() places its multimodal RoPE before any forward (no hook)
            inputs.update(policy.vision.token_types(input_ids))
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(policy.model.dtype)
        procs = _Processors(tok, len(enc.ids), self.banned, stop, self.ats_logits, conv.assistant[-2000:])
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        greedy = sampling.temperature <= 0
        with torch.no_grad():
            out = policy.model.generate(
                **inputs,
                max_new_tokens=budget,
                do_sample=not greedy,
                temperature=None if greedy else sampling.temperature,
                top_p=None if greedy else sampling.top_p,
                top_k=None if greedy or not sampling.top_k else sampling.top_k,
                repetition_penalty=sampling.repetition_penalty
                if sampling.repetition_penalty != 1.0
                else None,
                logits_processor=LogitsProcessorList([procs.process]),
                stopping_criteria=StoppingCriteriaList([procs.stop]),
                eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id,
                return_dict_in_generate=True,
                output_logits=True,
            )
        new = out.sequences[0, len(enc.ids) :].tolist()
        raw = torch.stack(out.logits, dim=1)[0].float()
        ids, stopped = cut_at_stop(tok, new, stop)
        ended = bool(ids) and ids[-1] == tok.eos_token_id
        if ended:
            ids = ids[:-1]
        logprobs = (
            torch.log_softmax(raw[: len(ids)], dim=-1).gather(-1, torch.tensor(ids).view(-1, 1)).view(-1)
        )
        finish: Literal["stop", "length"] = "stop" if stopped or ended else "length"
        return Generation(
            tok.decode(ids, skip_special_tokens=False),
            finish,
            tuple(ids),
            tuple(logprobs.tolist()),
            prompt_tokens=len(enc.ids),
            completion_tokens=len(ids),
        )
