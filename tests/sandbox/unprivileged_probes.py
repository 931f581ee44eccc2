"""Run by ``test_unprivileged.py`` as uid 65534: start a full-level pool without root and run escape probes.

Prints one JSON object: the supervisor's uid, the pool's plan, and each probe's status, error type and stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from image_stack import CV2_BLOCK  # noqa: E402
from sandbox_pools import pool_config  # noqa: E402

from sandbox import Sandbox  # noqa: E402

PROBES = {
    "read_passwd": "print(open('/etc/passwd').read())",
    "write_checkout": f"open({str(HERE.parents[1] / 'escape-unprivileged')!r}, 'w').write('x')",
    "write_tmp": "open('/tmp/escape-unprivileged', 'w').write('x')",
    "socket": "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)",
    "fork": "import os\nos.fork()",
    "setuid_root": "import os\nos.setuid(0)",
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "personality": "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.personality(0xffffffff), ctypes.get_errno())",
    "uid": "import os\nprint(os.getuid(), os.geteuid())",
    "cv2_stack": CV2_BLOCK,
}


def main() -> None:
    scratch = sys.argv[1]
    png = Path(sys.argv[2]).read_bytes()
    with Sandbox(pool_config(workers=1, pin_cpus=False, scratch_dir=scratch, timeout_s=10.0)) as sb:
        out = {"uid": os.getuid(), "level": sb.isolation, "drop_uid": sb.plan.drop_uid, "probes": {}}
        for name, code in PROBES.items():
            r = sb.run(code, images=[png], image_name="in.png")
            out["probes"][name] = {
                "status": r.status.value,
                "error_type": r.error_type,
                "stdout": r.stdout[-300:],
            }
        out["alive"] = sb.run("print('still serving')").stdout
    print(json.dumps(out))


if __name__ == "__main__":
    main()
