"""End-to-end behaviour of the pool: results, fix-ups, strict mode, sessions, timeouts, worker death."""

from __future__ import annotations

import io
import os
import signal
import threading
import time

from PIL import Image

from sandbox import ExecStatus, Sandbox

SAVE_CROP = (
    "from PIL import Image\nimport random\nimg = Image.open(image_path)\n"
    "x1, y1, x2, y2 = 10, 10, 5000, 5000\n"
    "crop = img.crop((x1, y1, x2, y2))\n"
    "processed_path = f'/mnt/data/temp_processed_images/photo_{random.randint(1000, 9999)}.png'\n"
    "crop.save(processed_path)\nprint(processed_path)"
)


def test_trivial_print(sb: Sandbox) -> None:
    r = sb.run("print(6 * 7)")
    assert (r.status, r.stdout, r.feedback, r.images, r.fixes) == (ExecStatus.OK, "42\n", "42", [], [])
    assert r.cpu_s >= 0 and r.wall_s > 0


def test_isolation_level_is_full_by_default(sb: Sandbox) -> None:
    assert sb.isolation == "full"
    r = sb.run("import os\nprint(os.getuid(), os.getgid(), os.getgroups())")
    assert r.stdout.split()[:2] == ["65534", "65534"]


def test_crop_returns_clamped_image_in_print_order(sb: Sandbox, png: bytes) -> None:
    r = sb.run(SAVE_CROP, images=[png], image_name="photo.png")
    assert r.status is ExecStatus.OK, r
    assert r.feedback == "<image>" and len(r.images) == 1
    assert r.image_names[0].startswith("photo_") and r.image_names[0].endswith(".png")
    assert Image.open(io.BytesIO(r.images[0])).size == (310, 230)  # clamped to the 320x240 input
    assert r.fixes == ["fix_crop_clamp"]
    assert "x1, y1, x2, y2 = 10, 10, 320, 240" in r.code_as_run


def test_several_images_in_print_order(sb: Sandbox, png: bytes) -> None:
    code = (
        "from PIL import Image\nimg = Image.open(image_path)\nd = '/mnt/data/temp_processed_images/'\n"
        "img.save('/mnt/data/temp_processed_images/sub/c.jpg')\n"
        "for name in ['b.png', 'a.png']:\n"
        "    img.save(d + name)\n"
        "print(d + 'b.png', d + 'sub/c.jpg')\nprint(d + 'a.png')"
    )
    r = sb.run(code, images=[png])
    assert r.image_names == ["b.png", "sub/c.jpg", "a.png"], r
    assert "fix_output_subdirs" in r.fixes
    assert r.feedback == "<image>" * 3


def test_text_result_is_returned_verbatim(sb: Sandbox) -> None:
    r = sb.run("ratio = 2 / 3\nprint(f'{ratio:.2f}')")
    assert r.feedback == "0.66666667" and r.fixes == ["fix_precision"]


def test_no_output_and_errors_start_with_sandbox_for(sb: Sandbox) -> None:
    assert sb.run("x = 1", item_id="q7").feedback == "Sandbox for q7: No output captured."
    r = sb.run("print(undefined)", item_id="q7")
    assert r.status is ExecStatus.ERROR and r.error_type == "NameError"
    assert r.feedback == "Sandbox for q7: Code execution failed: NameError: name 'undefined' is not defined"
    r = sb.run("def f(:\n pass", item_id="q7")
    assert r.error_type == "SyntaxError" and r.feedback.startswith(
        "Sandbox for q7: Code execution failed due to SyntaxError"
    )
    r = sb.run("import not_a_module_xyz", item_id="q7")
    assert r.feedback.startswith("Sandbox for q7: Code execution failed due to ModuleNotFoundError")


def test_missing_printed_path_is_an_error(sb: Sandbox) -> None:
    r = sb.run("print('/mnt/data/temp_processed_images/nothing.png')")
    assert r.status is ExecStatus.ERROR and r.error_type == "OutputError"
    assert r.feedback.startswith("Sandbox for N/A: printed path")


def test_fixups_end_to_end(sb: Sandbox, png: bytes) -> None:
    code = (
        "    image_path = '/home/author/data/photo.png'\n    img = cv.imread(image_path)\n"
        "    crop = img[0:10, 300:900]\n    print(crop.shape)"
    )
    r = sb.run(code, images=[png], image_name="photo.png")
    assert r.status is ExecStatus.OK, r
    assert r.stdout.strip() == "(64, 64, 3)"  # slice widened to 64 px and clamped into the 320x240 image
    assert r.fixes == ["fix_indent", "fix_image_path", "fix_slice_clamp", "fix_cv_alias"]


def test_strict_mode_runs_code_as_written(sb: Sandbox, png: bytes) -> None:
    code = "img = cv.imread(image_path)"
    r = sb.run(code, images=[png], strict=True)
    assert (
        r.status is ExecStatus.ERROR
        and r.error_type == "NameError"
        and r.fixes == []
        and r.code_as_run == code
    )
    r = sb.run(SAVE_CROP, images=[png], strict=True)  # the virtual folder and image_path still resolve
    assert r.status is ExecStatus.OK and r.fixes == [] and len(r.images) == 1
    assert Image.open(io.BytesIO(r.images[0])).size == (4990, 4990)  # no clamp: PIL pads the crop


