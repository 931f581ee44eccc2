"""What a worker does ahead of a block to save it time, and that none of it changes a result: the heap and
the image calls its children warm up while they wait, and input images left in place for a block with the
same ones."""

from __future__ import annotations

import hashlib
import warnings

import pytest
from conftest import make_png
from image_stack import BLOCKS
from sandbox_pools import pool_config

from sandbox import ExecStatus, Sandbox

COUNT_FAULTS = (  # faults before the block (its process's prefault and prewarm), then the block's own
    "import resource\nfrom PIL import Image\n"
    "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "canvas = Image.new('RGB', (1536, 1024), 'white')\n"  # 6 MB of pixels (Pillow keeps RGB in 4 bytes)
    "print(before, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, canvas.getpixel((7, 7)))"
)
NO_PIXELS = (
    "import resource\nimport numpy as np\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt, 0, np.int8(1))"
)
SIX_MB_OF_PAGES = (6 << 20) // 4096
FIRST_IMAGE_CALLS = (  # a small image: the faults are the zygote's pages that Pillow's code path writes
    "import resource\nfrom PIL import Image\n"
    "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "image = Image.open(image_path)\n"
    "image.crop((0, 0, 32, 32)).save('/mnt/data/temp_processed_images/c.png')\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)"
)
INPUT_FACTS = (
    "import hashlib, os\n"
    "info = os.stat(image_path)\n"
    "print(f'{info.st_ino}:{info.st_ctime_ns}', hashlib.sha256(open(image_path, 'rb').read()).hexdigest(), "
    "sorted(os.listdir(os.path.dirname(image_path))))"
)


def _faults(sb: Sandbox, code: str) -> tuple[int, int]:
    """(faults before the block, the block's own faults)."""
    r = sb.run(code)
    assert r.status is ExecStatus.OK, r
    before, own, _ = r.stdout.split(" ", 2)
    return int(before), int(own)


def test_prefaulted_heap_spares_a_blocks_pixels_their_page_faults() -> None:
    with Sandbox(pool_config(workers=1, prefault_mb=0)) as sb:
        without = [_faults(sb, COUNT_FAULTS)[1] for _ in range(3)]
    with Sandbox(pool_config(workers=1, prefault_mb=32)) as sb:
        learning = _faults(sb, COUNT_FAULTS)  # the zygote's first child: nothing learnt yet
        with_heap = [_faults(sb, COUNT_FAULTS)[1] for _ in range(6)]  # like blocks: no swing
    assert min(without) > SIX_MB_OF_PAGES * 0.9, without  # every fresh page of the canvas faults
    assert learning[1] > SIX_MB_OF_PAGES * 0.9, learning
    assert max(with_heap) < SIX_MB_OF_PAGES * 0.25, with_heap  # they are already there


def test_a_worker_whose_blocks_need_no_pixels_stops_prefaulting() -> None:
    with Sandbox(pool_config(workers=1, prefault_mb=32)) as sb:
        for _ in range(2):
            _faults(sb, COUNT_FAULTS)
        given = _faults(sb, NO_PIXELS)[0]  # the faults its process made before it, prefault included
        after = [_faults(sb, NO_PIXELS)[0] for _ in range(20)]
    # Three quarters each time, then nothing: down by the 4-7 MB it was given, and steady at a bare child's.
    assert given - after[-1] >= (4 << 20) // 4096, (given, after)
    assert max(after[-3:]) - min(after[-3:]) < 64, after


def _first_call_faults(prewarm: bool) -> list[int]:
    """The faults of the first image calls in the 2nd to 4th blocks of a pool (the first block shows the
    worker that its blocks want images: only then does it prewarm)."""
    png = make_png(64, 48)
    with Sandbox(pool_config(workers=1, prewarm=prewarm)) as sb:
        results = [sb.run(FIRST_IMAGE_CALLS, images=[png]) for _ in range(4)]
    assert all(r.status is ExecStatus.OK and len(r.images) == 0 for r in results), results
    return [int(r.stdout) for r in results[1:]]


