"""What crosses the pipes between the supervisor, a worker (zygote) and a block's process.

Nothing is ever unpickled, and every read is capped, so a compromised worker can at worst send a wrong but
well-formed answer:

* the supervisor starts a worker with one length-prefixed JSON frame (`write_frame` / `read_frame`), and the
  worker answers that it is ready with another;
* a block's request reaches its worker as the block's frame behind a fixed binary prefix with the three limits
  the worker enforces (`encode_request`). The worker reads the prefix (`read_request`) and passes the frame on
  to the block's process byte for byte: it never decodes or re-encodes the block's code. That frame's body is
  ``marshal`` data (`read_block_request`): it only ever flows from the trusted supervisor into the sandbox,
  where one C call decodes it (``json.loads`` runs Python code whose every touched page is a copy-on-write
  fault in the block's fresh process); nothing the sandbox sends is ever unmarshalled (or unpickled);
* the worker answers with a fixed binary header and the raw bytes it captured (`encode_answer`,
  `read_answer`): stdout, stderr and the block's own JSON report, each checked against its cap before it is
  read. The supervisor decodes and judges them (`sandbox.outcome.answer_fields`), so the worker runs no JSON
  at all on the per-block path, where every page it touches is a copy-on-write fault (see README, *Per-block
  cost*).
"""

from __future__ import annotations

import json
import marshal
import os
import select
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_HEADER = struct.Struct(">I")
_LIMITS = struct.Struct(">ddI")  # the block's time limit, its replay's time limit, the stdout/stderr cap
_ANSWER = struct.Struct(
    ">BiddIII"
)  # cause, wait status, cpu s, wall s, then the sizes of stdout, stderr, report
_FIRST_READ = 1 << 16  # the first read of an answer takes its header and up to this much of the rest
MAX_REPORT = 1 << 16  # the block's JSON report (kind, error type and message, processed_path)
OK_REPORT = b'{"kind": "ok"}'  # the common report, written and read without the JSON encoder and decoder
# The last byte of a finished block's report (JSON is ASCII: it cannot hold one). The worker may answer once
# it has it and every thread of the process is in the kernel's exit, before the exit has freed its memory.
REPORT_END = b"\0"
CAUSES = ("", "timeout", "output-limit")  # why the worker killed the block, if it did


class ProtocolError(Exception):
    """The peer closed the channel, sent garbage, or missed its deadline."""


class Answer:
    """A worker's answer for one block, as bytes and numbers (decoded and judged by the supervisor).

    Args:
        cause (`str`): "" when the block's process ended by itself, else "timeout" or "output-limit".
        status (`int`): its wait status (``os.waitstatus_to_exitcode`` reads it).
        cpu_s (`float`): its CPU time (user + system).
        wall_s (`float`): the worker's wall time for the block, replay included.
        stdout, stderr, report (`bytes`): what it wrote to each pipe, capped.
    """

    __slots__ = ("cause", "cpu_s", "report", "status", "stderr", "stdout", "wall_s")

    def __init__(
        self,
        cause: str,
        status: int,
        cpu_s: float,
        wall_s: float,
        stdout: bytes,
        stderr: bytes,
        report: bytes,
    ) -> None:
        self.cause, self.status, self.cpu_s, self.wall_s = cause, status, cpu_s, wall_s
        self.stdout, self.stderr, self.report = stdout, stderr, report


def encode(message: dict[str, Any]) -> bytes:
    """One frame: a 4-byte big-endian length and the UTF-8 JSON body."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a blocking fd."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one frame to a blocking fd (the worker's control pipe)."""
    write_all(fd, encode(message))


