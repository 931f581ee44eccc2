"""End-to-end throughput, memory and disk of build_sft.

1. records/s with 1 and 2 pipeline workers (multi-process runner), same tasks, run alternately;
2. peak RSS of the whole process tree (driver, SDK workers, sandbox workers) at a small and a 10x larger
   dataset, to show memory does not grow with the dataset (the run-wide dedupe included);
3. disk after a default run, with ``run.work=keep`` and ``run.work=prune``: shards (``data/`` and
   ``dead_letter/``), ``work/``, ``report/`` and everything, as multiples of the shards (hard links once).

Usage: .venv/bin/python bench/pipeline.py [--records 300] [--small 1000] [--large 10000] [--repeats 1]
       [--disk 0] [--out DIR]
The memory runs use a compute-only mix (the cheapest family) without strict re-execution, so 10k records
finish in minutes on 2 cores; what they measure is whether the pipeline's own buffers grow with the dataset.
Runs write under a temporary folder of ``--out`` (default: the system's temporary folder).
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
OUT: list[str | None] = [None]  # --out: where the runs' temporary folders go
PEAKS: dict[str, int] = {}  # peak RSS per role of the last run_build, MiB


def _role(pid: int) -> str:
    """Which part of a run a process is, from its command line."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    if "pipelines/build_sft.py" in cmd:  # first: its overrides name the sandbox
        return "driver"
    if "sdk_worker" in cmd or "worker_pool" in cmd or "apache_beam.runners.worker" in cmd:
        return "sdk"
    if "sandbox.worker" in cmd or "bwrap" in cmd:
        return "sandbox"
    return "other"


def _tree_rss_kb(root_pid: int) -> dict[str, int]:
    """VmRSS over ``root_pid`` and all its descendants (read from /proc), per role and in ``total``."""
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
    roles: dict[str, int] = {"total": 0}
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        role = _role(pid)
        roles[role] = roles.get(role, 0) + rss.get(pid, 0)
        roles["total"] += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return roles


def run_build(overrides: list[str], measure=None) -> tuple[float, int]:
    """Run build_sft in a subprocess; returns (wall seconds, peak RSS of its process tree in MiB). The peak
    of each role (driver, SDK workers, sandbox) is kept in ``PEAKS`` (MiB), to tell which one grows.

    ``measure(out)`` is called with the output folder after a successful run, before it is removed."""
    with tempfile.TemporaryDirectory(dir=OUT[0]) as out:
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
        PEAKS.clear()

        def sample():
            while proc.poll() is None:
                roles = _tree_rss_kb(proc.pid)
                peak[0] = max(peak[0], roles.pop("total"))
                for role, kb in roles.items():
                    PEAKS[role] = max(PEAKS.get(role, 0), kb // 1024)
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, err = proc.communicate()
        sampler.join()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"build_sft failed: {err.decode()[-2000:]}")
        if measure is not None:
            measure(Path(out))
        return wall, peak[0] // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300, help="records per throughput run (0 skips it)")
    parser.add_argument("--small", type=int, default=1000, help="records of the small memory run")
    parser.add_argument(
        "--large", type=int, default=10000, help="records of the large memory run (0 skips it)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="alternating repeats of the throughput runs")
    parser.add_argument("--disk", type=int, default=0, help="records of the disk runs (0 skips them)")
    parser.add_argument("--out", default=None, help="folder for the runs' temporary outputs")
    args = parser.parse_args()
    OUT[0] = args.out

    if args.records:
        throughput(args.records, args.repeats)
    if args.large:
        memory(args.small, args.large)
    if args.disk:
        disk(args.disk)


def throughput(records: int, repeats: int) -> None:
    """records/s with 1 and 2 pipeline workers, alternating, best of ``repeats``: of the Beam run (the
    pipeline's own ``stats.json`` rate, what the workers scale) and of the whole command (with start-up and
    the launcher's single-process finishing: shard suite, card and report)."""
    import json

    common = [f"tasks.count={records}", "runner.kind=multi_process", "sandbox.workers=1"]
    rates: dict[str, dict[int, list[float]]] = {"beam run": {1: [], 2: []}, "whole command": {1: [], 2: []}}

    def pipeline_rate(out: Path, workers: int) -> None:
        stats = json.loads((out / "thyme-sft" / "stats.json").read_text())
        rates["beam run"][workers].append(stats["records_in"] / stats["elapsed_s"])

    for _ in range(repeats):
        for workers in (1, 2):
            wall, _ = run_build(
                [*common, f"runner.workers={workers}", f"tasks.base_seed={workers * 100_000}"],
                lambda out, w=workers: pipeline_rate(out, w),
            )
            rates["whole command"][workers].append(records / wall)
    print(f"throughput, default mix, {records} records (best of {repeats}):")
    for what, per in rates.items():
        best = {w: max(r) for w, r in per.items()}
        print(
            f"  {what}: 1 worker {best[1]:.2f} records/s, 2 workers {best[2]:.2f} records/s, "
            f"ratio {best[2] / best[1]:.2f}x (target >= 1.8x)"
        )


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
    small_roles = dict(PEAKS)
    large_wall, large_rss = run_build([*mem_common, f"tasks.count={large}"])
    print("peak RSS of the whole process tree, compute-only mix, 2 workers (peak of each role in brackets):")
    for count, rss, wall, roles in (
        (small, small_rss, small_wall, small_roles),
        (large, large_rss, large_wall, PEAKS),
    ):
        parts = ", ".join(f"{role} {mib}" for role, mib in sorted(roles.items()))
        print(f"  {count:>6} records: {rss} MiB ({count / wall:.1f} records/s) [{parts}]")
    print(f"  ratio: {large_rss / small_rss:.2f}x (target <= 1.1x)")


def _disk_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder``, each hard-linked file once (``du``'s rule)."""
    seen, total = set(), 0
    for path in folder.rglob("*") if folder.exists() else ():
        stat = path.lstat()
        if path.is_file() and (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_blocks * 512
    return total


def disk(records: int) -> None:
    """Disk after a default run of ``records`` tasks, keeping and pruning ``work/``."""
    print(f"disk after a default run of {records} records (multiples of the shards):")
    for work in ("keep", "prune"):
        sizes: dict[str, int] = {}

        def measure(out: Path, sizes=sizes) -> None:
            run = out / "thyme-sft"
            shards = _disk_bytes(run / "data") + _disk_bytes(run / "dead_letter")
            sizes.update(shards=shards, work=_disk_bytes(run / "work"), report=_disk_bytes(run / "report"))
            sizes["all"] = _disk_bytes(run)

        run_build([f"tasks.count={records}", f"run.work={work}"], measure)
        mib = {k: v / 2**20 for k, v in sizes.items()}
        print(
            f"  run.work={work}: shards {mib['shards']:.0f} MiB, work/ {mib['work']:.0f} MiB, "
            f"report/ {mib['report']:.0f} MiB, all {mib['all']:.0f} MiB = "
            f"{sizes['all'] / sizes['shards']:.2f}x the shards "
            f"({(sizes['all'] - sizes['report']) / sizes['shards']:.2f}x without report/)"
        )


if __name__ == "__main__":
    main()
