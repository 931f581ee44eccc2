"""A block's process forked and confined in C (`sandbox/_spawn.c`, ``native_spawn: true``, the default) is the
same process, to the block, as one forked by ``os.fork`` and confined in Python; a failed step ends it before
any untrusted code; without the extension the option is refused, not ignored.

The escape suite runs with both (``test_escape.py``'s pools); these tests compare the two directly and probe
the extension itself.
"""

from __future__ import annotations

import os
import resource
import sys

import pytest
from sandbox_pools import LEVELS, levels, pool_config

from sandbox import Sandbox, SandboxConfig, SandboxUnavailableError, landlock
from sandbox.child import SETUP_FAILED
from sandbox.isolation import detect, plan

PROCESS_STATE = """
import os, resource
fds = []
for fd in range(64):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
print("fds", fds)
names = ("RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_CORE")
print("rlimits", {n: resource.getrlimit(getattr(resource, n)) for n in names})
soft, hard = resource.getrlimit(resource.RLIMIT_AS)  # the zygote's size plus memory_mb: its size may differ
print("address space limited", soft == hard and 0 < soft < 4 << 30)
print("ids", os.getuid(), os.getgid(), os.getgroups(), os.getcwd() == os.environ["HOME"])
attempts = (
    "os.fork()",
    "__import__('socket').socket()",
    "open('/mnt/data/input/new.txt', 'w')",
    "os.kill(os.getppid(), 0)",
    "open('/etc/hostname', 'a')",
)
for attempt in attempts:
    try:
        eval(attempt)
        print(attempt, "allowed")
    except OSError as exc:
        print(attempt, type(exc).__name__, exc.errno)
"""
BLOCKS = [
    PROCESS_STATE,
    "print(1 + 1)",
    "import random\nprint(random.random())",
    "print(np.random.rand(2), Image.open(image_path).size)",
    "raise ValueError('bad')",
    "x = bytearray(400 << 20)",
]

SPAWN_LEVELS = levels({"full": LEVELS["full"], "reduced": LEVELS["reduced"]})


@pytest.fixture(scope="module", params=list(SPAWN_LEVELS), ids=list(SPAWN_LEVELS))
def pools(request):
    settings = dict(workers=1, memory_mb=256, **SPAWN_LEVELS[request.param])
    with (
        Sandbox(pool_config(**settings)) as native,
        Sandbox(pool_config(native_spawn=False, **settings)) as python,
    ):
        yield native, python


def test_native_spawn_is_the_default_and_named_in_the_plan(pools) -> None:
    native, python = pools
    assert SandboxConfig().native_spawn
    assert "native-spawn" in native.plan.features and "native-spawn" not in python.plan.features


@pytest.mark.parametrize("code", BLOCKS, ids=range(len(BLOCKS)))
def test_a_block_sees_the_same_process_either_way(pools, png: bytes, code: str) -> None:
    native, python = pools
    results = [sb.run(code, images=[png], image_name="photo.png") for sb in pools]
    # Every field but the times and, at the reduced level, the code as run (its paths name a pool's scratch)
    a, b = ({**vars(r), "cpu_s": 0, "wall_s": 0, "code_as_run": ""} for r in results)
    assert a == b
    if code is PROCESS_STATE:
        out = results[0].stdout
        assert "fds [0, 1, 2, 3]\n" in out, out  # the request pipe and the Landlock ruleset are closed
        assert "'RLIMIT_NOFILE': (64, 64)" in out and "'RLIMIT_CORE': (0, 0)" in out, out
        # no process, socket, write in the inputs or outside the scratch, or signal outside the block
        assert "address space limited True" in out and "allowed" not in out, out


# --- the extension itself, in a child of this test process -------------------------------------------------


def _spawn():
    from sandbox import _spawn

    return _spawn


