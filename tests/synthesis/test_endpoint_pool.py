"""RolloutPool: concurrency jobs running, a bounded queue behind them, back-pressure beyond, and a fatal error
that stops every caller and every waiting job."""

import threading
import time

import pytest

from synthesis.endpoint.errors import FatalTeacherError
from synthesis.endpoint.pool import RolloutPool


class Gate:
    """Jobs that hold until released; counts how many run at once."""

    def __init__(self):
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = self.peak = self.started = 0

    def job(self, value):
        with self.lock:
            self.running += 1
            self.started += 1
            self.peak = max(self.peak, self.running)
        self.release.wait(10)
        with self.lock:
            self.running -= 1
        return value


def _submit_in_thread(pool, fn, *args):
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("future", pool.submit(fn, *args)), daemon=True)
    thread.start()
    return thread, out


def test_concurrency_jobs_run_waiting_ones_queue_and_submit_blocks_beyond():
    gate = Gate()
    with RolloutPool(3, waiting=2) as pool:
        futures = [pool.submit(gate.job, i) for i in range(5)]  # 3 running + 2 waiting: none blocks
        time.sleep(0.2)
        assert (gate.running, pool.outstanding) == (3, 5)
        thread, out = _submit_in_thread(pool, gate.job, 5)
        thread.join(0.3)
        assert thread.is_alive() and "future" not in out  # back-pressure: the sixth waits for a free place
        gate.release.set()
        thread.join(5)
        futures.append(out["future"])
        assert sorted(f.result(5) for f in futures) == list(range(6))
    assert gate.peak == 3 and pool.outstanding == 0


def test_a_freed_slot_is_refilled_from_the_queue_without_the_caller():
    """The caller does not have to come back for the next job to start: the queue feeds the free thread."""
    done = threading.Event()
    with RolloutPool(1, waiting=1) as pool:
        first = pool.submit(done.wait, 5)
        second = pool.submit(lambda: "second")
        done.set()
        assert first.result(5) is True and second.result(5) == "second"


def test_an_exception_stays_in_its_future_and_the_pool_goes_on():
    def boom():
        raise ValueError("one job's trouble")

    with RolloutPool(2) as pool:
        bad, good = pool.submit(boom), pool.submit(lambda: 7)
        assert pool.wait([bad, good], timeout=5)
        with pytest.raises(ValueError, match="one job's trouble"):
            bad.result(5)
        assert good.result(5) == 7 and pool.submit(lambda: 8).result(5) == 8


def test_a_fatal_error_stops_submit_wait_and_every_waiting_job():
    gate, started = Gate(), []

    def fatal():
        raise FatalTeacherError("authentication failed for http://h/v1: 401")

    with RolloutPool(1, waiting=3) as pool:
        blocker = pool.submit(gate.job, 0)
        dying = pool.submit(fatal)
        queued = [pool.submit(started.append, i) for i in range(2)]
        gate.release.set()
        assert blocker.result(5) == 0
        with pytest.raises(FatalTeacherError, match="authentication failed"):
            pool.wait(queued)  # a job of this caller or another: the first fatal error is raised at once
        with pytest.raises(FatalTeacherError):
            pool.submit(started.append, 9)
        for future in (dying, *queued):
            with pytest.raises(FatalTeacherError):
                future.result(5)
    assert started == []  # no job that waited behind the fatal one ran


def test_a_submit_blocked_by_back_pressure_wakes_on_a_fatal_error():
    gate = Gate()

    def fatal_after_release():
        gate.release.wait(5)
        raise FatalTeacherError("every request is refused by http://h/v1: 400")

    with RolloutPool(1, waiting=0) as pool:
        pool.submit(fatal_after_release)
        errors = []
        thread = threading.Thread(target=lambda: errors.append(_catch(pool.submit, gate.job, 1)), daemon=True)
        thread.start()
        thread.join(0.2)
        assert thread.is_alive()
        gate.release.set()
        thread.join(5)
    assert len(errors) == 1 and isinstance(errors[0], FatalTeacherError)


def _catch(fn, *args):
    try:
        fn(*args)
    except BaseException as err:  # noqa: BLE001 - the test inspects it
        return err
    return None


def test_wait_times_out_and_needs_valid_sizes():
    gate = Gate()
    with RolloutPool(1) as pool:
        future = pool.submit(gate.job, 1)
        assert pool.wait([future], timeout=0.05) == set()
        gate.release.set()
        assert pool.wait([future], timeout=5) == {future}
        assert pool.wait([]) == set()
    with pytest.raises(ValueError, match="concurrency >= 1"):
        RolloutPool(0)