def test_refusals(sb: Sandbox, png: bytes) -> None:
    assert sb.run("   \n").status is ExecStatus.REFUSED
    big = sb.run("x = 1\n" * 20000)
    assert big.status is ExecStatus.REFUSED and big.feedback.startswith(
        "Sandbox for N/A: Code execution refused"
    )
    assert sb.run("print(1)", images=[png] * 9).status is ExecStatus.REFUSED


def test_session_sees_earlier_variables_and_functions(sb: Sandbox, png: bytes) -> None:
    with sb.session(images=[png], image_name="photo.png", item_id="t1") as s:
        assert s.run(
            "from PIL import Image\nimg = Image.open(image_path)\nw, h = img.size\n"
            "def area():\n    return w * h"
        ).ok
        assert s.run("print(undefined_name)").status is ExecStatus.ERROR  # failed cells are not replayed
        r = s.run("print(area(), img.size)")
        assert r.stdout.strip() == "76800 (320, 240)", r


def test_session_replay_reproduces_random_file_names(sb: Sandbox, png: bytes) -> None:
    first = [sb.session(images=[png], image_name="photo.png") for _ in range(2)]
    names = []
    for s in first:
        r1 = s.run(SAVE_CROP)
        r2 = s.run("print(processed_path)\nprint(random.randint(0, 10**9))")
        assert r1.ok and r2.ok, (r1, r2)
        assert r2.image_names == r1.image_names  # the earlier file is recreated by the replay
        names.append((r1.image_names[0], r2.stdout.splitlines()[-1]))
    assert names[0] == names[1]


def test_sessions_from_many_threads(sb: Sandbox) -> None:
    errors: list[str] = []

    def trajectory(k: int) -> None:
        s = sb.session(item_id=f"t{k}")
        for step in range(3):
            r = s.run(f"total = (total if 'total' in dir() else 0) + {k}\nprint(total)")
            if r.stdout.strip() != str(k * (step + 1)):
                errors.append(f"{k}/{step}: {r}")

    threads = [threading.Thread(target=trajectory, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_session_block_timeout_excludes_replay(sb: Sandbox) -> None:
    s = sb.session()
    assert s.run("import time\ntime.sleep(1.2)\nx = 1").ok
    assert s.run("import time\ntime.sleep(1.2)\nprint(x)").stdout.strip() == "1"  # 2.4 s total > 2 s limit


def test_timeout_is_enforced_and_reported(sb: Sandbox) -> None:
    r = sb.run("import time\ntime.sleep(30)", item_id="q")
    assert r.status is ExecStatus.TIMEOUT
    assert r.feedback == "Sandbox for q: Execution timed out after 2 seconds."
    assert sb.run("print('next')").stdout == "next\n"


def test_worker_death_under_concurrent_load(sb: Sandbox) -> None:
    results: list = []
    lock = threading.Lock()
    respawns = sb.respawns

    def hammer(k: int) -> None:
        for i in range(25):
            r = sb.run(f"import time\ntime.sleep(0.005)\nprint({k * 1000 + i})")
            with lock:
                results.append((k * 1000 + i, r))

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    killed = 0
    for _ in range(2):
        time.sleep(0.15)
        pids = sb.worker_pids(full=False)  # these blocks use no preloaded module: the light zygotes run them
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed += 1
    for t in threads:
        t.join()
    assert len(results) == 100
    lost = [r for _, r in results if r.status is not ExecStatus.OK]
    assert all(r.status is ExecStatus.KILLED and r.error_type == "WorkerDied" for r in lost), lost
    assert len(lost) <= killed  # only the in-flight block of each killed worker fails
    assert all(r.stdout.strip() == str(n) for n, r in results if r.ok)
    assert sb.respawns > respawns and len(sb.worker_pids(full=False)) == 2
    assert sb.run("print('recovered')").ok


def test_workers_are_recycled_without_losing_blocks() -> None:
    from sandbox import SandboxConfig

    with Sandbox(SandboxConfig(workers=1, recycle_after=2, timeout_s=2.0)) as pool:
        first = pool.worker_pids()
        outputs = [pool.run(f"print({i})").stdout for i in range(5)]
        assert outputs == [f"{i}\n" for i in range(5)]
        assert pool.respawns == 2 and pool.worker_pids() != first


def test_identical_input_gives_identical_output(sb: Sandbox, png: bytes) -> None:
    code = SAVE_CROP + "\nimport numpy as np\nprint(np.random.randint(0, 10**6), sorted({'b', 'a', 'c'}))"
    first, second = (sb.run(code, images=[png], image_name="photo.png") for _ in range(2))
    assert (first.stdout, first.image_names, first.images) == (
        second.stdout,
        second.image_names,
        second.images,
    )


def test_hung_worker_is_killed_and_replaced() -> None:
    from pathlib import Path

    from sandbox import SandboxConfig

    with Sandbox(SandboxConfig(workers=1, timeout_s=0.5, hang_grace_s=0.5)) as pool:
        outer = pool.worker_pids(full=False)[0]  # the zygote that runs print(1)
        zygote = int(Path(f"/proc/{outer}/task/{outer}/children").read_text().split()[0])  # pid 1 inside
        os.kill(zygote, signal.SIGSTOP)  # the worker stops answering
        r = pool.run("print(1)")
        assert r.status is ExecStatus.KILLED and r.error_type == "WorkerDied", r
        assert pool.run("print(2)").stdout == "2\n" and pool.respawns == 1
