# ruff: noqa: E402
"""Teacher throughput end to end: ``beam run pipelines/build_sft.py`` vs a slow scripted server, vs ideal.

Each setting (``concurrency`` x ``latency``) runs the real build_sft (the configured runner, two SDK worker
processes by default) on a Parquet file of known-answer tasks, with ``teacher.kind=openai`` pointed at the
scripted OpenAI-compatible server of ``tests/synthesis`` on 127.0.0.1, in its own process. The server sleeps
``latency`` seconds per request (no CPU) and measures how many rollout requests it holds in flight over time.

A rollout is two sequential requests (code, then answer) with a sandbox run between them, then the record is
verified and stored; every task leaves as one trajectory or one dead letter. The numbers:

* ``ideal`` = workers x concurrency / (latency x requests per record): records/s if every worker kept
  ``concurrency`` requests in flight all the time;
* ``measured`` = records / the server's window (first rollout request to last reply), and ``ratio`` =
  measured / ideal; ``e2e`` is records / the whole command's wall time (Beam start, preflight, shard writing
  and shard checks included);
* the server's view: the fraction of the window with zero requests in flight, the mean and the peak in flight;
* the peak RSS (VmHWM) of each SDK worker and their summed RSS at 10/50/90% of the window (flat memory);
* ``drains``: bundles of the teacher stage, i.e. how often a worker's pool was drained (Beam needs a bundle's
  outputs before it ends), and the seconds from each bundle's last task to its last output, summed (the
  rollouts still running or queued then; not idle time);
* ``dead`` (in the JSON lines on stderr): dead letters by stage and reason, so a broken run is visible.

Usage: .venv/bin/python bench/teacher.py [--settings 64x3,16x10] [--seconds 90,240] [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import io
import json
import math
import random
import subprocess
import tempfile
import threading
import time

import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

REQUESTS_PER_RECORD = 2  # the scripted teacher's [calc:...] script: a code block, then the answer
IMAGE_SIDE = 96  # noise PNG of ~28 KB per task: a leak of images would show in the workers' RSS


def write_tasks(path: Path, count: int, rows_per_group: int = 16) -> None:
    """``count`` known-answer tasks, each with its own noise image, in row groups the workers share."""
    rng = random.Random(0)
    rows = []
    for i in range(count):
        buf = io.BytesIO()
        Image.frombytes("RGB", (IMAGE_SIDE, IMAGE_SIDE), rng.randbytes(3 * IMAGE_SIDE * IMAGE_SIDE)).save(
            buf, format="PNG"
        )
        a, b = i % 97, i // 97
        rows.append(
            {
                "image": buf.getvalue(),
                "question": f"What is {a} + {b}? [calc:{a} + {b}] (task {i})",
                "answer": str(a + b),
                "answer_type": "number",
            }
        )
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=rows_per_group)


@contextlib.contextmanager
def scripted_server(latency_s: float):
    """The scripted server in its own process; yields ``(base_url, report)`` where ``report`` (a dict) is
    filled with the server's in-flight report when the block ends."""
    script = ROOT / "tests" / "synthesis" / "scripted_server.py"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--latency-s", str(latency_s)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    report: dict = {}
    assert proc.stdin is not None and proc.stdout is not None
    try:
        yield proc.stdout.readline().strip(), report
    finally:
        proc.stdin.close()  # the server prints its report and exits when its stdin closes
        line = proc.stdout.readline()
        report.update(json.loads(line) if line.strip() else {})
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class WorkerMemory:
    """Samples the RSS of the run's SDK worker processes (or of the run itself, for in-process runners)."""

    def __init__(self, root_pid: int, in_process: bool, every_s: float = 0.5):
        self._root, self._in_process, self._every = psutil.Process(root_pid), in_process, every_s
        self.samples: list[tuple[float, dict[int, int]]] = []  # (monotonic, {pid: rss bytes})
        self.peak: dict[int, int] = {}  # pid -> VmHWM bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _workers(self) -> list[psutil.Process]:
        if self._in_process:
            return [self._root]
        workers = []
        with contextlib.suppress(psutil.Error):
            for kid in self._root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    cmd = kid.cmdline()
                    if (
                        cmd
                        and "python" in Path(cmd[0]).name
                        and "apache_beam.runners.worker.sdk_worker_main" in cmd
                    ):
                        workers.append(kid)
        return workers

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            now, rss = time.monotonic(), {}
            for proc in self._workers():
                with contextlib.suppress(psutil.Error, OSError, ValueError):
                    rss[proc.pid] = proc.memory_info().rss
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
                    self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), int(hwm.split()[1]) * 1024)
            self.samples.append((now, rss))

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, t: float) -> int:
        """Summed worker RSS of the sample nearest to ``t`` (monotonic)."""
        if not self.samples:
            return 0
        return sum(min(self.samples, key=lambda s: abs(s[0] - t))[1].values())


