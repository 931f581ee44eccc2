"""A :class:`~synthesis.agent.Conversation` as OpenAI chat messages, and the stop string a reply ended on.

Two ways to send the partial assistant message (``TeacherConfig.message_mode``):

* ``"turns"`` (portable: OpenAI, ``transformers serve``, any server): the model's pieces are assistant
messages;
  each sandbox piece becomes a *user* message holding its ``<sandbox_output>`` text, with every ``<image>``
  placeholder replaced by the returned image (OpenAI assistants cannot carry images). The server opens a new
  assistant turn; the reply is appended to the same trajectory. A trajectory that ends in a model piece (with
  adaptive temperature sampling, text that stopped at ``<code>``) is sent as a trailing assistant message,
  which most servers answer with a fresh turn, so ``<code>`` as a stop works well only in ``"continue"`` mode.
* ``"continue"`` (vLLM, SGLang): one final assistant message with the whole partial text, sent with
  ``continue_final_message=True, add_generation_prompt=False`` so the model resumes mid-message, exactly as
  the original harness did (thyme.md §2.5). Sandbox images ride inside that assistant message as ``image_url``
  parts at their placeholders. That needs a server that parses image parts in assistant messages and a chat
  template that renders them (vLLM parses content parts for every role; Qwen2/2.5-VL's template renders images
  in any role); OpenAI itself rejects images in assistant messages, so use ``"turns"`` there.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from synthesis import format as fmt
from synthesis.agent import Conversation, Piece

__all__ = ["CONTINUE_FLAGS", "image_part", "restore_stop", "to_messages"]

CONTINUE_FLAGS = {"continue_final_message": True, "add_generation_prompt": False}


def image_part(data: bytes, detail: str = "") -> dict[str, Any]:
    """An ``image_url`` content part holding ``data`` as a data URL (PNG or JPEG, sniffed from the bytes).

    Args:
        data (`bytes`): an encoded image.
        detail (`str`, *optional*, defaults to `""`): OpenAI's ``detail``; empty leaves the key out.

    Example:
        >>> image_part(b"\\x89PNG\\r\\n\\x1a\\nxx")["image_url"]["url"][:22]
        'data:image/png;base64,'
    """
    mime = "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"
    url = {"url": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"}
    if detail:
        url["detail"] = detail
    return {"type": "image_url", "image_url": url}


def _parts(text: str, images: Sequence[bytes], detail: str) -> list[dict[str, Any]]:
    """Text with each ``<image>`` placeholder replaced by the next image, as content parts."""
    chunks = text.split(fmt.IMAGE_PLACEHOLDER)
    if len(chunks) - 1 != len(images):  # the loop always matches them; never drop an image silently
        return [{"type": "text", "text": text}, *(image_part(i, detail) for i in images)]
    parts: list[dict[str, Any]] = []
    for i, chunk in enumerate(chunks):
        if chunk:
            parts.append({"type": "text", "text": chunk})
        if i < len(images):
            parts.append(image_part(images[i], detail))
    return parts


def _user(conversation: Conversation, detail: str) -> dict[str, Any]:
    parts = [image_part(i, detail) for i in conversation.images]
    return {"role": "user", "content": [*parts, {"type": "text", "text": conversation.user}]}


def _turns(pieces: Sequence[Piece], detail: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for piece in pieces:
        if piece.source == "sandbox":
            messages.append({"role": "user", "content": _parts(piece.text, piece.images, detail)})
        elif messages and messages[-1]["role"] == "assistant":
            messages[-1]["content"] += piece.text  # ATS splits one segment into a text and a code piece
        else:
            messages.append({"role": "assistant", "content": piece.text})
    return messages


def _continued(pieces: Sequence[Piece], detail: str) -> list[dict[str, Any]]:
    text = "".join(p.text for p in pieces)
    images = [img for p in pieces for img in p.images]
    if not images:
        return [{"role": "assistant", "content": text}]
    return [{"role": "assistant", "content": _parts(text, images, detail)}]


def to_messages(conversation: Conversation, mode: str, detail: str = "") -> list[dict[str, Any]]:
    """The chat messages for one call: system, user (input images then text), then the partial assistant.

    Args:
        conversation (`Conversation`): what to continue.
        mode (`str`): ``"turns"`` or ``"continue"`` (see the module docstring).
        detail (`str`, *optional*, defaults to `""`): OpenAI image ``detail`` for every image part.

    Example:
        >>> from synthesis.agent import Piece
        >>> c = Conversation(
        ...     "S",
        ...     "U",
        ...     (),
        ...     [
        ...         Piece("model", "<think>a<code>x</code>"),
        ...         Piece("sandbox", "<sandbox_output>1</sandbox_output>"),
        ...     ],
        ... )
        >>> [
        ...     (m["role"], m["content"] if isinstance(m["content"], str) else len(m["content"]))
        ...     for m in to_messages(c, "turns")
        ... ]
        [('system', 'S'), ('user', 1), ('assistant', '<think>a<code>x</code>'), ('user', 1)]
        >>> to_messages(c, "continue")[-1]["content"]
        '<think>a<code>x</code><sandbox_output>1</sandbox_output>'
    """
    head = [{"role": "system", "content": conversation.system}, _user(conversation, detail)]
    if not conversation.pieces:
        return head
    tail = _turns if mode == "turns" else _continued
    return head + tail(conversation.pieces, detail)


def _unclosed(text: str, open_tag: str, close_tag: str) -> bool:
    return text.rfind(open_tag) > text.rfind(close_tag)


def restore_stop(segment: str, text: str, stops: Sequence[str], stop_reason: Any = None) -> str:
    """Re-append the stop string an OpenAI-style server stripped, so the text ends with what ended it.

    The loop expects a segment to end with its stop string. Servers strip it; vLLM reports it as
    ``stop_reason``, others say nothing, so it is inferred from the model's own text: an unclosed ``<code>``
    means ``</code>``, an unclosed ``<answer>`` means ``</answer>``, otherwise ``<code>`` when it was a stop
    (else the model ended on its end-of-sequence token and nothing is added). A text that already ends with a
    stop string (servers that keep it) is left alone. Sandbox outputs are never read: they print whatever the
    code printed, tags included, and a ``<code>`` there would make a stop-less reply look like an open block.

    Args:
        segment (`str`): the model's own text before this reply since the last sandbox output
            (:attr:`Conversation.segment <synthesis.agent.Conversation.segment>`; with ATS it may end in
            ``<code>``).
        text (`str`): the reply, which ended with ``finish_reason == "stop"``.
        stops (`Sequence[str]`): the stop strings sent.
        stop_reason (`Any`, *optional*): vLLM's ``stop_reason`` (the matched string, or a token id, or None).

    Example:
        >>> stops = ["</code>", "</answer>", "<code>"]
        >>> restore_stop("", "<think>a<code>\\n```python\\nprint(1)\\n```\\n", stops)[-7:]
        '</code>'
        >>> restore_stop("<think>x", "</think> <answer>4", stops), restore_stop("", "<think>plan", stops)
        ('</think> <answer>4</answer>', '<think>plan<code>')
    """
    if any(s and text.endswith(s) for s in stops):
        return text
    if isinstance(stop_reason, str) and stop_reason in stops:
        return text + stop_reason
    full = segment + text
    for open_tag, close_tag in ((fmt.CODE_OPEN, fmt.CODE_CLOSE), (fmt.ANSWER_OPEN, fmt.ANSWER_CLOSE)):
        if close_tag in stops and _unclosed(full, open_tag, close_tag):
            return text + close_tag
    return text + fmt.CODE_OPEN if fmt.CODE_OPEN in stops else text
