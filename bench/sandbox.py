# ruff: noqa: E402
"""Per-block latency and throughput of the sandbox against a fresh subprocess and in-process exec.

Run: ``.venv/bin/python bench/sandbox.py [--rounds N] [--blocks N]``. All variants run interleaved in one
process, round-robin, so machine noise hits them equally. Reports median and p90 per block, the ratios
the sandbox targets are stated against, and trivial blocks per second with 1 and 2 workers.

A trivial block uses no preloaded module, so the pool forks it from its light zygote
(``sandbox/routing.py``); the ``sandbox-full`` rows run the same block with ``light_zygote: false``,
i.e. forked from the zygote that holds Pillow, numpy and cv2, which is what every image block pays.
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
        "processed_path = '/mnt/data/temp_processed_images/crop.png'\ncrop.save(processed_path)\nprint(processed_path)"
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


def in_process(code: str, image: Path, out_dir: str) -> Callable[[], None]:
    """(c) Thyme's approach as the floor: ``exec`` in this process, stdout captured, no isolation."""
    compiled = compile(code.replace(VIRTUAL_OUTPUT_DIR, out_dir), "<code>", "exec")

    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compiled, {"image_path": str(image), "__builtins__": __builtins__})

    return run


def in_sandbox(sb: Sandbox, code: str, image: Path | None) -> Callable[[], None]:
    """(a) this sandbox, full isolation, image given by path (read and copied per block, as in production)."""
    images = [image] if image else []

    def run() -> None:
        result = sb.run(code, images=images, image_name="photo.png")
        assert result.ok, result

    return run


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def latency(rounds: int, image: Path, out_dir: str) -> dict[tuple[str, str], list[float]]:
    """Interleaved per-block latencies in ms for every (variant, snippet)."""
    samples: dict[tuple[str, str], list[float]] = {}
    with (
        Sandbox(SandboxConfig(workers=1)) as sb,
        Sandbox(SandboxConfig(workers=1, light_zygote=False)) as full,
    ):
        variants = {("sandbox-full", "trivial"): in_sandbox(full, SNIPPETS["trivial"], None)}
        for name, code in SNIPPETS.items():
            img = image if name == "pil_crop" else None
            variants[("sandbox", name)] = in_sandbox(sb, code, img)
            variants[("subprocess", name)] = fresh_subprocess(code, image, out_dir)
            variants[("in-process", name)] = in_process(code, image, out_dir)
        for fn in variants.values():
            fn()  # warm-up
        for _ in range(rounds):
            for key, fn in variants.items():
                samples.setdefault(key, []).append(timed(fn))
    return samples


def throughput(workers: int, blocks: int, trials: int, light: bool = True) -> float:
    """Trivial blocks per second with ``workers`` workers, driven by 2 threads per worker; the best of
    ``trials`` runs, since other tenants of a shared machine can only slow a run down."""
    with Sandbox(SandboxConfig(workers=workers, light_zygote=light)) as sb:
        for _ in range(20):
            sb.run("print(1 + 1)")
        per_thread = blocks // (2 * workers)

        def drive() -> None:
            for _ in range(per_thread):
                assert sb.run("print(1 + 1)").ok

        rates = []
        for _ in range(trials):
            threads = [threading.Thread(target=drive) for _ in range(2 * workers)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            rates.append(per_thread * len(threads) / (time.perf_counter() - start))
        return max(rates)


def fork_floor(forks: int = 300) -> float:
    """Context for the throughput numbers: bare fork+exit+wait per second of two processes that hold
    PIL, numpy and cv2 (the zygote's size), run side by side, on this machine right now."""
    import cv2  # noqa: F401 - imported for its memory footprint

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


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def report(samples: dict[tuple[str, str], list[float]], rates: dict[tuple[int, bool], float]) -> None:
    print(f"{'variant':<12} {'snippet':<9} {'n':>4} {'median ms':>10} {'p90 ms':>9}")
    for (variant, snippet), values in sorted(samples.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"{variant:<12} {snippet:<9} {len(values):>4} {statistics.median(values):>10.2f} {p90(values):>9.2f}"
        )
    med = {key: statistics.median(v) for key, v in samples.items()}
    print()
    print(
        f"sandbox trivial median: {med['sandbox', 'trivial']:.2f} ms (target <= 5 ms); "
        f"forked from the full zygote: {med['sandbox-full', 'trivial']:.2f} ms"
    )
    for snippet in SNIPPETS:
        ratio = med["subprocess", snippet] / med["sandbox", snippet]
        target = (
            " (target >= 2.5x)" if snippet == "trivial" else " (end to end, ~100 ms of it the work itself)"
        )
        print(f"fresh subprocess / sandbox, {snippet}: {ratio:.2f}x faster{target}")
    floor = med["in-process", "pil_crop"]
    overhead = (med["subprocess", "pil_crop"] - floor) / max(med["sandbox", "pil_crop"] - floor, 1e-9)
    print(f"per-block overhead over in-process, pil_crop: subprocess {overhead:.1f}x the sandbox's")
    ratio = med["sandbox", "pil_crop"] / floor
    print(f"sandbox / in-process exec, pil_crop: {ratio:.2f}x (target <= 1.2x)")
    for (workers, light), rate in rates.items():
        target = " (target >= 400)" if workers == 2 and light else ""
        zygote = "light zygote" if light else "full zygote only"
        print(
            f"throughput, trivial, {workers} worker(s), {zygote}, best of trials: {rate:.0f} blocks/s{target}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=40, help="interleaved rounds per variant and snippet")
    parser.add_argument("--blocks", type=int, default=1200, help="trivial blocks per throughput run")
    parser.add_argument(
        "--trials", type=int, default=3, help="throughput runs per worker count (best is kept)"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
        image = Path(tmp) / "photo.png"
        make_image(image)
        out_dir = tempfile.mkdtemp(dir=tmp) + "/"
        samples = latency(args.rounds, image, out_dir)
        rates = {
            (workers, light): throughput(workers, args.blocks, args.trials, light)
            for light in (True, False)
            for workers in (1, 2)
        }
        floor = fork_floor()
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after; "
        f"python {sys.version.split()[0]}"
    )
    report(samples, rates)
    print(f"context: bare fork+exit floor of 2 cv2-sized processes side by side: {floor:.0f}/s")


if __name__ == "__main__":
    main()
