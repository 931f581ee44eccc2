"""What a block's process does while it waits for its block, so that the block starts as warm as a
long-lived interpreter would be.

A block's process is a fresh fork, and an image block pays for it twice:

* **fresh memory.** Every page its pixels land on faults in on first write (the kernel zeroes and maps
  it, 1-3 us here): a 1000 x 1000 PNG cropped and saved took ~2,000 faults in a block and none in a
  long-lived interpreter, whose allocator reuses memory it freed earlier. So the full zygote tells glibc's
  malloc to serve allocations up to 32 MB from its heap and never to give freed heap back
  (`keep_freed_memory`), and each child grows its heap and faults it in with ``madvise(MADV_POPULATE_WRITE)``
  (`prefault`): as much as the worker's recent blocks faulted, up to ``sandbox.prefault_mb``
  (`HeapEstimate`). Other allocators (musl) are left alone: without ``mallopt`` nothing is prefaulted.
* **copy-on-write of the zygote's pages.** The first call into Pillow writes reference counts and caches
  on pages shared with the zygote, and each such page is copied (~330 faults for the crop's ``Image.open``,
  ``crop`` and ``save``). So a child that prefaults (its worker's blocks want pixels) also runs one fixed
  in-memory round trip of a tiny PNG through Pillow (and numpy when loaded) first (`image_round_trip`,
  ``sandbox.prewarm``): it reads no file and leaves no state a block can tell apart.
"""

from __future__ import annotations

import ctypes
import io
import mmap
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MADV_POPULATE_WRITE = 23  # Linux 5.14
MMAP_THRESHOLD = 32 << 20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit): bigger requests still get mmap
CHUNK = 8 << 20  # prefaulted in pieces well below the threshold (a piece at it would be mmap-ed and unmapped)
_PAGE = mmap.PAGESIZE

_libc = ctypes.CDLL(None, use_errno=True)
_mallopt = getattr(_libc, "mallopt", None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def keep_freed_memory() -> bool:
    """Serve requests up to `MMAP_THRESHOLD` from the heap and never trim it; True where glibc took both.

    Done once in the zygote; every child inherits the settings (and with them the pages `prefault` adds).
    """
    if _mallopt is None:
        return False
    never_trim = (1 << 31) - 1  # mallopt takes an int: 2 GiB
    return bool(_mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(_mallopt(_M_TRIM_THRESHOLD, never_trim))


def prefault(nbytes: int) -> int:
    """Grow the heap by ``nbytes`` with every page faulted in, then free it back to malloc (which keeps it).

    Returns the bytes faulted in (less where malloc refused). Needs `keep_freed_memory` first, or the free
    would hand the pages straight back to the kernel.
    """
    blocks, done = [], 0
    try:
        while done < nbytes:  # in chunks below malloc's mmap threshold, so that they come from the heap
            size = min(CHUNK, nbytes - done)
            block = _libc.malloc(size)
            if not block:
                break
            blocks.append(block)
            start = -(-block // _PAGE) * _PAGE
            length = (block + size - start) // _PAGE * _PAGE
            if length > 0 and _libc.madvise(start, length, _MADV_POPULATE_WRITE) != 0:
                ctypes.memset(start, 0, length)  # kernels before 5.14: touch each page instead
            done += size
        return done
    finally:
        for block in reversed(blocks):
            _libc.free(block)  # back to malloc's heap, which keeps it (`keep_freed_memory`)


def sample_png() -> bytes:
    """The tiny PNG of `image_round_trip`, made once in the zygote."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 80, 120)).save(buffer, "PNG")
    return buffer.getvalue()


def image_round_trip(png: bytes) -> None:
    """Open, crop, resize and save ``png`` in memory (and view it as a numpy array when numpy is loaded): the
    calls almost every image block makes first, run once so that their pages are copied before it arrives."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        image.load()
        part = image.crop((0, 0, 8, 8)).resize((16, 16))
    if "numpy" in sys.modules:
        sys.modules["numpy"].asarray(part)
    part.save(io.BytesIO(), "PNG")


GROW_PAGES = 256  # a block's own faults that say it wanted more heap (1 MB; a trivial block makes ~100)
PATIENCE = 8  # blocks in a row that wanted no more heap before the estimate starts to shrink
_MB = 1 << 20


class HeapEstimate:
    """How much heap the zygote's next child should fault in, learnt from what the blocks before it faulted.

    The counts come from the kernel (the child's own ``getrusage`` before any untrusted code runs, and
    ``wait4``'s when it is dead), never from the block. A block that faulted more than `GROW_PAGES` pages of
    its own wanted more: the next child gets what it had plus what it faulted, up to the cap. One that did
    not may have wanted less, but a fault count cannot say how much of the heap it used: the estimate holds
    for `PATIENCE` such blocks in a row, then shrinks by a quarter per block, so a worker whose blocks need no
    pixels soon faults in nothing and pays nothing for it. (Shrinking at once made a worker of like image
    blocks swing: every second block got three quarters of its heap and faulted in the rest.)

    Args:
        cap (`int`): most bytes to fault in (``sandbox.prefault_mb``); 0 turns prefaulting off.

    Example:
        >>> estimate = HeapEstimate(32 << 20)
        >>> estimate.after(given=0, faults=2000)  # a block that faulted in 2,000 pages of its own
        >>> estimate.next >> 20
        8
        >>> for _ in range(PATIENCE):  # given enough, again and again
        ...     estimate.after(given=estimate.next, faults=40)
        >>> estimate.next >> 20
        8
        >>> estimate.after(given=estimate.next, faults=40)  # it may want less
        >>> estimate.next >> 20
        6
    """

    __slots__ = ("calm", "cap", "next")

    def __init__(self, cap: int) -> None:
        self.cap, self.next, self.calm = cap, 0, 0

    def after(self, given: int, faults: int) -> None:
        """Learn from a dead child that was given ``given`` bytes and whose block faulted ``faults`` times."""
        if faults > GROW_PAGES:
            wanted = given + faults * _PAGE
            self.next, self.calm = min(self.cap, -(-wanted // _MB) * _MB), 0
            return
        self.calm += 1
        if self.calm > PATIENCE:
            shrunk = given * 3 // 4 // _MB * _MB
            self.next = shrunk if shrunk >= _MB else 0
        else:
            self.next = given