def _read_exact(fd: int, size: int, deadline: float | None, up_to: int = 0) -> bytes:
    """``size`` bytes from ``fd``; with ``up_to``, the first read may return up to that many (what the peer
    wrote beyond ``size`` in the same write), which the caller then owns: only for a peer that answers once
    and waits (the worker's answer to its request)."""
    chunks, remaining = [], size
    while remaining > 0:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise ProtocolError("deadline passed while waiting for the worker")
        chunk = os.read(fd, max(up_to - (size - remaining), remaining) if up_to else min(remaining, 1 << 20))
        if not chunk:
            raise ProtocolError("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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


def encode_request(request: dict[str, Any]) -> bytes:
    """A block's request for its worker: the limits the worker enforces, then the block's own frame (its body
    ``marshal`` data, read by `read_block_request` in the block's process).

    ``request`` must hold ``timeout_s``, ``replay_timeout_s`` and ``output_limit`` (the block's process reads
    the first two too, for its CPU limit), and only str, int, float, bool, None, lists and dicts.
    """
    limits = _LIMITS.pack(
        float(request["timeout_s"]), float(request["replay_timeout_s"]), int(request["output_limit"])
    )
    body = marshal.dumps(request)
    return limits + _HEADER.pack(len(body)) + body


def read_block_request(fd: int, max_bytes: int) -> dict[str, Any]:
    """The block's process reads its request (the frame `encode_request` made and the worker passed on)."""
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, None))
    if size > max_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the {max_bytes}-byte cap")
    message = marshal.loads(_read_exact(fd, size, None))
    if not isinstance(message, dict):
        raise ProtocolError("request is not a dict")
    return message


def read_request(fd: int, max_bytes: int) -> tuple[float, float, int, bytes]:
    """The worker's side of `encode_request`: (timeout s, replay timeout s, output cap, the block's frame as
    bytes, length prefix included). Blocks until a request arrives; `ProtocolError` when the channel
    closes."""
    prefix = _LIMITS.size + _HEADER.size
    head = _read_exact(fd, prefix, None, up_to=prefix + _FIRST_READ)
    timeout, replay, cap = _LIMITS.unpack_from(head)
    (size,) = _HEADER.unpack_from(head, _LIMITS.size)
    if size > max_bytes or len(head) > prefix + size:
        raise ProtocolError(f"frame of {size} bytes exceeds the {max_bytes}-byte cap, or is followed by more")
    missing = prefix + size - len(head)
    return timeout, replay, cap, head[_LIMITS.size :] + (_read_exact(fd, missing, None) if missing else b"")


def encode_answer(
    cause: str,
    status: int,
    cpu_s: float,
    wall_s: float,
    stdout: bytes | bytearray,
    stderr: bytes | bytearray,
    report: bytes | bytearray,
) -> bytes:
    """The worker's answer: the fixed header, then stdout, stderr and the report, back to back."""
    header = _ANSWER.pack(CAUSES.index(cause), status, cpu_s, wall_s, len(stdout), len(stderr), len(report))
    return b"".join((header, stdout, stderr, report))


def read_answer(fd: int, output_cap: int, deadline: float) -> Answer:
    """Read a worker's answer, refusing any part over its cap (``output_cap`` for stdout and stderr,
    `MAX_REPORT` for the report) before reading it.

    Args:
        fd (`int`): the worker's answer pipe.
        output_cap (`int`): the block's ``output_limit`` in bytes.
        deadline (`float`): a `time.monotonic` instant after which to give up.
    """
    head = _read_exact(fd, _ANSWER.size, deadline, up_to=_ANSWER.size + _FIRST_READ)
    cause, status, cpu_s, wall_s, n_out, n_err, n_report = _ANSWER.unpack_from(head)
    if cause >= len(CAUSES) or n_out > output_cap or n_err > output_cap or n_report > MAX_REPORT:
        raise ProtocolError("malformed answer: unknown cause or a part over its cap")
    size = n_out + n_err + n_report
    body = head[_ANSWER.size :]
    if len(body) > size:
        raise ProtocolError("malformed answer: more bytes than its header announced")
    if len(body) < size:
        body += _read_exact(fd, size - len(body), deadline)
    return Answer(
        CAUSES[cause],
        status,
        cpu_s,
        wall_s,
        body[:n_out],
        body[n_out : n_out + n_err],
        body[n_out + n_err :],
    )
