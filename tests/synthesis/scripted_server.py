"""A scripted OpenAI-compatible server on 127.0.0.1 that plays a Thyme teacher, with injectable faults.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP (stdlib ``ThreadingHTTPServer``
on an ephemeral port). For each request it rebuilds the trajectory so far from the messages (both message
modes: sandbox outputs as user turns, or one final assistant message) and continues a fixed per-stage script:

* before any sandbox output: ``<think>`` + reasoning + a ``<code>`` block that prints a computation
  (``[calc:EXPR]`` in the user text, default ``6 * 7``) or, with ``[crop]``, crops ``image_path``;
* after a sandbox output: reasoning that quotes the output + ``</think>\\n<answer>...</answer>``;
* ``[answer]`` answers at once; ``[junk]`` replies with text that has no protocol tags at all.

The reply continues the current stage's script from whatever the assistant already wrote (so a stop at
``<code>`` followed by a code call works), honours ``stop`` by stripping the matched string as OpenAI does and
``max_tokens`` (4 characters a token) with ``finish_reason="length"``.

Faults are scripted by markers in the user text: ``[fault:KIND]`` on every attempt, ``[fault:KINDxN]`` on the
first N attempts of each distinct request (retries resend the same body), ``...@S`` only at stage S (0 = the
first call). Kinds: ``400``, ``429`` (with ``Retry-After: 0``), ``500``, ``503``, ``hang`` (sleeps past the client's
timeout), ``badjson`` (a 200 whose body is not JSON), ``nochoices``, ``empty``, ``null`` (content null),
``length`` (reply cut short, ``finish_reason="length"``), ``cut`` (connection closed mid-body).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_RE = re.compile(r"\[fault:(\w+?)(?:x(\d+))?(?:@(\d+))?\]")
CALC_RE = re.compile(r"\[calc:([^\]]+)\]")
CROP_CODE = ('from PIL import Image\nimg = Image.open(image_path)\nw, h = img.size\n'
             'p = "/mnt/data/temp_processed_images/crop.png"\nimg.crop((0, 0, w // 2, h // 2)).save(p)\nprint(p)')


def _text_of(content) -> str:
    """Message content as text, each image part as an ``<image>`` placeholder."""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") if p.get("type") == "text" else "<image>" for p in content or [])


def transcript(messages: list[dict]) -> tuple[str, str]:
    """(first user text, the assistant trajectory so far) from the messages of either message mode."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    if not users:
        return "", ""
    first = users[0]
    return _text_of(messages[first]["content"]), "".join(_text_of(m["content"]) for m in messages[first + 1:])


def script(user: str, stage: int, last_output: str) -> str:
    """The full text the scripted teacher writes at ``stage`` (number of sandbox outputs so far)."""
    if "[junk]" in user:
        return "lorem ipsum dolor sit amet " * 3
    if stage == 0 and "[answer]" in user:
        return "<think>The problem is very simple.</think>\n<answer>simple</answer>"
    if stage == 0:
        if "[crop]" in user:
            return f"<think>I will crop the top-left quarter.<code>\n```python\n{CROP_CODE}\n```\n</code>"
        expr = (CALC_RE.search(user) or [None, "6 * 7"])[1]
        return f"<think>I will compute it with code.<code>\n```python\nprint({expr})\n```\n</code>"
    answer = "cropped" if "<image>" in last_output else last_output.strip()
    return f"The sandbox returned {last_output}, so that is the result.</think>\n<answer>{answer}</answer>"


def reply_for(body: dict) -> tuple[str, str, int]:
    """(content, finish_reason, stage) the teacher sends for a request body, honouring stop and max_tokens."""
    user, so_far = transcript(body.get("messages", []))
    stage = so_far.count("</sandbox_output>")
    prefix = so_far.rsplit("</sandbox_output>", 1)[-1]
    outputs = re.findall(r"<sandbox_output>(.*?)</sandbox_output>", so_far, re.DOTALL)
    full = script(user, stage, outputs[-1] if outputs else "")
    text = full[len(prefix):] if prefix and full.startswith(prefix) else full
    finish = "stop"
    hits = [(text.find(s), s) for s in body.get("stop") or [] if s and s in text]
    if hits:
        text = text[: min(hits)[0]]
    limit = 4 * int(body.get("max_tokens") or 1 << 30)
    if len(text) > limit:
        text, finish = text[:limit], "length"
    return text, finish, stage


