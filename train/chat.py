"""Render Thyme samples into model tokens with a per-token loss mask (thyme.md §2.6, §5.3, §6.6).

A sample is a list of :class:`Chunk`: the ChatML prompt (system + user turn with the input image), then the
assistant message cut into model-written pieces (trained) and sandbox outputs (never trained: the
``<sandbox_output>`` markers, the printed text or error between them and every ``<image>`` token). Chunks are
tokenized one by one, so a rollout's context (prompt, generated token ids, inserted sandbox outputs) is
encoded exactly like the SFT example it imitates. Every ``<image>`` becomes the model's image-token block and
its image joins the pixel inputs in ``<image>`` order: input image first, then each sandbox image.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synthesis import format as fmt
from synthesis.agent import Conversation
from train.tiny_model import EOS, IM_START

__all__ = ["Chunk", "Encoded", "conversation_chunks", "encode", "prompt_text", "response_chunks"]

_OUTPUT = re.compile(re.escape(fmt.OUTPUT_OPEN) + ".*?" + re.escape(fmt.OUTPUT_CLOSE), re.DOTALL)


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of text with one loss decision; ``token_ids`` (when given) are used verbatim."""

    text: str
    trainable: bool
    images: tuple[bytes, ...] = ()
    token_ids: tuple[int, ...] = ()


@dataclass(slots=True)
class Encoded:
    """Token ids, the loss mask (1 = model-written) and the pixel inputs of one sample."""

    ids: list[int]
    mask: list[int]
    pixels: dict[str, Any] = field(default_factory=dict)
    images: int = 0
    truncated: bool = False


def prompt_text(system: str, user: str) -> str:
    """The ChatML prompt up to the start of the assistant message.

    Example:
        >>> prompt_text("S", "<image>\\nQ")
        '<|im_start|>system\\nS<|im_end|>\\n<|im_start|>user\\n<image>\\nQ<|im_end|>\\n<|im_start|>assistant\\n'
    """
    return f"{IM_START}system\n{system}{EOS}\n{IM_START}user\n{user}{EOS}\n{IM_START}assistant\n"


def response_chunks(
    response: str, images: Sequence[bytes] = (), last_round_only: bool = False, end: str = EOS
) -> list[Chunk]:
    """Cut an assistant message into trained model text and untrained sandbox outputs.

    Args:
        response (`str`): the assistant message (Thyme format).
        images (`Sequence[bytes]`, *optional*): the sandbox images in ``<image>`` order (the record's images
            after the input).
        last_round_only (`bool`, *optional*, defaults to `False`): Thyme's SFT option: with two or more
            sandbox outputs, everything up to and including the second-to-last one is not trained.
        end (`str`, *optional*, defaults to `"<|im_end|>"`): appended to the last model piece (trained) so the
            model learns to stop.

    Example:
        >>> response = "<think>a<sandbox_output>1</sandbox_output>b"
        >>> [(c.text, c.trainable) for c in response_chunks(response, end="")]
        [('<think>a', True), ('<sandbox_output>1</sandbox_output>', False), ('b', True)]
    """
    chunks, cursor, queue = [], 0, list(images)
    outputs = list(_OUTPUT.finditer(response))
    frozen_until = outputs[-2].end() if last_round_only and len(outputs) >= 2 else 0
    for match in outputs:
        if match.start() > cursor:
            chunks.append(Chunk(response[cursor : match.start()], match.start() > frozen_until))
        count = match[0].count(fmt.IMAGE_PLACEHOLDER)
        chunks.append(Chunk(match[0], False, tuple(queue[:count])))
        del queue[:count]
        cursor = match.end()
    chunks.append(Chunk(response[cursor:] + end, True))
    return chunks


def conversation_chunks(conversation: Conversation) -> list[Chunk]:
    """The chunks of a (partial) rollout: prompt, then its pieces; model pieces keep their generated ids.

    Example:
        >>> from synthesis.agent import Piece
        >>> c = Conversation("S", "U", (), [Piece("model", "<think>a", token_ids=(7, 8))])
        >>> [(x.trainable, x.token_ids) for x in conversation_chunks(c)]
        [(False, ()), (True, (7, 8))]
    """
    user = conversation.user
    missing = len(conversation.images) - user.count(fmt.IMAGE_PLACEHOLDER)
    if missing > 0:  # prompts without placeholders (e.g. the no-tool prompt) still show their images first
        user = fmt.IMAGE_PLACEHOLDER * missing + "\n" + user
    chunks = [Chunk(prompt_text(conversation.system, user), False, tuple(conversation.images))]
    for piece in conversation.pieces:
        model = piece.source == "model"
        chunks.append(Chunk(piece.text, model, tuple(piece.images), tuple(piece.token_ids) if model else ()))
    return chunks


def _text_ids(tokenizer, text: str, blocks: list[list[int]]) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids of ``text`` with each ``<image>`` replaced by the next block; returns the block spans."""
    ids: list[int] = []
    spans = []
    parts = text.split(fmt.IMAGE_PLACEHOLDER)
    for i, part in enumerate(parts):
        if part:
            ids.extend(tokenizer(part, add_special_tokens=False)["input_ids"])
        if i < len(parts) - 1:
            block = blocks.pop(0)
            spans.append((len(ids), len(ids) + len(block)))
            ids.extend(block)
    return ids, spans


def encode(chunks: Sequence[Chunk], tokenizer, vision, max_len: int | None = None) -> Encoded:
    """Token ids, loss mask and pixel inputs of a sample; truncation never splits an image block.

    Args:
        chunks (`Sequence[Chunk]`): the sample.
        tokenizer: the policy's tokenizer.
        vision (`train.policy.VisionAdapter`): turns images into token blocks and pixel inputs.
        max_len (`int`, *optional*): cut longer samples (dropping any image whose block would be cut).
    """
    images = [img for c in chunks for img in c.images]
    blocks, pixels = vision.encode(images)
    ids: list[int] = []
    mask: list[int] = []
    spans: list[tuple[int, int]] = []
    piece_spans: list[tuple[int, int]]
    for chunk in chunks:
        if chunk.token_ids:
            piece, piece_spans = list(chunk.token_ids), []
        else:
            piece, piece_spans = _text_ids(tokenizer, chunk.text, blocks)
        spans.extend((len(ids) + a, len(ids) + b) for a, b in piece_spans)
        ids.extend(piece)
        mask.extend([int(chunk.trainable)] * len(piece))
    for a, b in spans:  # image tokens are never trained, whatever chunk they sit in
        mask[a:b] = [0] * (b - a)
    if max_len is None or len(ids) <= max_len:
        return Encoded(ids, mask, pixels, len(images))
    cut = min([max_len, *(a for a, b in spans if b > max_len)])
    kept = sum(1 for _, b in spans if b <= cut)
    return Encoded(ids[:cut], mask[:cut], _first_images(pixels, kept, vision), kept, truncated=True)


def _first_images(pixels: dict[str, Any], count: int, vision) -> dict[str, Any]:
    if count == 0:
        return {}
    if "image_grid_thw" not in pixels:
        return {"pixel_values": pixels["pixel_values"][:count]}
    grid = pixels["image_grid_thw"][:count]
    rows = int(grid.prod(dim=1).sum())
    return {"pixel_values": pixels["pixel_values"][:rows], "image_grid_thw": grid}
