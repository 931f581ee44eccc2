# ruff: noqa: E402
"""Teacher throughput: the OpenAI-compatible backend against a local scripted server with 50 ms of latency.

Each rollout is the real agent loop through ``synthesis.endpoint.batch.run_many`` and ``OpenAIBackend`` over HTTP (two
requests: code, then answer). The sandbox is a stand-in session that answers instantly, so the numbers measure
the teacher path alone (HTTP, client, retries bookkeeping, message rendering, loop), not code execution. The
ideal is ``concurrency / latency`` requests/s; the ratio says how much of it the client side keeps. The last
row reruns the concurrency-32 batch against a cache filled by the first run (zero requests).

Usage: .venv/bin/python bench/teacher.py [--latency-ms 50] [--seconds 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "tests" / "synthesis"))  # the scripted server lives with the tests

import argparse
import contextlib
import io
import os
import subprocess
import tempfile
import time

from PIL import Image

from sandbox import ExecResult, ExecStatus
from synthesis import format as fmt
from synthesis.agent import AgentConfig, Conversation
from synthesis.endpoint.backend import OpenAIBackend
from synthesis.endpoint.batch import RolloutJob, run_many
from synthesis.endpoint.config import TeacherConfig


class _InstantSession:
    """Stands in for a sandbox session: every block 'prints' the expected value at once."""

    def run(self, code: str) -> ExecResult:
        value = code.removeprefix("print(").removesuffix(")")
        return ExecResult(ExecStatus.OK, stdout=value + "\n", feedback=value)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 60, 90)).save(buf, format="PNG")
    return buf.getvalue()


def _jobs(n: int, tag: str) -> list[RolloutJob]:
    png = _png()
    jobs = []
    for i in range(n):
        user = fmt.render_user_prompt(
            f"What is {i}+1? [calc:{i} + 1] {tag}", "/mnt/data/input/q.png", (64, 48)
        )
        conversation = Conversation(fmt.SYSTEM_PROMPT, user, (png,))
        jobs.append(
            RolloutJob(conversation, lambda: contextlib.nullcontext(_InstantSession()), AgentConfig())
        )
    return jobs


@contextlib.contextmanager
def scripted_server(latency_s: float):
    """The scripted server in its own process (so it does not share the client's GIL); yields its base URL."""
    script = ROOT / "tests" / "synthesis" / "scripted_server.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--latency-s", str(latency_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()  # the server exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(base_url: str, concurrency: int, rollouts: int, cache_path: str, tag: str) -> dict:
    """Run ``rollouts`` rollouts ``concurrency`` at a time; returns counts and wall time."""
    cfg = TeacherConfig(
        base_url=base_url,
        model="scripted-teacher",
        concurrency=concurrency,
        cache_path=cache_path,
        timeout_s=30.0,
    )
    with OpenAIBackend(cfg) as backend:
        start = time.perf_counter()
        results = run_many(backend, _jobs(rollouts, tag), concurrency)
        wall = time.perf_counter() - start
        stats = backend.stats
    answered = sum(r.finish == "answer" for r in results)
    return {
        "wall": wall,
        "rollouts": rollouts,
        "answered": answered,
        "calls": stats.calls,
        "http": stats.requests,
        "hits": stats.cache_hits,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=2.0, help="ideal duration of each row")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    print(
        f"OpenAI-compatible teacher vs scripted server on 127.0.0.1, {args.latency_ms:.0f} ms latency per request,"
        " 2 requests per rollout, instant stand-in sandbox"
    )
    print(
        f"{'concurrency':>11} {'rollouts':>8} {'answered':>8} {'requests':>8} {'rollouts/s':>10} {'requests/s':>10}"
        f" {'ideal req/s':>11} {'ratio':>6}"
    )
    with scripted_server(latency) as base_url, tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the cache path is relative, as in pipeline.yaml
        rows = []
        for concurrency in (1, 8, 32):
            n = max(4, int(args.seconds * concurrency / (2 * latency)))
            rows.append(
                (str(concurrency), concurrency, measure(base_url, concurrency, n, "", f"c{concurrency}"))
            )
        n = rows[-1][2]["rollouts"]
        measure(base_url, 32, n, "cache.sqlite", "c32")
        rows.append(("32 cached", 32, measure(base_url, 32, n, "cache.sqlite", "c32")))
        os.chdir(ROOT)
    for label, concurrency, r in rows:
        ideal = concurrency / latency
        rate = r["calls"] / r["wall"]
        print(
            f"{label:>11} {r['rollouts']:>8} {r['answered']:>8} {r['http']:>8} {r['rollouts'] / r['wall']:>10.1f}"
            f" {rate:>10.1f} {ideal:>11.1f} {rate / ideal:>6.2f}"
        )


if __name__ == "__main__":
    main()
