"""Escape probes: model code that really tries to get out, run at the default (full) isolation level.

Each probe asserts the specific containment on the host side (the file was not created, the listener
got no connection, no orphan survives, the worker is alive), not just that the code raised. The whole
module runs twice: with the default routing (probes that use no preloaded module fork from the light
zygote, the rest from the full one) and with every block on the full zygote. The kernel-state probes run at
both isolation levels.

``test_unprivileged.py`` runs this whole module again as uid 65534, once per isolation level, with the default
routing (``sandbox_pools.levels``): every probe, at full and at reduced, with an unprivileged supervisor.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sandbox_pools import LEVELS as LEVEL_SETTINGS
from sandbox_pools import UNPRIVILEGED_LEVEL, levels, pool_config

from sandbox import ExecResult, ExecStatus, Sandbox
from sandbox.routing import needs_preload

PROJECT_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"
TOKEN = uuid.uuid4().hex[:12]


@dataclass
class Host:
    """Host-side resources the probes aim at."""

    sb: Sandbox
    tcp_listener: socket.socket
    abstract_listener: socket.socket
    abstract_name: str
    canary: str

    def no_connection(self, listener: socket.socket) -> bool:
        listener.settimeout(0.2)
        try:
            conn, _ = listener.accept()
        except (TimeoutError, BlockingIOError, OSError):
            return True
        conn.close()
        return False


# The probes' pools: the full level, routed, with every block on the full zygote, and with each block's
# process forked and confined in Python instead of sandbox/_spawn.c; in the unprivileged inner run, its level,
# routed.
POOLS = (
    {f"{UNPRIVILEGED_LEVEL}-routed": LEVEL_SETTINGS[UNPRIVILEGED_LEVEL]}
    if UNPRIVILEGED_LEVEL
    else {"routed": {}, "full-zygote-only": {"light_zygote": False}, "python-spawn": {"native_spawn": False}}
)


# A memory bomb faults in the whole budget before its limit stops it; a CI run under memory pressure once took
# 2 s of CPU for 512 MB (0.3 s here), so the probes get a smaller budget and a longer timeout.
PROBE_LIMITS = dict(memory_mb=256, timeout_s=3.0)


@pytest.fixture(scope="module", params=list(POOLS), ids=list(POOLS))
def sb(request):
    with Sandbox(pool_config(**PROBE_LIMITS, **POOLS[request.param])) as pool:
        if UNPRIVILEGED_LEVEL:  # test_unprivileged.py's inner run: an unprivileged supervisor, at that level
            assert os.geteuid() != 0 and pool.plan.drop_uid is None, (os.geteuid(), pool.plan)
            assert pool.isolation == UNPRIVILEGED_LEVEL, pool.plan
        yield pool


@pytest.fixture(scope="module")
def host(sb, host_canary):
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    name = f"thyme-probe-{TOKEN}"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0" + name)
    unix.listen(8)
    yield Host(sb, tcp, unix, name, host_canary)
    tcp.close()
    unix.close()


def _processes_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _denied(result: ExecResult, *needles: str) -> None:
    assert result.status is ExecStatus.ERROR, result
    assert any(n in result.error_type + result.error_message for n in needles), result


Check = Callable[[ExecResult, Host], None]


def probe(pid: str, code: str, check: Check) -> pytest.param:  # type: ignore[valid-type]
    return pytest.param(code, check, id=pid)


def _absent(r: ExecResult, *needles: str) -> None:
    assert r.status in (ExecStatus.OK, ExecStatus.ERROR), r
    assert not any(n in r.stdout for n in needles), r.stdout


def _fs_denied(r: ExecResult, h: Host) -> None:
    _denied(r, "FileNotFoundError", "PermissionError", "OSError")
    assert "root:" not in r.stdout


def _created_nothing(path: str) -> Check:
    def check(r: ExecResult, h: Host) -> None:
        assert not os.path.exists(path), f"{path} was created on the host"
        _denied(r, "Error")

    return check


def _net_denied(r: ExecResult, h: Host) -> None:
    _denied(r, "PermissionError", "Operation not permitted", "OSError")
    assert h.no_connection(h.tcp_listener)


def _printed(expected: str) -> Check:
    def check(r: ExecResult, h: Host) -> None:
        assert r.status is ExecStatus.OK, r
        assert r.stdout.strip() == expected, r

    return check


def _status(status: ExecStatus) -> Check:
    def check(r: ExecResult, h: Host) -> None:
        assert r.status is status, r
        assert r.feedback.startswith("Sandbox for "), r

    return check


def _workers_alive(r: ExecResult, h: Host) -> None:
    assert h.sb.run("print('still serving')").stdout.strip() == "still serving"


_CTYPES = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"

PROBES = [
    # --- confidentiality ---
    probe("read_passwd", "print(open('/etc/passwd').read())", _fs_denied),
    probe("read_shadow", "print(open('/etc/shadow').read())", _fs_denied),
    probe("read_root_bashrc", "print(open('/root/.bashrc').read())", _fs_denied),
    probe(
        "list_root_home",
        "import os\nprint(sorted(os.listdir('/root')))",
        lambda r, h: _absent(r, ".bashrc", ".ssh"),
    ),
    probe("read_project_file", f"print(open({str(PROJECT_FILE)!r}).read())", _fs_denied),
    probe(
        "list_project_dir",
        f"import os\nprint(sorted(os.listdir({str(PROJECT_FILE.parent)!r})))",
        lambda r, h: _absent(r, "pyproject.toml", ".git"),
    ),  # fmt: skip
    probe(
        "read_parent_proc_mem",
        "import os\nprint(open(f'/proc/{os.getppid()}/mem', 'rb').read(16))",
        _fs_denied,
    ),
    probe("read_pid1_environ", "print(open('/proc/1/environ', 'rb').read())", _fs_denied),
    probe(
        "read_host_env",
        "import os\nprint(sorted(os.environ.items()))",
        lambda r, h: (r.status is ExecStatus.OK and h.canary not in r.stdout) or pytest.fail(r.stdout),
    ),  # fmt: skip
    probe("read_block_device", "print(open('/dev/vda', 'rb').read(512))", _fs_denied),
    probe("open_dev_kvm", "print(open('/dev/kvm', 'rb'))", _fs_denied),
    # --- integrity ---
    probe(
        "write_host_tmp",
        f"open('/tmp/escape-{TOKEN}', 'w').write('x')",
        _created_nothing(f"/tmp/escape-{TOKEN}"),
    ),
    probe(
        "write_usr", f"open('/usr/escape-{TOKEN}', 'w').write('x')", _created_nothing(f"/usr/escape-{TOKEN}")
    ),
    probe(
        "write_scratch_root",
        f"open('/scratch/escape-{TOKEN}', 'w').write('x')",
        lambda r, h: _denied(r, "Error"),
    ),
    probe("write_input_image", "open(image_path, 'ab').write(b'x')", lambda r, h: _denied(r, "Error")),
    probe(
        "write_project",
        f"open({str(PROJECT_FILE.parent / ('escape-' + TOKEN))!r}, 'w')",
        _created_nothing(str(PROJECT_FILE.parent / f"escape-{TOKEN}")),
    ),  # fmt: skip
    probe("sysrq_trigger", "open('/proc/sysrq-trigger', 'w').write('h')", lambda r, h: _denied(r, "Error")),
    # --- network ---
    probe("tcp_out", "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)", _net_denied),
    probe(
        "udp_out",
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('1.1.1.1', 53))",
        _net_denied,
    ),  # fmt: skip
    probe(
        "host_loopback_listener",
        "import socket\nsocket.create_connection(('127.0.0.1', PORT), timeout=1)",
        _net_denied,
    ),
    probe(
        "abstract_unix_socket",
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('\\0' + NAME)",
        lambda r, h: (_denied(r, "Error"), h.no_connection(h.abstract_listener) or pytest.fail("connected")),
    ),  # fmt: skip
    probe("raw_socket_ctypes", _CTYPES + "print(libc.socket(2, 3, 1), ctypes.get_errno())", _printed("-1 1")),
    probe(
        "socket_syscall_ctypes",
        _CTYPES + "print(libc.syscall(41, 2, 1, 0), ctypes.get_errno())",
        _printed("-1 1"),
    ),
    # --- processes ---
    probe("subprocess_run", "import subprocess\nsubprocess.run(['id'])", lambda r, h: _denied(r, "Error")),
    probe("os_system", "import os\nprint(os.system('echo pwned') != 0)", _printed("True")),
    probe(
        "os_execv", "import os\nos.execv('/usr/bin/id', ['id'])", lambda r, h: _denied(r, "PermissionError")
    ),
    probe("os_fork", "import os\nos.fork()", lambda r, h: _denied(r, "PermissionError")),
    probe(
        "fork_bomb",
        "import os\nn = 0\nfor _ in range(200):\n    try:\n        os.fork(); n += 1\n"
        "    except OSError:\n        pass\nprint(n)",
        _printed("0"),
    ),  # fmt: skip
    probe(
        "orphan_outlives_timeout",
        _CTYPES + "libc.prctl(15, b'thymeorphan', 0, 0, 0)\ntry:\n    os.fork()\nexcept OSError:\n    pass\n"
        "while True:\n    pass",
        lambda r, h: (
            _status(ExecStatus.TIMEOUT)(r, h),
            _processes_named("thymeorphan") == [] or pytest.fail("orphan"),
        ),
    ),  # fmt: skip
    probe(
        "ptrace_parent",
        _CTYPES + "print(libc.ptrace(16, os.getppid(), 0, 0), ctypes.get_errno())",
        _printed("-1 1"),
    ),
    probe(
        "unshare_userns", _CTYPES + "print(libc.unshare(0x10000000), ctypes.get_errno())", _printed("-1 1")
    ),
    probe(
        "mount_tmpfs",
        _CTYPES + "print(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())",
        _printed("-1 1"),
    ),  # fmt: skip
    probe("setuid_root", "import os\nos.setuid(0)", lambda r, h: _denied(r, "PermissionError")),
    probe(
        "kill_parent",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        lambda r, h: (_denied(r, "PermissionError"), _workers_alive(r, h)),
    ),  # fmt: skip
    probe(
        "kill_minus_one",
        "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('survived')",
        lambda r, h: _workers_alive(r, h),
    ),  # fmt: skip
    probe(
        "kill_supervisor_pid",
        "import os, signal\nos.kill(SUPERVISOR, signal.SIGKILL)",
        lambda r, h: (_denied(r, "ProcessLookupError", "PermissionError"), _workers_alive(r, h)),
    ),  # fmt: skip
    probe(
        "io_uring_setup", _CTYPES + "print(libc.syscall(425, 8, None), ctypes.get_errno())", _printed("-1 1")
    ),
    probe(
        "bpf_syscall", _CTYPES + "print(libc.syscall(321, 0, None, 0), ctypes.get_errno())", _printed("-1 1")
    ),
    # --- resources ---
    probe("infinite_loop", "while True:\n    pass", _status(ExecStatus.TIMEOUT)),
    probe(
        "sigterm_ignored_loop",
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass",
        _status(ExecStatus.TIMEOUT),
    ),  # fmt: skip
    probe(
        "catch_all_sleep_loop",
        "import time\nwhile True:\n    try:\n        time.sleep(5)\n    except BaseException:\n        pass",
        _status(ExecStatus.TIMEOUT),
    ),  # fmt: skip
    probe("memory_bomb_bytearray", "x = bytearray(8 << 30)", _status(ExecStatus.MEMORY)),
    probe(
        "memory_bomb_numpy_touch",
        "import numpy as np\na = np.empty(1 << 30, dtype=np.uint8)\na[::4096] = 1",
        _status(ExecStatus.MEMORY),
    ),  # fmt: skip
    probe(
        "memory_bomb_list_growth",
        "x = []\nwhile True:\n    x.append(bytearray(16 << 20))",
        _status(ExecStatus.MEMORY),
    ),
    probe(
        "memory_bomb_cv2",
        "import numpy as np, cv2\nb = cv2.resize(np.zeros((9, 9, 3), np.uint8), (30000, 30000))",
        _status(ExecStatus.MEMORY),
    ),  # fmt: skip
    probe(
        "huge_file",
        "f = open('big.bin', 'wb')\nfor _ in range(64):\n    f.write(b'x' * (1 << 20))\nf.flush()",
        lambda r, h: _denied(r, "File too large", "OSError"),
    ),  # fmt: skip
    probe(
        "fd_exhaustion",
        "fs = [open('/dev/null') for _ in range(5000)]",
        lambda r, h: _denied(r, "Too many open files"),
    ),
    probe(
        "thread_exhaustion",
        "import threading, time\nts = []\nfor _ in range(2000):\n"
        "    t = threading.Thread(target=time.sleep, args=(5,)); t.start(); ts.append(t)",
        lambda r, h: (
            (r.status in (ExecStatus.ERROR, ExecStatus.MEMORY, ExecStatus.TIMEOUT)) or pytest.fail(str(r))
        ),
    ),  # fmt: skip
    probe(
        "raise_own_rlimit",
        "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))",
        lambda r, h: _denied(r, "ValueError", "PermissionError", "not allowed"),
    ),  # fmt: skip
    probe(
        "stdout_flood",
        "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)",
        lambda r, h: (
            _status(ExecStatus.OUTPUT_LIMIT)(r, h),
            len(r.stdout) <= 64 << 10 or pytest.fail("cap"),
        ),
    ),  # fmt: skip
    probe(
        "stderr_flood",
        "import sys\nwhile True:\n    sys.stderr.write('x' * 65536)",
        _status(ExecStatus.OUTPUT_LIMIT),
    ),
    probe("segfault", "import ctypes\nctypes.string_at(0)", _status(ExecStatus.KILLED)),
    probe(
        "os_exit",
        "import os\nos._exit(7)",
        lambda r, h: (
            _status(ExecStatus.ERROR)(r, h),
            "code 7" in r.error_message or pytest.fail(r.error_message),
        ),
    ),  # fmt: skip
    # --- language-level tricks (irrelevant to an OS boundary, but they must stay contained) ---
    probe(
        "subclasses_to_os_system",
        "w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
        "print(w.__init__.__globals__['system']('echo pwned') != 0)",
        _printed("True"),
    ),  # fmt: skip
    probe(
        "builtins_import_subprocess",
        "__builtins__.__import__('subprocess').check_output(['id'])",
        lambda r, h: _denied(r, "Error"),
    ),  # fmt: skip
    probe(
        "getattr_concat_popen",
        "import os\ngetattr(os, 'po' + 'pen')('id').read()",
        lambda r, h: (r.status is not ExecStatus.OK or "uid=" not in r.stdout) or pytest.fail(r.stdout),
    ),  # fmt: skip
    # --- result channel ---
    probe(
        "processed_path_host_file",
        "processed_path = '/etc/passwd'\nprint(processed_path)",
        lambda r, h: (r.images == [] and r.status is ExecStatus.ERROR) or pytest.fail(str(r)),
    ),  # fmt: skip
    probe(
        "symlink_out_to_host_file",
        "import os\nos.symlink('/etc/passwd', '/mnt/data/temp_processed_images/leak.png')\n"
        "print('/mnt/data/temp_processed_images/leak.png')",
        lambda r, h: r.images == [] or pytest.fail("followed a planted symlink"),
    ),  # fmt: skip
    probe(
        "forged_report_on_fd3",
        'import os\nos.write(3, b\'{"kind": "ok", "processed_path": 5}\')\nos._exit(0)',
        lambda r, h: (r.images == [] or pytest.fail("forged")) and _workers_alive(r, h),
    ),  # fmt: skip
]


@pytest.mark.parametrize(("code", "check"), PROBES)
def test_probe_is_contained(host: Host, code: str, check: Check) -> None:
    code = code.replace("PORT", str(host.tcp_listener.getsockname()[1])).replace(
        "NAME", repr(host.abstract_name)
    )
    code = code.replace("SUPERVISOR", str(os.getpid()))
    before = set(host.sb.worker_pids())
    result = host.sb.run(code, images=[b"\x89PNG fake"], image_name="in.png")
    check(result, host)
    assert os.getpid() and set(host.sb.worker_pids()) <= before | set(host.sb.worker_pids())
    assert not list(Path("/tmp").glob(f"escape-{TOKEN}*"))


def test_probe_count() -> None:
    assert len(PROBES) >= 40


def test_probes_reach_both_zygotes() -> None:
    light = sum(not needs_preload([param.values[0]]) for param in PROBES)
    assert light >= 15 and len(PROBES) - light >= 15, light


def test_state_planted_for_next_trajectory_is_gone(sb: Sandbox) -> None:
    plant = (
        "import json, os, sys, builtins\njson.planted = 1\nbuiltins.planted = 1\nsys.modules['evil'] = json\n"
        "open('plant.txt', 'w').write('x')\n"
        "open('/mnt/data/temp_processed_images/plant.png', 'w').write('x')\n"
        "print(os.listdir('.'))"
    )
    assert sb.run(plant).status is ExecStatus.OK
    for _ in range(4):  # whichever worker runs it
        check = (
            "import json, os, sys, builtins\n"
            "print(hasattr(json, 'planted'), hasattr(builtins, 'planted'), 'evil' in sys.modules,"
            " os.listdir('.'), os.listdir('/mnt/data/temp_processed_images'))"
        )
        assert sb.run(check).stdout.strip() == "False False False [] []"


def test_no_orphans_and_no_scratch_left_after_close(png: bytes) -> None:
    from sandbox import SandboxConfig

    pool = Sandbox(SandboxConfig(workers=1, timeout_s=1.0, **LEVEL_SETTINGS[UNPRIVILEGED_LEVEL or "full"]))
    root = pool._root
    pids = pool.worker_pids()
    assert pool.run("while True: pass").status is ExecStatus.TIMEOUT
    pool.close()
    assert not root.exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


# --- kernel state, image headers and scratch volume, at both isolation levels -------------------------------

LEVELS = levels(
    {
        "full-routed": LEVEL_SETTINGS["full"],
        "full-zygote-only": {**LEVEL_SETTINGS["full"], "light_zygote": False},
        "reduced-routed": LEVEL_SETTINGS["reduced"],
        "reduced-zygote-only": {**LEVEL_SETTINGS["reduced"], "light_zygote": False},
    }
)
ROUTED = [name for name in LEVELS if name.endswith("-routed")]
IPC_KEY = 0x7E50 + os.getpid() % 0x100  # a SysV key no one else uses


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb when large)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def _write_png(name: str, width: int, height: int) -> str:
    path = f"/mnt/data/temp_processed_images/{name}"
    return f"open({path!r}, 'wb').write({_png_header(width, height)!r})\nprint({path!r})"


def _host_sysv_keys() -> set[int]:
    keys = set()
    for table in ("shm", "sem", "msg"):
        for line in Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]:
            keys.add(int(line.split()[0]))
    return keys


@pytest.fixture(scope="module", params=list(LEVELS), ids=list(LEVELS))
def level_sb(request):
    # None of these probes loops: a long limit only keeps the file-heavy ones (1,100 files, 1,500 folders)
    # from timing out on a loaded machine before the scratch limits they probe are checked.
    config = pool_config(workers=1, max_scratch_mb=32, timeout_s=10.0, **LEVELS[request.param])
    with Sandbox(config) as pool:
        yield pool


def _rejected_image(name: str, size: str) -> Check:
    def check(r: ExecResult, h: Host) -> None:
        assert r.status is ExecStatus.OUTPUT_LIMIT and r.images == [], r
        assert name in r.error_message and size in r.error_message, r.error_message
        assert r.feedback.startswith("Sandbox for "), r

    return check


def _no_host_ipc(r: ExecResult, h: Host) -> None:
    _printed("-1 1")(r, h)
    assert IPC_KEY not in _host_sysv_keys()


def _scratch_limit(knob: str) -> Check:
    def check(r: ExecResult, h: Host) -> None:
        assert r.status is ExecStatus.OUTPUT_LIMIT and knob in r.error_message, r
        after = h.sb.run("import os\nprint(os.listdir('.'), os.listdir('/mnt/data/temp_processed_images/'))")
        assert after.stdout.strip() == "[] []", after

    return check


def _priority_kept(r: ExecResult, h: Host) -> None:
    _denied(r, "PermissionError")
    after = h.sb.run(
        "import os\nprint(os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0) == "
        "os.sched_getaffinity(os.getppid()))"
    )
    assert after.stdout.strip() == "0 True", after


STATE_PROBES = [
    probe(
        "output_image_bomb_header",
        _write_png("bomb.png", 50000, 50000),
        _rejected_image("bomb.png", "50000x50000"),
    ),
    probe(
        "output_image_aspect_ratio",
        _write_png("strip.png", 20000, 10),
        _rejected_image("strip.png", "20000x10"),
    ),
    probe(
        "sysv_shmget",
        _CTYPES + f"print(libc.shmget({IPC_KEY}, 1 << 20, 0o1666), ctypes.get_errno())",
        _no_host_ipc,
    ),
    probe(
        "sysv_semget", _CTYPES + f"print(libc.semget({IPC_KEY}, 1, 0o1666), ctypes.get_errno())", _no_host_ipc
    ),
    probe(
        "sysv_msgget", _CTYPES + f"print(libc.msgget({IPC_KEY}, 0o1666), ctypes.get_errno())", _no_host_ipc
    ),
    probe(
        "sysv_shmat_existing", _CTYPES + "print(libc.shmat(0, None, 0), ctypes.get_errno())", _printed("-1 1")
    ),
    probe(
        "posix_mq_open",
        _CTYPES + f"print(libc.mq_open(b'/thyme-{TOKEN}', 0o102, 0o666, None), ctypes.get_errno())",
        lambda r, h: (
            _printed("-1 1")(r, h),
            not os.path.exists(f"/dev/mqueue/thyme-{TOKEN}") or pytest.fail("mq"),
        ),
    ),  # fmt: skip
    probe(
        "posix_shm_open",
        _CTYPES + f"print(libc.shm_open(b'/thyme-{TOKEN}', 0o102, 0o666) >= 0)",
        lambda r, h: (
            _printed("False")(r, h),
            not os.path.exists(f"/dev/shm/thyme-{TOKEN}") or pytest.fail("shm"),
        ),
    ),  # fmt: skip
    probe(
        "inotify_init1_host_folder",
        _CTYPES + "print(libc.inotify_init1(0), ctypes.get_errno())",
        _printed("-1 1"),
    ),
    probe("inotify_init", _CTYPES + "print(libc.inotify_init(), ctypes.get_errno())", _printed("-1 1")),
    probe("fanotify_init", _CTYPES + "print(libc.fanotify_init(0, 0), ctypes.get_errno())", _printed("-1 1")),
    probe("renice_zygote", "import os\nos.setpriority(os.PRIO_PROCESS, os.getppid(), 19)", _priority_kept),
    probe("renice_own_uid", "import os\nos.setpriority(os.PRIO_USER, 0, 19)", _priority_kept),
    probe("pin_zygote", "import os\nos.sched_setaffinity(os.getppid(), {0})", _priority_kept),
    probe(
        "lower_zygote_rlimit",
        "import os, resource\nresource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (8, 8))",
        _priority_kept,
    ),  # fmt: skip
    probe(
        "many_files",
        "for i in range(1100):\n    open(f'f{i}', 'w').close()",
        _scratch_limit("sandbox.max_files"),
    ),
    probe(
        "many_output_files",
        "for i in range(1100):\n    open(f'/mnt/data/temp_processed_images/{i}.png', 'w')",
        _scratch_limit("sandbox.max_files"),
    ),  # fmt: skip
    probe(
        "deep_folders",
        "import os\nfor i in range(1500):\n    os.mkdir('d'); os.chdir('d')\nos.chmod('.', 0)",
        _scratch_limit("sandbox.max_files"),
    ),  # fmt: skip
    probe(
        "folders_past_path_max",
        "import os\nfor i in range(40):\n    os.mkdir('d' * 250); os.chdir('d' * 250)\n"
        "open('x', 'w').write('x')",
        _scratch_limit("cannot inspect"),
    ),  # fmt: skip
    probe(
        "scratch_volume",
        "for i in range(3):\n    open(f'b{i}', 'wb').write(b'x' * (15 << 20))",
        _scratch_limit("sandbox.max_scratch_mb"),
    ),  # fmt: skip
]


@pytest.mark.parametrize(("code", "check"), STATE_PROBES)
def test_state_probe_is_contained(level_sb: Sandbox, code: str, check: Check) -> None:
    respawns = level_sb.respawns
    result = level_sb.run(code, images=[b"\x89PNG fake"], image_name="in.png")
    check(result, Host(level_sb, None, None, "", ""))  # type: ignore[arg-type]
    assert level_sb.run("print('still serving')").stdout.strip() == "still serving"
    replaced = level_sb.respawns > respawns or any(
        w is None for s in level_sb._slots for w in s.workers.values()
    )
    assert not replaced, "the block's scratch could not be emptied: its worker was replaced"


def test_sysv_segment_does_not_reach_the_next_block(level_sb: Sandbox) -> None:
    plant = _CTYPES + f"sid = libc.shmget({IPC_KEY}, 4096, 0o1666)\nprint(sid)"
    look = _CTYPES + f"print(libc.shmget({IPC_KEY}, 0, 0), ctypes.get_errno())"
    assert level_sb.run(plant).stdout.strip() == "-1"
    assert level_sb.run(look).stdout.strip() in ("-1 1", "-1 2")  # denied, or no such segment
    assert IPC_KEY not in _host_sysv_keys()


@pytest.mark.parametrize("level", ROUTED)
def test_input_image_bomb_header_is_refused_undecoded(level: str) -> None:
    with Sandbox(pool_config(workers=1, **LEVELS[level])) as pool:
        with pool.session(images=[_png_header(50000, 50000)], image_name="bomb.png") as session:
            r = session.run("print('ran')")
        assert r.status is ExecStatus.REFUSED and r.stdout == "", r
        assert "bomb.png" in r.error_message and "50000x50000" in r.error_message, r.error_message
        assert pool.run("print(1)", images=[_png_header(64, 48)]).stdout == "1\n"


def _family(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for pid in children.get(stack.pop(), []):
            found.append(pid)
            stack.append(pid)
    return found


@pytest.mark.parametrize("level", ROUTED)
def test_close_reaps_every_process_it_started(level: str) -> None:
    before = set(_family(os.getpid()))
    pool = Sandbox(pool_config(workers=1, **LEVELS[level]))
    assert pool.run("print(1)").stdout == "1\n"
    started = set(_family(os.getpid())) - before
    assert started
    pool.close()
    left = [pid for pid in started if Path(f"/proc/{pid}").exists()]  # zombies included
    assert left == [], left


FORGED_REPORT_END = {  # the report's end written by the block itself, then more work, all to be waited for
    "runs_on": "import os, time\nos.write(3, b'{\"kind\": \"ok\"}\\0')\ntime.sleep(0.3)\nprint('late')",
    "thread_runs_on": (
        "import ctypes, os, threading, time\n"
        "def late():\n    time.sleep(0.3)\n    os.write(1, b'late\\n')\n"
        "threading.Thread(target=late).start()\n"
        'os.write(3, b\'{"kind": "ok"}\\0\')\n'
        "ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: the main thread only"
    ),
}


@pytest.mark.parametrize("name", list(FORGED_REPORT_END))
def test_a_block_that_ends_its_report_itself_is_answered_only_when_done(level_sb: Sandbox, name: str) -> None:
    """A lone block is answered at its report's end once none of its threads can run again: a block that
    writes the end itself and runs on (or leaves a thread running) must still be waited for, or what it does
    next would reach the supervisor's reading of its outputs, or the next block."""
    time.sleep(0.05)  # one block at a time: its worker answers at the report's end
    result = level_sb.run(FORGED_REPORT_END[name])
    assert "late" in result.stdout, result
    assert level_sb.run("print('still serving')").stdout.strip() == "still serving"
