# ruff: noqa: E402
"""Per-block latency and throughput of the sandbox against its floors: a bare fork, in-process exec.

Run: ``.venv/bin/python bench/sandbox.py [--rounds N] [--blocks N] [--trials N]``, or with
``--warmup-ab ROUNDS`` for the Pillow crop alone under each warm-up setting (prefault, prewarm, both,
neither), interleaved, or with ``--spawn-ab TRIALS`` for trivial blocks on 2 workers with each block's process
forked and confined in C (``sandbox/_spawn.c``, the default) and in Python (``native_spawn: false``), pools
alternating: blocks per second, and CPU time and page faults per block split among the supervisor, the
zygotes and the blocks' processes.

All variants run interleaved in one process, round-robin, so machine noise hits them equally. Reports
median and p90 per block, trivial blocks per second with 1 and 2 workers, and the three targets, each with
PASS or FAIL:

* throughput: trivial blocks per second with 2 workers >= 0.9 x the fork floor, the rate at which two
  processes the size of the full zygote (Pillow, numpy, cv2 loaded) fork, exit and reap a child, side by side,
  pinned to the CPUs the pool's slots pinned to (unpinned when the pool could not pin). The floor's trials
  alternate with the pool's, and each keeps its best trial: other tenants of a shared machine can only slow a
  run down;
* latency: the trivial block's median <= 2 x the floor's per-block time: one bare fork + exit + wait of that
  process (``fork-floor`` row; the median of 5 in a row, timed by that process, in the same rounds as the
  blocks, on the CPU of the pool's slot);
* Pillow: the sandbox's median for the Pillow crop <= 1.05 x in-process exec of the same code (Thyme's way),
  run on the CPU of the pool's slot (the bench's thread pinned there for each call, as the floor is), so that
  other tenants' load on one CPU falls on the block and its baseline alike.

For comparison with earlier runs it also prints the floor as this bench measured it before: forks of the bench
process itself, two side by side, unpinned (bigger than a zygote, and slower than a pinned one).

A trivial block uses no preloaded module, so the pool forks it from its light zygote
(``sandbox/routing.py``); the ``sandbox-full`` rows run the same block with ``light_zygote: false``,
i.e. forked from the zygote that holds Pillow, numpy and cv2, which is what every image block pays (that
pool is started third, finds both CPUs claimed and runs unpinned). The ``cold-child`` row runs the Pillow
crop with ``prefault_mb: 0`` and ``prewarm: false``, i.e. without what a block's process does while it waits
(``sandbox/prewarm.py``): no heap faulted in, no image calls run ahead. The sandbox gets the image as bytes,
as the project's callers give it; the ``sandbox-path`` row gives the same pool its path instead, read per
block. The ``in-process-unpinned`` row is the Pillow target's baseline free to run on either CPU, as this
bench measured it before: under other tenants' load it can move to the quieter CPU, which a pinned slot
cannot.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the package it measures: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from sandbox import Sandbox, SandboxConfig
from sandbox.layout import VIRTUAL_OUTPUT_DIR

SNIPPETS = {
    "trivial": "print(1 + 1)",
    "pil_crop": (
        "from PIL import Image\nimg = Image.open(image_path)\ncrop = img.crop((100, 100, 900, 900))\n"
        "processed_path = '/mnt/data/temp_processed_images/crop.png'\ncrop.save(processed_path)\n"
        "print(processed_path)"
    ),
}


def make_image(path: Path) -> None:
    """A 1000x1000 RGB PNG with a gradient plus noise (about 1.7 MB), like the reference measurements."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 1000, dtype=np.float32)
    pixels = np.stack(
        [np.add.outer(ramp, ramp) / 2, np.tile(ramp, (1000, 1)), np.tile(ramp[:, None], (1, 1000))], -1
    )
    pixels += rng.normal(0, 20, pixels.shape)
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)


def fresh_subprocess(code: str, image: Path, out_dir: str) -> Callable[[], None]:
    """(b) a fresh ``python -c`` per block, with image_path defined and the output folder remapped."""
    source = f"image_path = {str(image)!r}\n" + code.replace(VIRTUAL_OUTPUT_DIR, out_dir)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")

    def run() -> None:
        subprocess.run([sys.executable, "-c", source], check=True, capture_output=True, env=env)

    return run