def _finish(pid: int, fds: tuple[int, ...]) -> tuple[int, bytes, bytes]:
    """Close the request pipe, read the child's stdout and stderr pipes to their end, reap it."""
    request_w, out_r, err_r, report_r = fds
    os.close(request_w)
    texts = []
    for fd in (out_r, err_r):
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        texts.append(b"".join(chunks))
        os.close(fd)
    os.close(report_r)
    _, status = os.waitpid(pid, 0)
    return status, texts[0], texts[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="Landlock without no-new-privileges needs CAP_SYS_ADMIN")
def test_the_child_gets_its_pipes_its_limits_and_its_walls_and_nothing_else() -> None:
    abi = landlock.abi_version()
    if not abi:
        pytest.skip("no Landlock here")
    below = [os.pipe() for _ in range(3)]  # descriptors below the ruleset's number (the prefork's are above)
    ruleset = landlock.build_ruleset(abi, [])  # every filesystem right handled, none allowed
    limits = ((resource.RLIMIT_NOFILE, 32), (resource.RLIMIT_CORE, 0))
    forked = _spawn().prefork(ruleset, b"", limits, False, 1 << 20)
    if forked is None:  # the child: report what it has, in as little Python as can do it
        try:
            fds = [fd for fd in range(256) if _is_open(fd)]
            request = os.read(4, 100)
            got = resource.getrlimit(resource.RLIMIT_NOFILE), resource.getrlimit(resource.RLIMIT_CORE)
            try:
                os.open("/etc/hostname", os.O_RDONLY)
                walled = False
            except PermissionError:
                walled = True
            os.write(1, repr((fds, request, got, walled)).encode())
            os.write(2, b"stderr")
        finally:
            os._exit(0)
    for fd in (ruleset, *(fd for pair in below for fd in pair)):
        os.close(fd)
    pid, request_w, *rest = forked
    os.write(request_w, b"the request")
    status, out, err = _finish(pid, (request_w, *rest))
    assert os.waitstatus_to_exitcode(status) == 0, (status, err)
    fds, request, got, walled = eval(out)  # noqa: S307 - our own child's repr
    assert set(fds) - {0} == {1, 2, 3, 4}, fds  # the pipes in place; the ruleset closed once applied
    assert request == b"the request" and got == ((32, 32), (0, 0)) and walled and err == b"stderr"


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    ("args", "step"),
    [
        ((99999, b"", (), False, 0), "landlock restrict_self"),  # not a ruleset descriptor
        ((-1, b"", ((resource.RLIMIT_NOFILE, 1 << 40),), False, 0), "rlimit"),  # over nr_open even for root
        ((-1, b"\0" * 8, (), False, 0), "seccomp"),  # one instruction that is no program (and no NNP)
    ],
    ids=["landlock", "rlimit", "seccomp"],
)
def test_a_failed_step_ends_the_child_before_it_runs_python(args, step: str) -> None:
    forked = _spawn().prefork(*args)
    if forked is None:
        os.write(1, b"python ran")  # must never happen: a failed set-up returns to no Python code
        os._exit(0)
    pid, *fds = forked
    status, out, err = _finish(pid, tuple(fds))
    assert os.waitstatus_to_exitcode(status) == SETUP_FAILED and out == b"", (status, out, err)
    assert err.startswith(f"sandbox setup failed: {step}: ".encode()) and err.endswith(b"\n"), err


def test_a_program_that_is_not_whole_instructions_is_refused_before_the_fork() -> None:
    with pytest.raises(ValueError, match="whole sock_filter instructions"):
        _spawn().prefork(-1, b"\0" * 7, (), False, 0)
    with pytest.raises(TypeError, match="rlimits must be"):
        _spawn().prefork(-1, b"", ((1,),), False, 0)


def test_native_spawn_is_refused_where_the_extension_does_not_load(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sandbox._spawn", None)  # import now raises ImportError
    caps = detect(SandboxConfig())
    with pytest.raises(SandboxUnavailableError, match="native_spawn is on.*make setup.*native_spawn: false"):
        plan(SandboxConfig(), caps)
    assert "native-spawn" not in plan(SandboxConfig(native_spawn=False), caps).features