def run_setting(concurrency: int, latency: float, seconds: float, workers: int, runner: str) -> dict:
    """One build_sft run against a server of ``latency``; the measured numbers."""
    workers = workers if runner == "multi_process" else 1  # the in-process and portable runners run one
    ideal_guess = workers * concurrency / (latency * REQUESTS_PER_RECORD)
    count = max(4 * workers * concurrency, math.ceil(ideal_guess * seconds))
    with tempfile.TemporaryDirectory(prefix="bench-teacher-") as tmp:
        tasks = Path(tmp) / "tasks.parquet"
        write_tasks(tasks, count)
        with scripted_server(latency) as (base_url, report):
            cmd = [
                str(Path(sys.executable).with_name("beam")),
                "run",
                "pipelines/build_sft.py",
                "--config",
                "pipeline.yaml",
                f"run.output_dir={tmp}/out",
                "run.publish=false",
                "run.report=false",
                "sources.generated=false",
                f"sources.task_files=[{tasks}]",
                "teacher.kind=openai",
                f"teacher.openai.base_url={base_url}",
                "teacher.openai.model=scripted-teacher",
                f"teacher.openai.concurrency={concurrency}",
                f"teacher.openai.timeout_s={10 * latency + 30}",
                f"teacher.openai.cache_path={tmp}/cache.sqlite",
                f"runner.kind={runner}",
                f"runner.workers={max(workers, 1)}",
                "sandbox.workers=1",
            ]
            started = time.monotonic()
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            with WorkerMemory(proc.pid, in_process=runner != "multi_process") as memory:
                out, err = proc.communicate()
            wall = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(f"build_sft exited {proc.returncode}:\n{err[-3000:]}")
        stats = json.loads((Path(tmp) / "out" / "thyme-sft" / "stats.json").read_text())
    window = report["window_s"]
    per_record = report["requests"] / count
    ideal = workers * concurrency / (latency * per_record)
    measured = count / window
    start = report["start"]
    return {
        "concurrency": concurrency,
        "latency": latency,
        "records": count,
        "accounted": stats["holds"] and stats["records_in"] == count,
        "accepted": stats["accepted"],
        "dead": {
            k.removeprefix("dead/reason/"): v
            for k, v in stats["counts"].items()
            if k.startswith("dead/reason/")
        },
        "drains": int(stats["metrics"].get("teacher_bundle_tasks_count", 0)),
        "drain_s": stats["metrics"].get("teacher_drain_ms_sum", 0) / 1000,
        "requests_per_record": per_record,
        "window_s": window,
        "wall_s": wall,
        "measured": measured,
        "ideal": ideal,
        "ratio": measured / ideal,
        "e2e": count / wall,
        "zero": report["zero_fraction"],
        "mean": report["mean"],
        "peak": report["peak"],
        "at_least": report.get("at_least", {}),
        "timeline": report.get("timeline", []),
        "peak_rss": sorted(memory.peak.values()),
        "rss": [memory.at(start + f * window) for f in (0.1, 0.5, 0.9)],
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="64x3,16x10", help="concurrency x latency (s), comma-separated")
    parser.add_argument("--seconds", default="90,240", help="ideal duration of each setting's teacher stage")
    parser.add_argument("--workers", type=int, default=2, help="SDK worker processes (runner.workers)")
    parser.add_argument("--runner", default="multi_process", help="runner.kind")
    parser.add_argument("--repeat", type=int, default=1, help="run every setting this many times")
    args = parser.parse_args()
    settings = [tuple(float(x) for x in s.split("x")) for s in args.settings.split(",")]
    seconds = [float(s) for s in args.seconds.split(",")]
    seconds += seconds[-1:] * (len(settings) - len(seconds))
    print(
        f"build_sft, teacher.kind=openai vs the scripted server on 127.0.0.1, runner {args.runner} with "
        f"{args.workers} workers; ideal = workers x concurrency / (latency x requests per record)"
    )
    rows = []
    for run in range(1, args.repeat + 1):
        for (concurrency, latency), secs in zip(settings, seconds, strict=True):
            r = {"run": run, **run_setting(int(concurrency), latency, secs, args.workers, args.runner)}
            rows.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    table = [
        ("run", 3, lambda r: f"{r['run']}"),
        ("conc", 4, lambda r: f"{r['concurrency']}"),
        ("lat s", 5, lambda r: f"{r['latency']:.1f}"),
        ("records", 7, lambda r: f"{r['records']}"),
        ("req/rec", 7, lambda r: f"{r['requests_per_record']:.2f}"),
        ("window s", 8, lambda r: f"{r['window_s']:.1f}"),
        ("wall s", 6, lambda r: f"{r['wall_s']:.1f}"),
        ("rec/s", 6, lambda r: f"{r['measured']:.2f}"),
        ("ideal", 6, lambda r: f"{r['ideal']:.2f}"),
        ("ratio", 5, lambda r: f"{r['ratio']:.2f}"),
        ("e2e/s", 6, lambda r: f"{r['e2e']:.2f}"),
        ("zero", 5, lambda r: f"{r['zero']:.3f}"),
        ("mean", 6, lambda r: f"{r['mean']:.1f}"),
        ("peak", 4, lambda r: f"{r['peak']}"),
        ("peak RSS MiB", 12, lambda r: "/".join(_mib(x) for x in r["peak_rss"])),
        ("RSS MiB @10/50/90%", 18, lambda r: "/".join(_mib(x) for x in r["rss"])),
        ("drains", 10, lambda r: f"{r['drains']} in {r['drain_s']:.0f}s"),
        ("ok", 3, lambda r: "yes" if r["accounted"] else "NO"),
    ]
    print(" ".join(f"{name:>{width}}" for name, width, _ in table))
    for r in rows:
        print(" ".join(f"{cell(r):>{width}}" for _, width, cell in table))


if __name__ == "__main__":
    main()
