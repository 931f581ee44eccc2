"""Long-running soak test (``-m slow``): mixed good and hostile blocks from many threads, random worker
kills."""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest

from sandbox import ExecStatus, Sandbox, SandboxConfig

BLOCKS = [
    ("print(sum(range(1000)))", ExecStatus.OK),
    ("import numpy as np\nprint(int(np.arange(10).sum()))", ExecStatus.OK),
    ("raise ValueError('x')", ExecStatus.ERROR),
    ("while True:\n    pass", ExecStatus.TIMEOUT),
    ("x = bytearray(8 << 30)", ExecStatus.MEMORY),
    ("import ctypes\nctypes.string_at(0)", ExecStatus.KILLED),
    ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", ExecStatus.OUTPUT_LIMIT),
]


@pytest.mark.slow
def test_soak_mixed_blocks_with_worker_kills() -> None:
    rng = random.Random(0)
    config = SandboxConfig(workers=2, timeout_s=1.0, memory_mb=512, output_limit_bytes=64 << 10)
    mismatches: list[str] = []
    with Sandbox(config) as sb:
        stop = threading.Event()

        def killer() -> None:
            while not stop.wait(1.5):
                pids = sb.worker_pids()
                if pids:
                    os.kill(rng.choice(pids), signal.SIGKILL)

        def drive(seed: int) -> None:
            local = random.Random(seed)
            for _ in range(150):
                code, expected = local.choice(BLOCKS)
                result = sb.run(code)
                if result.status not in (expected, ExecStatus.KILLED):
                    mismatches.append(f"{code!r}: {result.status} {result.error_message}")

        watcher = threading.Thread(target=killer)
        watcher.start()
        drivers = [threading.Thread(target=drive, args=(k,)) for k in range(6)]
        start = time.monotonic()
        for t in drivers:
            t.start()
        for t in drivers:
            t.join()
        stop.set()
        watcher.join()
        assert mismatches == []
        assert sb.run("print('alive')").stdout == "alive\n"
        assert time.monotonic() - start < 600
