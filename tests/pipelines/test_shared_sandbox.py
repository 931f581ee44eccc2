"""DoFns of one process share one sandbox pool per config; the last release closes it."""

from dataclasses import replace

from pipelines import shared_sandbox
from sandbox import SandboxConfig


def test_one_pool_per_config_closed_by_the_last_release():
    cfg = SandboxConfig(workers=1)
    teacher, verifier = shared_sandbox.acquire(cfg), shared_sandbox.acquire(cfg)
    assert teacher is verifier and shared_sandbox.users(cfg) == 2
    other = shared_sandbox.acquire(replace(cfg, timeout_s=cfg.timeout_s + 1))
    assert other is not teacher
    shared_sandbox.release(other)
    assert teacher.run("print(6 * 7)").stdout.strip() == "42"
    shared_sandbox.release(teacher)
    assert shared_sandbox.users(cfg) == 1 and teacher.worker_pids()  # the verifier still holds it, running
    assert verifier.run("print(1)").stdout.strip() == "1"
    shared_sandbox.release(verifier)
    assert shared_sandbox.users(cfg) == 0 and not teacher.worker_pids()
    again = shared_sandbox.acquire(cfg)
    assert again is not teacher and again.run("print(2)").stdout.strip() == "2"
    shared_sandbox.release(again)
    shared_sandbox.release(None)


def test_sandbox_users_start_the_pool_on_first_use_and_share_it():
    cfg = SandboxConfig(workers=1)

    class User(shared_sandbox.SandboxUser):
        sandbox_cfg = cfg

    teacher, verifier = User(), User()
    assert shared_sandbox.users(cfg) == 0  # nothing started for a DoFn that never runs code
    assert teacher.sandbox() is verifier.sandbox() is teacher.sandbox() and shared_sandbox.users(cfg) == 2
    pool = teacher.sandbox()
    teacher.teardown()
    assert shared_sandbox.users(cfg) == 1 and pool.worker_pids()
    verifier.teardown()
    verifier.teardown()  # a second teardown is harmless
    assert shared_sandbox.users(cfg) == 0 and not pool.worker_pids()
