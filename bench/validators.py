"""Throughput of the record checks: records/s through every check, with and without strict re-execution.

Builds N good trajectories with the programmatic teacher (real tasks, real sandbox), then judges all of them
twice with :func:`validators.judge_record`: once with ``execution.reexecute`` on (every code block re-run in a
strict sandbox session) and once off (the execution check compares the stored executions only). Prints both
rates side by side and the mean time of each check.

    .venv/bin/python bench/validators.py --records 120 --workers 4
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # this file is named validators.py: import the package

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402

from sandbox import Sandbox, SandboxConfig  # noqa: E402
from synthesis.records import Provenance  # noqa: E402
from synthesis.rollout_record import record_from_rollout  # noqa: E402
from synthesis.tasks import TasksConfig, generate_task, plan_tasks  # noqa: E402
from synthesis.teacher import teach  # noqa: E402
from validators import ValidatorsConfig, judge_record  # noqa: E402
from validators.record import CHECK_ORDER, _plan  # noqa: E402


def build(sb: Sandbox, count: int, threads: int) -> list:
    def one(item):
        task = generate_task(*item)
        return record_from_rollout(
            task,
            teach(task, sb),
            Provenance(
                source="generated", generator="programmatic", generator_version="bench", seed=task.seed
            ),
        )

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, plan_tasks(TasksConfig(count=count, base_seed=5000))))


def run(records: list, sb: Sandbox, reexecute: bool, threads: int) -> tuple[float, int]:
    cfg = ValidatorsConfig()
    cfg.execution.reexecute = reexecute
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda r: judge_record(r, cfg, sandbox=sb), records))
    elapsed = time.perf_counter() - started
    return len(records) / elapsed, sum(all(v.passed for v in verdicts) for verdicts in results)


def per_check(records: list, sb: Sandbox) -> dict[str, float]:
    """Mean milliseconds of each check (single thread, re-execution on)."""
    totals: dict[str, float] = defaultdict(float)
    cfg = ValidatorsConfig()
    for record in records:
        for name, (enabled, check) in zip(CHECK_ORDER, _plan(record, cfg, sb, None, None), strict=True):
            if enabled:
                started = time.perf_counter()
                check()
                totals[name] += time.perf_counter() - started
    return {name: 1000 * total / len(records) for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=60, help="trajectories to build and judge")
    parser.add_argument("--workers", type=int, default=4, help="sandbox workers and judging threads")
    args = parser.parse_args()
    with Sandbox(SandboxConfig(workers=args.workers)) as sb:
        started = time.perf_counter()
        records = build(sb, args.records, args.workers)
        built = time.perf_counter() - started
        run(records[:4], sb, True, 1)  # warm-up: imports, math-verify, cv2
        print(
            f"# {len(records)} programmatic trajectories (built in {built:.1f} s), "
            f"{args.workers} sandbox workers, "
            f"isolation {sb.isolation}, {platform.python_implementation()} {platform.python_version()}, "
            f"{len(__import__('os').sched_getaffinity(0))} CPUs"
        )
        print(f"{'threads':>8} | {'with strict re-execution':>26} | {'without (stored executions)':>28}")
        for threads in sorted({1, args.workers}):
            with_rate, with_ok = run(records, sb, True, threads)
            without_rate, without_ok = run(records, sb, False, threads)
            print(
                f"{threads:>8} | {with_rate:>15.1f} records/s | {without_rate:>17.1f} records/s"
                f"   (accepted {with_ok}/{len(records)} and {without_ok}/{len(records)})"
            )
        print(
            "mean ms per record and check (1 thread, re-execution on): "
            + ", ".join(f"{k} {v:.1f}" for k, v in per_check(records, sb).items())
        )


if __name__ == "__main__":
    main()