class ScriptedTeacher:
    """The server: start it with ``with ScriptedTeacher() as server:``; ``server.base_url`` ends in ``/v1``.

    Args:
        latency_s (`float`, *optional*, defaults to `0.0`): added to every completion (the bench uses 0.05).
        hang_s (`float`, *optional*, defaults to `3.0`): how long a ``hang`` fault sleeps before answering.
        model (`str`, *optional*, defaults to `"scripted-teacher"`): the one model listed.
    """

    def __init__(self, latency_s: float = 0.0, hang_s: float = 3.0, model: str = "scripted-teacher"):
        self.latency_s, self.hang_s, self.model = latency_s, hang_s, model
        self.bodies: list[dict] = []  # every completion request received, in arrival order
        self.auth: list[str] = []  # the Authorization header of each
        self._attempts: Counter = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-teacher", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def requests(self) -> int:
        """Completion requests received so far (every attempt counts)."""
        with self._lock:
            return len(self.bodies)

    def __enter__(self) -> ScriptedTeacher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def record(self, body: dict, auth: str) -> int:
        """Log a request; returns how many times this exact body was seen before (its attempt index)."""
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            self.bodies.append(body)
            self.auth.append(auth)
            self._attempts[key] += 1
            return self._attempts[key] - 1

    def completion(self, body: dict, text: str | None, finish: str) -> dict:
        prompt = len(json.dumps(body.get("messages", []))) // 4
        done = len(text or "") // 4 + 1
        return {"id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}}


def active_fault(body: dict, stage: int, attempt: int) -> str | None:
    """The fault kind that applies to this attempt, if any."""
    user, _ = transcript(body.get("messages", []))
    for kind, times, at in FAULT_RE.findall(user):
        if at and int(at) != stage:
            continue
        if not times or attempt < int(times):
            return kind
    return None


def _handler(server: ScriptedTeacher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # answer without waiting for delayed ACKs (40 ms on Linux)

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, payload: bytes, headers: dict | None = None, declared: int | None = None):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(declared if declared is not None else len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                data = {"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "tests"}]}
                return self._send(200, json.dumps(data).encode())
            self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, b'{"error": {"message": "not found"}}')
            attempt = server.record(body, self.headers.get("Authorization", ""))
            if server.latency_s:
                time.sleep(server.latency_s)
            text, finish, stage = reply_for(body)
            try:
                self._answer(body, text, finish, active_fault(body, stage, attempt))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to answer

        def _answer(self, body: dict, text: str, finish: str, fault: str | None):
            error = json.dumps({"error": {"message": f"scripted {fault}", "type": "scripted"}}).encode()
            if fault in ("400", "429", "500", "503"):
                return self._send(int(fault), error, {"Retry-After": "0"} if fault == "429" else None)
            if fault == "hang":
                time.sleep(server.hang_s)
            if fault == "badjson":
                return self._send(200, b'{"id": "chatcmpl-x", "choices": [{"index": 0, "mess')
            if fault == "cut":
                payload = json.dumps(server.completion(body, text, finish)).encode()
                self._send(200, payload[: len(payload) // 2], declared=len(payload))
                self.close_connection = True
                return None
            reply = server.completion(body, text, finish)
            if fault == "nochoices":
                reply["choices"] = []
            elif fault in ("empty", "null"):
                reply["choices"][0]["message"]["content"] = "" if fault == "empty" else None
            elif fault == "length":
                reply["choices"][0]["message"]["content"] = text[: max(1, len(text) // 3)]
                reply["choices"][0]["finish_reason"] = "length"
            self._send(200, json.dumps(reply).encode())

    return Handler


def main() -> None:
    """Serve in this process until stdin closes (the bench runs the server apart from the client's GIL)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible teacher on 127.0.0.1")
    parser.add_argument("--latency-s", type=float, default=0.0)
    args = parser.parse_args()
    with ScriptedTeacher(latency_s=args.latency_s) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
