"""End-to-end throughput and memory of build_sft.

1. records/s with 1 and 2 pipeline workers (multi-process runner), same tasks, run alternately;
2. peak RSS of the whole process tree (driver, SDK workers, sandbox workers) at a small and a 10x larger
   dataset, to show memory does not grow with the dataset.

Usage: .venv/bin/python bench/pipeline.py [--records 300] [--small 1000] [--large 10000] [--repeats 1]
The memory runs use a compute-only mix (the cheapest family) without strict re-execution, so 10k records
finish in minutes on 2 cores; what they measure is whether the pipeline's own buffers grow with the dataset.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEAM = str(Path(sys.executable).with_name("beam"))


def _tree_rss_kb(root_pid: int) -> int:
    """Sum of VmRSS over ``root_pid`` and all its descendants (read from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid, ppid = int(entry), int(fields.get("PPid", "0").strip())
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_build(overrides: list[str]) -> tuple[float, int]:
    """Run build_sft in a subprocess; returns (wall seconds, peak RSS of its process tree in MiB)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            BEAM,
            "run",
            "pipelines/build_sft.py",
            "--config",
            "pipeline.yaml",
            f"run.output_dir={out}",
            *overrides,
        ]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak = [0]

        def sample():
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss_kb(proc.pid))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, err = proc.communicate()
        sampler.join()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"build_sft failed: {err.decode()[-2000:]}")
        return wall, peak[0] // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300, help="records per throughput run (0 skips it)")
    parser.add_argument("--small", type=int, default=1000, help="records of the small memory run")
    parser.add_argument(
        "--large", type=int, default=10000, help="records of the large memory run (0 skips it)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="alternating repeats of the throughput runs")
    args = parser.parse_args()

    if args.records:
        throughput(args.records, args.repeats)
    if args.large:
        memory(args.small, args.large)


def throughput(records: int, repeats: int) -> None:
    """records/s with 1 and 2 pipeline workers, alternating, best of ``repeats``."""
    common = [f"tasks.count={records}", "runner.kind=multi_process", "sandbox.workers=1"]
    rates = {1: [], 2: []}
    for _ in range(repeats):
        for workers in (1, 2):
            wall, _ = run_build(
                [*common, f"runner.workers={workers}", f"tasks.base_seed={workers * 100_000}"]
            )
            rates[workers].append(records / wall)
    best = {w: max(r) for w, r in rates.items()}
    print(f"throughput, default mix, {records} records (best of {repeats}):")
    for w in (1, 2):
        print(f"  {w} worker(s): {best[w]:.2f} records/s")
    print(f"  ratio 2 workers / 1 worker: {best[2] / best[1]:.2f}x (target >= 1.7x)")


def memory(small: int, large: int) -> None:
    """Peak RSS of the process tree at ``small`` and ``large`` records."""
    mem_common = [
        "runner.kind=multi_process",
        "runner.workers=2",
        "sandbox.workers=1",
        "tasks.mix={compute: 1}",
        "validators.execution.reexecute=false",
        "run.publish=false",
    ]
    small_wall, small_rss = run_build([*mem_common, f"tasks.count={small}"])
    large_wall, large_rss = run_build([*mem_common, f"tasks.count={large}"])
    print("peak RSS of the whole process tree, compute-only mix, 2 workers:")
    print(f"  {small:>6} records: {small_rss} MiB ({small / small_wall:.1f} records/s)")
    print(f"  {large:>6} records: {large_rss} MiB ({large / large_wall:.1f} records/s)")
    print(f"  ratio: {large_rss / small_rss:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