def in_process(code: str, image: Path, out_dir: str, cpu: int | None = None) -> Callable[[], float | None]:
    """(c) Thyme's approach as the floor: ``exec`` in this process, stdout captured, no isolation. With
    ``cpu``, on that CPU (the pool slot's, as the fork floor): the block and its floor then share whatever
    load other tenants put on it. It then times itself, pinned, and returns ms."""
    compiled = compile(code.replace(VIRTUAL_OUTPUT_DIR, out_dir), "<code>", "exec")

    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compiled, {"image_path": str(image), "__builtins__": __builtins__})

    if cpu is None:
        return run

    def run_on_cpu() -> float:
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})  # this thread only; the pool's supervisor work stays unpinned
        try:
            start = time.perf_counter()
            run()
            return (time.perf_counter() - start) * 1000
        finally:
            os.sched_setaffinity(0, allowed)

    return run_on_cpu


def in_sandbox(sb: Sandbox, code: str, image: Path | bytes | None) -> Callable[[], None]:
    """(a) this sandbox, full isolation, one session per block. The image is given as bytes, as every caller
    in the project hands it (the teacher, the importer, the validators and the trainer hold each record's
    image in memory), or as a path, which the sandbox then reads per block."""
    images = [image] if image else []

    def run() -> None:
        result = sb.run(code, images=images, image_name="photo.png")
        assert result.ok, result

    return run


TARGETS = {"throughput": 0.9, "latency": 2.0, "pillow": 1.05}


FLOOR_SCRIPT = """
import os, statistics, sys, time
import PIL.Image, numpy, cv2
cv2.setNumThreads(1)
if sys.argv[1] != "-":
    os.sched_setaffinity(0, {int(sys.argv[1])})
rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
sys.stdout.write(f"{rss}\\n"); sys.stdout.flush()
for line in sys.stdin:
    forks, times = int(line), []
    start = time.perf_counter()
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        times.append(time.perf_counter())
    steps = [b - a for a, b in zip([start, *times], times)]
    sys.stdout.write(f"{times[-1] - start} {statistics.median(steps)}\\n"); sys.stdout.flush()
"""