def test_prewarmed_child_has_copied_the_pages_of_the_first_image_calls() -> None:
    cold, warm = _first_call_faults(False), _first_call_faults(True)
    assert min(cold) > 100, cold  # reference counts and caches on pages shared with the zygote
    assert max(warm) * 3 < min(cold), (warm, cold)


def test_prefault_is_checked_against_the_memory_budget() -> None:
    with pytest.raises(ValueError, match="prefault_mb"):
        pool_config(memory_mb=128, prefault_mb=256)


def _facts(sb: Sandbox, png: bytes, name: str = "photo.png") -> tuple[str, str, str]:
    r = sb.run(INPUT_FACTS, images=[png], image_name=name)
    assert r.status is ExecStatus.OK, r
    written, digest, listing = r.stdout.split(" ", 2)
    return written, digest, listing.strip()


def test_same_inputs_stay_in_place_and_other_inputs_replace_them() -> None:
    first, second = make_png(64, 48), make_png(80, 60)
    with Sandbox(pool_config(workers=1)) as sb:
        written, digest, listing = _facts(sb, first)  # written: the file's inode and change time
        assert digest == hashlib.sha256(first).hexdigest() and listing == "['photo.png']"
        assert _facts(sb, first)[0] == written  # the same bytes: the file was not written again
        other = _facts(sb, second, "other.png")
        assert other[1:] == (hashlib.sha256(second).hexdigest(), "['other.png']")  # nothing of the first left
        assert _facts(sb, second, "renamed.png")[2] == "['renamed.png']"
        r = sb.run("import os\nprint(os.path.isdir('/mnt/data/input') and os.listdir('/mnt/data/input'))")
        assert r.stdout.strip() in ("[]", "False"), r  # a block without inputs sees none of the last ones


def test_an_input_changed_by_a_block_is_written_again_for_the_next() -> None:
    """At level none, as root, nothing stops a block from rewriting its input (no Landlock: inputs are never
    kept); the next block with the same image must still get the original bytes."""
    png = make_png(64, 48)
    tamper = "import os\nos.chmod(image_path, 0o644)\nopen(image_path, 'wb').write(b'bad')\nprint('done')"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # level none warns on every start, by design
        with Sandbox(pool_config(workers=1, isolation="none")) as sb:
            before = _facts(sb, png)
            assert sb.run(tamper, images=[png], image_name="photo.png").stdout == "done\n"
            after = _facts(sb, png)
    assert after[1] == before[1] == hashlib.sha256(png).hexdigest()


def test_warming_up_changes_no_result_of_the_image_stack() -> None:
    png = make_png()
    blocks = [BLOCKS[name] for name in ("pil", "numpy", "cv2")]
    outcomes = []
    for settings in ({"prefault_mb": 16, "prewarm": True}, {"prefault_mb": 0, "prewarm": False}):
        with Sandbox(pool_config(workers=1, timeout_s=20.0, **settings)) as sb:
            results = [sb.run(code, images=[png], image_name="photo.png") for code in blocks]
        assert all(r.status is ExecStatus.OK and r.stdout.endswith("DONE\n") for r in results), results
        outcomes.append([(r.stdout, r.stderr, r.images, r.image_names, r.feedback) for r in results])
    assert outcomes[0] == outcomes[1]


def test_heap_estimate_holds_for_like_blocks_then_shrinks() -> None:
    from sandbox.prewarm import PATIENCE, HeapEstimate

    estimate = HeapEstimate(32 << 20)
    estimate.after(given=0, faults=1700)  # a 6.6 MB block on a bare child
    assert estimate.next == 7 << 20
    held = []
    for _ in range(PATIENCE):  # like blocks, each given enough
        estimate.after(given=estimate.next, faults=40)
        held.append(estimate.next)
    assert held == [7 << 20] * PATIENCE
    shrinking = []
    for _ in range(6):
        estimate.after(given=estimate.next, faults=40)
        shrinking.append(estimate.next >> 20)
    assert shrinking == [5, 3, 2, 1, 0, 0]
    estimate.after(given=0, faults=100_000)  # a big one: up to the cap, and patient again
    assert estimate.next == 32 << 20 and estimate.calm == 0
