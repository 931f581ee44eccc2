"""A scripted OpenAI-compatible server on 127.0.0.1 that plays a Thyme teacher, with injectable faults.

It serves ``POST /v1/chat/completions`` and ``GET /v1/models`` over real HTTP (stdlib ``ThreadingHTTPServer``
on an ephemeral port). For each request it rebuilds the trajectory so far from the messages (both message
modes: sandbox outputs as user turns, or one final assistant message) and continues a fixed per-stage script:

* before any sandbox output: ``<think>`` + reasoning + a ``<code>`` block that prints a computation
  (``[calc:EXPR]`` in the user text, default ``6 * 7``; ``[calc2f:EXPR]`` prints it with ``:.2f``, which
  Thyme's sandbox widens to 8 decimals) or, with ``[crop]``, crops ``image_path`` (``[cropsmall]``: a 24-px
  box at (-8, -8), which only runs as recorded with Thyme's crop clamp);
* after a sandbox output: reasoning that quotes the output + ``</think>\\n<answer>...</answer>``;
* ``[answer]`` answers at once; ``[junk]`` replies with text that has no protocol tags at all, ``[thenjunk]``
  does so only after the first sandbox output.

The reply continues the current stage's script from whatever the assistant already wrote (so a stop at
``<code>`` followed by a code call works), honours ``stop`` by stripping the matched string as OpenAI does and
``max_tokens`` (4 characters a token) with ``finish_reason="length"``.

Faults are scripted by markers in the user text: ``[fault:KIND]`` on every attempt, ``[fault:KINDxN]`` on
the first N attempts of each distinct request (retries resend the same body), ``...@S`` only at stage S (0 =
the first call). Kinds: ``400``, ``429`` (with ``Retry-After: 0``), ``500``, ``503``, ``hang`` (sleeps past
the client's timeout), ``badjson`` (a 200 whose body is not JSON), ``nochoices``, ``empty``, ``null`` (content
null), ``length`` (reply cut short, ``finish_reason="length"``), ``cut`` (connection closed mid-body),
``toolong`` (a 400 whose message varies with the request, like a context-length refusal), ``surrogate`` (the
reply text holds a lone surrogate, sent as the JSON escape ``\\ud800``).

Refusals of the whole server: ``api_key`` answers 401 to any other key, ``strict_model`` answers 404 to any
other model (vLLM's wording), ``always`` answers every completion with one fault kind (e.g. ``"400"``).
``received`` counts every HTTP request; a backend's preflight (header ``X-Thyme-Preflight``) goes to
``preflights``, every other completion request (refused ones included) to ``bodies``. ``in_flight`` measures
how many of those were in flight over time (the teacher bench and the concurrency test read its
:meth:`InFlight.report`).

Latency is a sleep in the request's own thread: it costs no CPU, so one server process can hold hundreds of
requests in flight (the accept backlog is deep enough for that many connections opening at once).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_RE = re.compile(r"\[fault:(\w+?)(?:x(\d+))?(?:@(\d+))?\]")
CALC_RE = re.compile(r"\[calc:([^\]]+)\]")
CALC2F_RE = re.compile(r"\[calc2f:([^\]]+)\]")
SMALL_CROP_CODE = (
    "from PIL import Image\nimg = Image.open(image_path)\nx1, y1, x2, y2 = -8, -8, 16, 16\n"
    'p = "/mnt/data/temp_processed_images/crop.png"\nimg.crop((x1, y1, x2, y2)).save(p)\nprint(p)'
)
CROP_CODE = (
    "from PIL import Image\nimg = Image.open(image_path)\nw, h = img.size\n"
    'p = "/mnt/data/temp_processed_images/crop.png"\nimg.crop((0, 0, w // 2, h // 2)).save(p)\nprint(p)'
)


class InFlight:
    """Time-weighted count of requests in flight, from the first arrival to the last reply.

    ``seconds[k]`` is how long exactly ``k`` requests were in flight; :meth:`report` turns it into the
    fraction of the window at zero, the mean and the peak.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = self.peak = self.total = 0
        self.first: float | None = None
        self.last: float | None = None
        self._since: float | None = None
        self.seconds: dict[int, float] = {}
        self.events: list[tuple[float, int]] = []  # (time, +1 or -1), for the timeline

    def _tick(self, t: float) -> None:
        if self._since is not None:
            self.seconds[self.now] = self.seconds.get(self.now, 0.0) + t - self._since
        self._since = t

    def enter(self) -> None:
        with self._lock:
            t = time.monotonic()
            self._tick(t)
            self.now, self.total = self.now + 1, self.total + 1
            self.events.append((t, 1))
            self.peak = max(self.peak, self.now)
            self.first = t if self.first is None else self.first

    def leave(self) -> None:
        with self._lock:
            t = time.monotonic()
            self._tick(t)
            self.now -= 1
            self.last = t
            self.events.append((t, -1))

    def report(self) -> dict:
        """``start`` and ``window_s`` (first arrival to last reply), ``requests``, ``zero_fraction``,
        ``mean``, ``peak``, and ``at_least``: the fraction of the window with at least k in flight, for k at
        25, 50, 75, 90 and 100% of the peak; ``timeline``: the mean in flight in each 20th of the window."""
        with self._lock:
            first, last = self.first, self.last
            seconds, events = dict(self.seconds), list(self.events)
            peak, total = self.peak, self.total
        window = last - first if first is not None and last is not None else 0.0
        if first is None or window <= 0:
            return {"window_s": 0.0, "requests": total, "zero_fraction": 1.0, "mean": 0.0, "peak": peak}
        levels = sorted({max(1, round(peak * f)) for f in (0.25, 0.5, 0.75, 0.9, 1.0)})
        return {
            "start": first,  # time.monotonic(): one clock for every process of the machine
            "window_s": window,
            "requests": total,
            "zero_fraction": seconds.get(0, 0.0) / window,
            "mean": sum(k * v for k, v in seconds.items()) / window,
            "peak": peak,
            "at_least": {k: sum(v for n, v in seconds.items() if n >= k) / window for k in levels},
            "timeline": _timeline(events, first, window),
        }


