"""The worker answers a lone block at its report's end, once no thread of its process can run again, and
reaps it afterwards (``sandbox/worker.py``'s ``answer_at_end``). These tests fork real processes: one whose
exit has a large teardown, one that ends its report and runs on, one whose main thread exits while another
runs on; and they check that lone blocks give what back-to-back blocks give."""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time

import pytest
from conftest import make_png
from image_stack import BLOCKS
from sandbox_pools import pool_config

from sandbox import ExecStatus, Sandbox
from sandbox.child import EXIT_NICE
from sandbox.protocol import OK_REPORT, REPORT_END
from sandbox.worker import _past_its_block

SYS_EXIT = 60  # x86-64: ends the calling thread only (exit_group ends them all)


def _fork(body) -> tuple[int, int]:
    """(pid, read end of its report pipe) of a forked child that runs ``body(report_fd)`` and exits 0."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            body(write_end)
        finally:
            os._exit(0)
    os.close(write_end)
    return pid, read_end


def _read_to_end(fd: int) -> bytes:
    data = b""
    while not data.endswith(REPORT_END):
        chunk = os.read(fd, 1 << 16)
        assert chunk, data
        data += chunk
    return data


def _exited(pid: int) -> bool:
    pidfd = os.pidfd_open(pid)
    try:
        return bool(select.select([pidfd], [], [], 0)[0])
    finally:
        os.close(pidfd)


def test_answered_while_a_big_exit_is_still_freeing_memory() -> None:
    held = []

    def body(fd: int) -> None:
        held.append(b"x" * (768 << 20))  # every page touched; freed by the exit's teardown (tens of ms)
        os.setpriority(os.PRIO_PROCESS, 0, EXIT_NICE)
        os.write(fd, OK_REPORT + REPORT_END)

    pid, fd = _fork(body)
    _read_to_end(fd)
    cpu = _past_its_block(pid)
    still_exiting = not _exited(pid)
    _, status, _ = os.wait4(pid, 0)
    os.close(fd)
    assert cpu is not None and cpu > 0.01, cpu  # it spent CPU filling 768 MB
    assert still_exiting, "the answer waited for the whole exit"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_a_process_that_ends_its_report_and_runs_on_is_waited_for() -> None:
    def body(fd: int) -> None:
        os.write(fd, OK_REPORT + REPORT_END)
        time.sleep(0.3)

    pid, fd = _fork(body)
    _read_to_end(fd)
    started = time.monotonic()
    assert _past_its_block(pid) is None
    assert time.monotonic() - started < 0.2  # it gave up after EXIT_WAIT_S, long before the process ended
    assert not _exited(pid)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(fd)


def test_a_thread_that_runs_on_after_its_main_thread_exits_is_waited_for() -> None:
    def body(fd: int) -> None:
        threading.Thread(target=time.sleep, args=(0.3,)).start()
        os.write(fd, OK_REPORT + REPORT_END)
        ctypes.CDLL(None, use_errno=True).syscall(SYS_EXIT, 0)  # this thread only

    pid, fd = _fork(body)
    _read_to_end(fd)
    time.sleep(0.05)  # the main thread is long in its exit; the other is not
    assert _past_its_block(pid) is None
    _, status, _ = os.wait4(pid, 0)  # the process ends with its last thread
    os.close(fd)
    assert os.WIFEXITED(status)


@pytest.mark.parametrize("names", [("pil", "numpy", "cv2")])
def test_lone_blocks_give_what_back_to_back_blocks_give(names: tuple[str, ...]) -> None:
    png = make_png()
    outcomes = []
    with Sandbox(pool_config(workers=1, timeout_s=20.0)) as sb:
        for gap in (0.05, 0.0):  # one at a time (answered at the report's end), then back to back
            results = []
            for name in names * 2:
                time.sleep(gap)
                results.append(sb.run(BLOCKS[name], images=[png], image_name="photo.png"))
            assert all(r.status is ExecStatus.OK and r.stdout.endswith("DONE\n") for r in results), results
            outcomes.append([(r.stdout, r.stderr, r.images, r.image_names, r.feedback) for r in results])
    assert outcomes[0] == outcomes[1]


def test_a_finished_report_is_the_outcome_whether_answered_at_its_end_or_not() -> None:
    """A block that writes a whole report itself and exits with another code: answered at the report's end
    (one at a time) or at the exit (back to back), the result is the same."""
    forge = "import os\nos.write(1, b'forged\\n')\nos.write(3, b'{\"kind\": \"ok\"}\\0')\nos._exit(3)"
    with Sandbox(pool_config(workers=1)) as sb:
        time.sleep(0.05)
        lone = sb.run(forge)
        back_to_back = [sb.run(forge) for _ in range(3)][1:]
    outcomes = {(r.status, r.stdout, r.error_type, r.error_message) for r in [lone, *back_to_back]}
    assert outcomes == {(ExecStatus.OK, "forged\n", "", "")}, outcomes
