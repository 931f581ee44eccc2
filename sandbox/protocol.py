"""Length-prefixed JSON frames between the supervisor and a worker.

JSON (never pickle) is the only thing that crosses from the sandbox into the trusted process, and
every read is capped, so a compromised worker can at worst send a wrong but well-formed answer.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

_HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer closed the channel, sent garbage, or missed its deadline."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame: a 4-byte big-endian length and the UTF-8 JSON body."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one frame to a blocking fd (the worker's control pipe)."""
    view = memoryview(encode(message))
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ProtocolError("deadline passed while waiting for the worker")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int, deadline: float | None = None) -> dict[str, Any]:
    """Read one frame, refusing bodies over ``max_bytes`` and anything that is not a JSON object.

    Args:
        fd (`int`): the pipe to read.
        max_bytes (`int`): the largest body accepted.
        deadline (`float`, *optional*): a `time.monotonic` instant after which to give up.
    """
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if size > max_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the {max_bytes}-byte cap")
    try:
        message = json.loads(_read_exact(fd, size, deadline))
    except ValueError as exc:
        raise ProtocolError(f"malformed frame: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a JSON object")
    return message
