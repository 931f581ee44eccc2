"""A :class:`~synthesis.agent.Backend` over any OpenAI-compatible chat endpoint (vLLM, ``transformers serve``...).

Used to evaluate served models with the same loop as the local policy. The partial assistant message is sent as
the last message with ``continue_final_message`` (vLLM's and ``transformers``' name for continuing it); sandbox
images travel as image parts in ``<image>`` order, the input image with the user turn. Stop strings are applied
on the client side too, since some servers ignore ``stop`` for vision models (stack.md §5).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from synthesis import format as fmt
from synthesis.agent import Conversation, Generation, Sampling

__all__ = ["OpenAIBackend", "chat_messages"]


def _image_part(data: bytes) -> dict[str, Any]:
    kind = "jpeg" if data[:2] == b"\xff\xd8" else "png"
    return {"type": "image_url", "image_url": {"url": f"data:image/{kind};base64,{base64.b64encode(data).decode()}"}}


def _parts(text: str, images: Sequence[bytes]) -> list[dict[str, Any]]:
    """Text with each ``<image>`` replaced by the next image part (extra images go first)."""
    pieces, queue = text.split(fmt.IMAGE_PLACEHOLDER), list(images)
    parts = [_image_part(queue.pop(0)) for _ in range(max(0, len(queue) - (len(pieces) - 1)))]
    for i, piece in enumerate(pieces):
        if piece:
            parts.append({"type": "text", "text": piece})
        if i < len(pieces) - 1 and queue:
            parts.append(_image_part(queue.pop(0)))
    return parts


def chat_messages(conversation: Conversation) -> list[dict[str, Any]]:
    """The chat request of a (partial) rollout: system, user with its image(s), the assistant message so far.

    Example:
        >>> m = chat_messages(Conversation("S", "<image>\\nQ", (b"\\x89PNG",)))
        >>> [x["role"] for x in m], [p["type"] for p in m[1]["content"]]
        (['system', 'user'], ['image_url', 'text'])
    """
    messages = [{"role": "system", "content": conversation.system},
                {"role": "user", "content": _parts(conversation.user, conversation.images)}]
    if conversation.pieces:
        images = [img for p in conversation.pieces for img in p.images]
        messages.append({"role": "assistant", "content": _parts(conversation.assistant, images)})
    return messages


class OpenAIBackend:
    """Continue conversations through ``/v1/chat/completions``.

    Args:
        base_url (`str`): e.g. ``http://127.0.0.1:8000/v1``.
        model (`str`): the served model name.
        api_key (`str`, *optional*, defaults to `"EMPTY"`): the key (local servers ignore it).
        client (`Any`, *optional*): an ``openai.OpenAI``-like client (tests inject a fake).
    """

    def __init__(self, base_url: str, model: str, api_key: str = "EMPTY", client: Any = None):
        if client is None:
            import openai

            client = openai.OpenAI(base_url=base_url, api_key=api_key)
        self.client, self.model = client, model

    def generate(self, conversation: Conversation, sampling: Sampling, stop: Sequence[str]) -> Generation:
        """One call; errors become ``finish_reason="error"`` so the loop ends the rollout cleanly."""
        continuing = bool(conversation.pieces)
        try:
            reply = self.client.chat.completions.create(
                model=self.model, messages=chat_messages(conversation), temperature=sampling.temperature,
                top_p=sampling.top_p, max_tokens=sampling.max_new_tokens, stop=list(stop) or None,
                seed=sampling.seed,
                extra_body={"continue_final_message": continuing, "add_generation_prompt": not continuing})
        except Exception as err:  # any transport or server error ends this rollout with its reason
            return Generation("", "error", error=f"{type(err).__name__}: {err}"[:500])
        choice = reply.choices[0]
        text = choice.message.content or ""
        ends = [text.find(s) + len(s) for s in stop if s in text]
        if ends:
            text = text[: min(ends)]
        elif choice.finish_reason == "stop" and stop and getattr(choice, "stop_reason", None) in stop:
            text += choice.stop_reason  # servers drop the matched stop string; the loop needs it
        usage = getattr(reply, "usage", None)
        return Generation(text, "length" if choice.finish_reason == "length" else "stop",
                          prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                          completion_tokens=getattr(usage, "completion_tokens", 0) or 0)