def _timeline(events: list[tuple[float, int]], start: float, window: float, parts: int = 20) -> list[float]:
    """Mean requests in flight in each of ``parts`` equal slices of the window.

    Example:
        >>> _timeline([(0.0, 1), (1.0, 1), (2.0, -1), (4.0, -1)], 0.0, 4.0, parts=4)
        [1.0, 2.0, 1.0, 1.0]
    """
    bounds = [start + window * i / parts for i in range(parts + 1)]
    area, now, previous = [0.0] * parts, 0, start
    for t, delta in events:
        for i in range(parts):  # the part of [previous, t) inside each slice
            overlap = min(t, bounds[i + 1]) - max(previous, bounds[i])
            if overlap > 0:
                area[i] += now * overlap
        now, previous = now + delta, t
    return [round(a * parts / window, 1) for a in area]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # hundreds of clients connect at once; the default 5 drops SYNs (1 s each)


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
    return _text_of(messages[first]["content"]), "".join(
        _text_of(m["content"]) for m in messages[first + 1 :]
    )


def script(user: str, stage: int, last_output: str) -> str:
    """The full text the scripted teacher writes at ``stage`` (number of sandbox outputs so far)."""
    if "[junk]" in user or (stage and "[thenjunk]" in user):
        return "lorem ipsum dolor sit amet " * 3
    if stage == 0 and "[answer]" in user:
        return "<think>The problem is very simple.</think>\n<answer>simple</answer>"
    if stage == 0:
        if "[crop]" in user:
            return f"<think>I will crop the top-left quarter.<code>\n```python\n{CROP_CODE}\n```\n</code>"
        if "[cropsmall]" in user:
            return f"<think>I will crop the corner.<code>\n```python\n{SMALL_CROP_CODE}\n```\n</code>"
        if CALC2F_RE.search(user):
            code = f'print(f"{{{CALC2F_RE.search(user)[1]}:.2f}}")'
            return f"<think>I will compute it with code.<code>\n```python\n{code}\n```\n</code>"
        expr = (CALC_RE.search(user) or [None, "6 * 7"])[1]
        return f"<think>I will compute it with code.<code>\n```python\nprint({expr})\n```\n</code>"
    answer = "cropped" if "<image>" in last_output else last_output.strip()
    shown = "the cropped image" if "<image>" in last_output else last_output
    return f"The sandbox returned {shown}, so that is the result.</think>\n<answer>{answer}</answer>"