class Floor:
    """(d) the floor of a block: a separate process the size of the full zygote (Pillow, numpy and cv2
    imported, as the worker starts) that, when asked, forks children that exit at once and reaps each, and
    reports the seconds that took; pinned to ``cpu`` (the pool's slot's) unless None.
    """

    def __init__(self, cpu: int | None) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        argv = [sys.executable, "-c", FLOOR_SCRIPT, "-" if cpu is None else str(cpu)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        self.rss = int(self.proc.stdout.readline())

    def ask(self, forks: int) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{forks}\n")
        self.proc.stdin.flush()

    def answer(self) -> tuple[float, float]:
        """(seconds for all the forks asked for, median seconds of one)."""
        assert self.proc.stdout is not None
        total, median = self.proc.stdout.readline().split()
        return float(total), float(median)

    def fork_ms(self) -> float:
        """One bare fork + exit + wait in ms: the median of 5 in a row, as the floor process timed them (the
        median, so that a fork that meets a zygote's own next fork on that CPU does not count)."""
        self.ask(5)
        return self.answer()[1] * 1000

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def fork_floor(floors: list[Floor], forks: int = 400) -> float:
    """Bare fork+exit+wait per second of the floor processes run side by side (their rates summed)."""
    for floor in floors:
        floor.ask(forks)
    return sum(forks / floor.answer()[0] for floor in floors)


def bench_process_floor(forks: int = 300) -> float:
    """The floor as this bench measured it before: forks of this (bench) process, two side by side, unpinned.
    For comparison with earlier runs only: this process has run the in-process blocks and holds more than a
    zygote, and it is not pinned as the pool is."""

    def loop(write_fd: int) -> None:
        start = time.perf_counter()
        for _ in range(forks):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        os.write(write_fd, f"{forks / (time.perf_counter() - start)}\n".encode())

    read_fd, write_fd = os.pipe()
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            loop(write_fd)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    os.close(write_fd)
    with os.fdopen(read_fd) as handle:
        return sum(float(line) for line in handle)


def timed(fn: Callable[[], float | None]) -> float:
    """``fn``'s wall time in ms, or the time it reports itself (the floor times its own fork)."""
    start = time.perf_counter()
    reported = fn()
    return reported if reported is not None else (time.perf_counter() - start) * 1000


def latency(rounds: int, image: Path, out_dir: str) -> dict[tuple[str, str], list[float]]:
    """Interleaved per-block latencies in ms for every (variant, snippet)."""
    samples: dict[tuple[str, str], list[float]] = {}
    with (  # started in this order, the first two claim the two CPUs (the third finds none and floats)
        Sandbox(SandboxConfig(workers=1)) as sb,
        Sandbox(SandboxConfig(workers=1, prefault_mb=0, prewarm=False)) as cold,
        Sandbox(SandboxConfig(workers=1, light_zygote=False)) as full,
    ):
        slot_cpu = sb._slots[0].cpu.cpu if sb._slots[0].cpu is not None else None
        floor = Floor(slot_cpu)
        variants: dict[tuple[str, str], Callable[[], float | None]] = {
            ("sandbox-full", "trivial"): in_sandbox(full, SNIPPETS["trivial"], None),
            ("fork-floor", "trivial"): floor.fork_ms,
            ("cold-child", "pil_crop"): in_sandbox(cold, SNIPPETS["pil_crop"], image.read_bytes()),
            ("sandbox-path", "pil_crop"): in_sandbox(sb, SNIPPETS["pil_crop"], image),
            ("in-process-unpinned", "pil_crop"): in_process(SNIPPETS["pil_crop"], image, out_dir),
        }
        for name, code in SNIPPETS.items():
            img = image.read_bytes() if name == "pil_crop" else None
            variants[("sandbox", name)] = in_sandbox(sb, code, img)
            variants[("subprocess", name)] = fresh_subprocess(code, image, out_dir)
            variants[("in-process", name)] = in_process(code, image, out_dir, slot_cpu)
        for fn in variants.values():
            fn()  # warm-up
        for _ in range(rounds):
            for key, fn in variants.items():
                samples.setdefault(key, []).append(timed(fn))
        floor.close()
    return samples


def throughput(workers: int, blocks: int, trials: int, light: bool = True) -> tuple[float, dict[str, object]]:
    """Trivial blocks per second with ``workers`` workers, driven by 2 threads per worker, the best of
    ``trials`` runs; with 2 workers also the fork floors (`fork_floor`, `bench_process_floor`), their trials
    alternating with the pool's, each the best of its trials."""
    with Sandbox(SandboxConfig(workers=workers, light_zygote=light)) as sb:
        cpus = [slot.cpu.cpu if slot.cpu is not None else None for slot in sb._slots]
        for _ in range(20):
            sb.run("print(1 + 1)")
        per_thread = blocks // (2 * workers)

        def drive() -> None:
            for _ in range(per_thread):
                assert sb.run("print(1 + 1)").ok

        rates: list[float] = []
        floors: dict[str, list[float]] = {"zygote-sized": [], "bench-process": []}
        helpers = [Floor(cpu) for cpu in cpus] if workers == 2 else []
        for _ in range(trials):
            if helpers:
                floors["zygote-sized"].append(fork_floor(helpers))
                floors["bench-process"].append(bench_process_floor())
            threads = [threading.Thread(target=drive) for _ in range(2 * workers)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rates.append(per_thread * len(threads) / (time.perf_counter() - start))
        best: dict[str, object] = {name: max(values) for name, values in floors.items() if values}
        if helpers:
            best["rss"] = helpers[0].rss
            best["pinned"] = "unpinned" if None in cpus else "pinned to CPUs " + ", ".join(map(str, cpus))
        for helper in helpers:
            helper.close()
        return max(rates), best


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(
    samples: dict[tuple[str, str], list[float]],
    rates: dict[tuple[int, bool], float],
    floors: dict[str, object],
) -> dict[str, bool]:
    """Print the table, the context ratios and the three targets; returns each target's verdict."""
    print(f"{'variant':<12} {'snippet':<9} {'n':>4} {'median ms':>10} {'p90 ms':>9}")
    for (variant, snippet), values in sorted(samples.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"{variant:<12} {snippet:<9} {len(values):>4} {statistics.median(values):>10.2f} "
            f"{p90(values):>9.2f}"
        )
    med = {key: statistics.median(v) for key, v in samples.items()}
    print()
    print(f"sandbox trivial median: {med['sandbox', 'trivial']:.2f} ms; forked from the full zygote: "
          f"{med['sandbox-full', 'trivial']:.2f} ms")  # fmt: skip
    for snippet in SNIPPETS:
        ratio = med["subprocess", snippet] / med["sandbox", snippet]
        print(f"fresh subprocess / sandbox, {snippet}: {ratio:.2f}x faster")
    for (workers, light), rate in rates.items():
        zygote = "light zygote" if light else "full zygote only"
        print(f"throughput, trivial, {workers} worker(s), {zygote}, best of trials: {rate:.0f} blocks/s")
    floor, pinned, legacy = float(floors["zygote-sized"]), floors["pinned"], float(floors["bench-process"])
    bench_rss = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    size = f"{int(floors['rss']) / 2**20:.0f} MB resident: Pillow, numpy, cv2"
    print(f"fork floor, 2 zygote-sized processes ({size}) side by side ({pinned}), best of trials: ", end="")
    print(f"{floor:.0f}/s")
    print(
        f"  for comparison with earlier runs, the floor as this bench measured it before (forks of the bench "
        f"process, {bench_rss / 2**20:.0f} MB resident, unpinned): {legacy:.0f}/s, the pool "
        f"{rates[2, True] / legacy:.2f} x that"
    )
    print()
    share = rates[2, True] / floor
    latency, per_block = med["sandbox", "trivial"], med["fork-floor", "trivial"]
    pillow = med["sandbox", "pil_crop"] / med["in-process", "pil_crop"]
    verdicts = {
        "throughput": share >= TARGETS["throughput"],
        "latency": latency <= TARGETS["latency"] * per_block,
        "pillow": pillow <= TARGETS["pillow"],
    }
    print(
        f"TARGET throughput: {rates[2, True]:.0f} blocks/s = {share:.2f} x the fork floor's {floor:.0f}/s "
        f"(target >= {TARGETS['throughput']}): {verdict(verdicts['throughput'])}"
    )
    bound = TARGETS["latency"] * per_block
    print(
        f"TARGET latency: trivial median {latency:.2f} ms = {latency / per_block:.2f} x the floor's "
        f"per-block {per_block:.2f} ms (target <= {TARGETS['latency']:g} x, {bound:.2f} ms): "
        f"{verdict(verdicts['latency'])}"
    )
    in_process = med["in-process", "pil_crop"]
    cold = med["cold-child", "pil_crop"]
    print(f"pil_crop, cold child (prefault_mb: 0, prewarm: false): {cold:.1f} ms = {cold / in_process:.3f} x")
    by_path = med["sandbox-path", "pil_crop"]
    print(f"pil_crop, image given by path (read per block): {by_path:.1f} ms = {by_path / in_process:.3f} x")
    free = med["in-process-unpinned", "pil_crop"]
    print(
        f"pil_crop, against in-process exec free to run on either CPU ({free:.1f} ms): "
        f"{med['sandbox', 'pil_crop'] / free:.3f} x"
    )
    print(
        f"TARGET pillow: {med['sandbox', 'pil_crop']:.1f} ms = {pillow:.3f} x in-process {in_process:.1f} ms "
        f"on the slot's CPU "
        f"(target <= {TARGETS['pillow']}): {verdict(verdicts['pillow'])}"
    )
    return verdicts


WARMUP_SETTINGS = {
    "prefault+prewarm": {},
    "prefault only": {"prewarm": False},
    "prewarm only": {"prefault_mb": 0},
    "neither": {"prefault_mb": 0, "prewarm": False},
}


def warmup_ab(rounds: int, image: Path, out_dir: str) -> None:
    """The Pillow crop with each warm-up setting of ``sandbox/prewarm.py``, one pool each, all unpinned (so no
    pool owns the quieter CPU), interleaved block by block with in-process exec; prints each median as a ratio
    to in-process."""
    data = image.read_bytes()
    code = SNIPPETS["pil_crop"]
    pools = {
        name: Sandbox(SandboxConfig(workers=1, pin_cpus=False, **settings))
        for name, settings in WARMUP_SETTINGS.items()
    }
    try:
        variants: dict[str, Callable[[], float | None]] = {
            name: in_sandbox(sb, code, data) for name, sb in pools.items()
        }
        variants["in-process"] = in_process(code, image, out_dir)
        for fn in variants.values():
            for _ in range(4):  # warm-up; the prefault learns from the first blocks
                fn()
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, fn in variants.items():
                samples[name].append(timed(fn))
    finally:
        for sb in pools.values():
            sb.close()
    base = statistics.median(samples["in-process"])
    print(f"Pillow crop, warm-up settings interleaved over {rounds} rounds (unpinned pools):")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<17} median {median:7.1f} ms = {median / base:.3f} x in-process")


def _family(root: int) -> dict[int, list[int]]:
    """Every process's children, from ``/proc`` (to find ``root``'s zygotes)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(int(entry))
    return children


def _zygotes() -> list[int]:
    """This process's zygotes: its descendants that run ``sandbox.worker`` under a parent that does not."""
    children, found, todo = _family(os.getpid()), [], [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid in children.get(parent, []):
            todo.append(pid)
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                parent_argv = Path(f"/proc/{parent}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"sandbox.worker" in argv and not argv[0].endswith(b"bwrap"):
                if b"sandbox.worker" not in parent_argv or parent_argv[0].endswith(b"bwrap"):
                    found.append(pid)
    return found


def _usage(pid: int) -> tuple[float, float, int, int]:
    """``pid``'s CPU seconds, its reaped children's, and the two page-fault counts (``/proc/<pid>/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    tick = os.sysconf("SC_CLK_TCK")
    own, reaped = (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick
    return own, reaped, int(fields[7]), int(fields[8])


def spawn_ab(trials: int, blocks: int) -> None:
    """Trivial blocks on 2 workers, forked and confined in C and in Python, a fresh pool per trial, the two
    alternating; prints the best rate of each and the CPU and page faults per block of their best trial."""
    results: dict[bool, list[tuple[float, list[float]]]] = {True: [], False: []}
    for _ in range(trials):
        for native in (True, False):
            with Sandbox(SandboxConfig(workers=2, native_spawn=native)) as sb:
                for _ in range(20):
                    sb.run("print(1 + 1)")
                zygotes = _zygotes()
                before, times = [_usage(pid) for pid in zygotes], os.times()
                per_thread = blocks // 4

                def drive(sb: Sandbox = sb, n: int = per_thread) -> None:
                    for _ in range(n):
                        assert sb.run("print(1 + 1)").ok

                threads = [threading.Thread(target=drive) for _ in range(4)]
                start = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                elapsed, after, done = (
                    time.perf_counter() - start,
                    [_usage(pid) for pid in zygotes],
                    os.times(),
                )
                n = per_thread * 4
                spent = [sum(a[i] - b[i] for a, b in zip(after, before, strict=True)) / n for i in range(4)]
                supervisor = (done.user - times.user + done.system - times.system) / n
                results[native].append((n / elapsed, [supervisor, *spent]))
    print(
        f"trivial blocks, 2 workers, forked and confined in C vs in Python, {trials} alternating trials each:"
    )
    print(f"{'spawn':<8} {'blocks/s':>9} {'CPU ms per block: supervisor':>29} {'zygote':>7} {'blocks':>7} "
          f"{'total':>7} {'faults: zygote':>15} {'block':>6}")  # fmt: skip
    for native, runs in results.items():
        rate, (sup, zygote, child, zygote_faults, child_faults) = max(runs, key=lambda run: run[0])
        print(
            f"{'C' if native else 'Python':<8} {rate:>9.0f} {sup * 1e3:>29.3f} {zygote * 1e3:>7.3f} "
            f"{child * 1e3:>7.3f} {(sup + zygote + child) * 1e3:>7.3f} {zygote_faults:>15.0f} "
            f"{child_faults:>6.0f}"
        )
    best = {native: max(rate for rate, _ in runs) for native, runs in results.items()}
    print(f"C / Python, best trial each: {best[True] / best[False]:.2f} x the blocks per second")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds per variant and snippet")
    parser.add_argument("--blocks", type=int, default=1200, help="trivial blocks per throughput run")
    parser.add_argument(
        "--trials", type=int, default=3, help="throughput runs per worker count (best is kept)"
    )
    parser.add_argument(
        "--warmup-ab",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="instead: only the Pillow crop under each warm-up setting of sandbox/prewarm.py, ROUNDS rounds",
    )
    parser.add_argument(
        "--spawn-ab",
        type=int,
        default=0,
        metavar="TRIALS",
        help="instead: trivial blocks forked and confined in C and in Python (native_spawn), alternating",
    )
    args = parser.parse_args()
    if args.spawn_ab:
        spawn_ab(args.spawn_ab, args.blocks)
        return
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        image = Path(tmp) / "photo.png"
        make_image(image)
        out_dir = tempfile.mkdtemp(dir=tmp) + "/"
        if args.warmup_ab:
            warmup_ab(args.warmup_ab, image, out_dir)
            return
        samples = latency(args.rounds, image, out_dir)
        rates: dict[tuple[int, bool], float] = {}
        floors: dict[str, object] = {}
        for light in (True, False):
            for workers in (1, 2):
                rates[workers, light], measured = throughput(workers, args.blocks, args.trials, light)
                if workers == 2 and light:
                    floors = measured
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before:.2f} before / "
        f"{os.getloadavg()[0]:.2f} after; "
        f"python {sys.version.split()[0]}"
    )
    report(samples, rates, floors)


if __name__ == "__main__":
    main()
