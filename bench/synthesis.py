# ruff: noqa: E402
"""Synthesis throughput: tasks + trajectories/s on the programmatic path (sandbox included), per family,
and the OpenAI-compatible teacher against a local scripted server with injected latency (bench/teacher.py).

Usage: .venv/bin/python bench/synthesis.py [--tasks 120] [--workers 2] [--skip-teacher]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import subprocess
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sandbox import Sandbox, SandboxConfig
from synthesis.tasks import TasksConfig, generate_task, plan_tasks
from synthesis.teacher import teach


def programmatic(n: int, workers: int, threads: int) -> None:
    """Generate + teach ``n`` default-mix tasks; ``threads`` trajectories in flight over ``workers``."""
    cfg = TasksConfig(count=n, base_seed=50_000)
    per_family = defaultdict(lambda: [0, 0.0, 0.0])

    def one(item):
        family, seed = item
        t0 = time.perf_counter()
        task = generate_task(family, seed, cfg)
        t1 = time.perf_counter()
        rollout = teach(task, sandbox)
        t2 = time.perf_counter()
        return family, t1 - t0, t2 - t1, rollout.finish == "answer"

    with Sandbox(SandboxConfig(workers=workers)) as sandbox:
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, plan_tasks(cfg)))
        wall = time.perf_counter() - start
    for family, gen_s, teach_s, _ in results:
        stats = per_family[family]
        stats[0] += 1
        stats[1] += gen_s
        stats[2] += teach_s
    ok = sum(r[3] for r in results)
    print(
        f"programmatic path: {n} tasks, {workers} sandbox workers, {threads} threads: "
        f"{n / wall:.2f} tasks+trajectories/s ({ok}/{n} answered)"
    )
    print(f"  {'family':<12} {'n':>4} {'generate ms':>12} {'teach ms':>10}")
    for family, (count, gen_s, teach_s) in sorted(per_family.items()):
        print(f"  {family:<12} {count:>4} {1000 * gen_s / count:>12.0f} {1000 * teach_s / count:>10.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--skip-teacher", action="store_true", help="skip the OpenAI-compatible teacher bench"
    )
    args = parser.parse_args()
    programmatic(args.tasks, 1, 1)
    programmatic(args.tasks, args.workers, 2 * args.workers)
    teacher = Path(__file__).with_name("teacher.py")
    if not args.skip_teacher and teacher.exists():
        print()
        subprocess.run([sys.executable, str(teacher)], check=True)


if __name__ == "__main__":
    main()