def reply_for(body: dict) -> tuple[str, str, int]:
    """(content, finish_reason, stage) the teacher sends for a request body, honouring stop and max_tokens."""
    user, so_far = transcript(body.get("messages", []))
    stage = so_far.count("</sandbox_output>")
    prefix = so_far.rsplit("</sandbox_output>", 1)[-1]
    outputs = re.findall(r"<sandbox_output>(.*?)</sandbox_output>", so_far, re.DOTALL)
    full = script(user, stage, outputs[-1] if outputs else "")
    text = full[len(prefix) :] if prefix and full.startswith(prefix) else full
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
        latency_s (`float`, *optional*, defaults to `0.0`): added to every completion (a sleep: no CPU).
        hang_s (`float`, *optional*, defaults to `3.0`): how long a ``hang`` fault sleeps before answering.
        model (`str`, *optional*, defaults to `"scripted-teacher"`): the one model listed.
        api_key (`str`, *optional*): the only key accepted (401 otherwise); None accepts any.
        strict_model (`bool`, *optional*, defaults to `False`): answer 404 to a request for another model.
        always (`str`, *optional*): a fault kind applied to every completion request, preflights included.
        jitter_s (`float`, *optional*, defaults to `0.0`): a further random delay of up to this much, so that
            requests sent together finish in another order.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        hang_s: float = 3.0,
        model: str = "scripted-teacher",
        api_key: str | None = None,
        strict_model: bool = False,
        always: str | None = None,
        jitter_s: float = 0.0,
    ):
        self.latency_s, self.hang_s, self.model = latency_s, hang_s, model
        self.jitter_s, self._rng = jitter_s, random.Random(0)
        self.api_key, self.strict_model, self.always = api_key, strict_model, always
        self.bodies: list[dict] = []  # every completion request of a rollout received, in arrival order
        self.auth: list[str] = []  # the Authorization header of each
        self.preflights: list[dict] = []  # the backend's preflight requests
        self.received = 0  # every HTTP request, of any kind
        self.in_flight = InFlight()  # completion requests of rollouts (not preflights) in flight over time
        self._attempts: Counter = Counter()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="scripted-teacher", daemon=True
        )

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

    def jitter(self) -> float:
        """A uniform draw in [0, 1) for the jitter (one generator, shared by the request threads)."""
        with self._lock:
            return self._rng.random()

    def count(self) -> None:
        with self._lock:
            self.received += 1

    def record(self, body: dict, auth: str, preflight: bool = False) -> int:
        """Log a request; returns how many times this exact body was seen before (its attempt index)."""
        key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            if preflight:
                self.preflights.append(body)
                return 0
            self.bodies.append(body)
            self.auth.append(auth)
            self._attempts[key] += 1
            return self._attempts[key] - 1

    def refusal(self, body: dict, auth: str) -> tuple[int, str] | None:
        """(status, message) when the server refuses this request whatever it asks, else None."""
        if self.api_key is not None and auth != f"Bearer {self.api_key}":
            return 401, "Incorrect API key provided."
        if self.strict_model and body.get("model") != self.model:
            return 404, f"The model `{body.get('model')}` does not exist."
        return None

    def completion(self, body: dict, text: str | None, finish: str) -> dict:
        prompt = len(json.dumps(body.get("messages", []))) // 4
        done = len(text or "") // 4 + 1
        return {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 0,
            "model": self.model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
            "usage": {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done},
        }


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

        def _send(
            self, status: int, payload: bytes, headers: dict | None = None, declared: int | None = None
        ):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(declared if declared is not None else len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            server.count()
            if self.path.rstrip("/") == "/v1/models":
                if (
                    server.api_key is not None
                    and self.headers.get("Authorization", "") != f"Bearer {server.api_key}"
                ):
                    return self._send(
                        401,
                        b'{"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}',
                    )
                data = {
                    "object": "list",
                    "data": [{"id": server.model, "object": "model", "owned_by": "tests"}],
                }
                return self._send(200, json.dumps(data).encode())
            self._send(404, b'{"error": {"message": "not found"}}')

        def do_POST(self):
            server.count()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, b'{"error": {"message": "not found"}}')
            auth = self.headers.get("Authorization", "")
            preflight = bool(self.headers.get("X-Thyme-Preflight"))
            attempt = server.record(body, auth, preflight=preflight)
            if preflight:
                return self._complete(body, auth, attempt)
            server.in_flight.enter()
            try:
                return self._complete(body, auth, attempt)
            finally:
                server.in_flight.leave()

        def _complete(self, body: dict, auth: str, attempt: int):
            refused = server.refusal(body, auth)
            if refused is not None:
                status, message = refused
                return self._send(
                    status, json.dumps({"error": {"message": message, "code": status}}).encode()
                )
            if server.latency_s or server.jitter_s:
                time.sleep(server.latency_s + server.jitter_s * server.jitter())
            text, finish, stage = reply_for(body)
            try:
                self._answer(body, text, finish, server.always or active_fault(body, stage, attempt))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout): nothing to answer

        def _answer(self, body: dict, text: str, finish: str, fault: str | None):
            error = json.dumps({"error": {"message": f"scripted {fault}", "type": "scripted"}}).encode()
            if fault == "toolong":
                size = len(json.dumps(body))
                message = f"maximum context length is 100 tokens, you requested {size // 4} tokens"
                return self._send(400, json.dumps({"error": {"message": message}}).encode())
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
            elif fault == "surrogate":
                reply["choices"][0]["message"]["content"] = text + "\ud800"
            elif fault == "length":
                reply["choices"][0]["message"]["content"] = text[: max(1, len(text) // 3)]
                reply["choices"][0]["finish_reason"] = "length"
            self._send(200, json.dumps(reply).encode())

    return Handler


class ScriptedJudge:
    """An OpenAI-compatible judge on 127.0.0.1: ``replies`` served in order (the last one repeats;
    ``"HTTP500"`` answers 500), every request body kept in ``requests``. Use as ``with ScriptedJudge() as
    judge:``."""

    def __init__(self, replies: list[str] | None = None):
        self.replies: list[str] = replies or ['{"Correctness": 1}']
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                reply = judge.next(body)
                if reply == "HTTP500":
                    self.send_response(500)
                    self.end_headers()
                    return
                payload = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": reply},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-judge", daemon=True)

    def next(self, body: dict) -> str:
        """Log a request; the reply to send."""
        with self._lock:
            self.requests.append(body)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> ScriptedJudge:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    """Serve in this process until stdin closes (the bench runs the server apart from the client's GIL); then
    print the :meth:`InFlight.report` of the rollout requests as one JSON line."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible teacher on 127.0.0.1")
    parser.add_argument("--latency-s", type=float, default=0.0)
    args = parser.parse_args()
    with ScriptedTeacher(latency_s=args.latency_s) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()
        print(json.dumps(server.in_flight.report()), flush=True)


if __name__ == "__main__":
    main()
