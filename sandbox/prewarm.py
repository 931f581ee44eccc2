"""What a block's process does while it waits for its block, so that the block starts as warm as a
long-lived interpreter would be.

A block's process is a fresh fork, and an image block pays for it twice:

* **fresh memory.** Every page its pixels land on faults in on first write (the kernel zeroes and maps
  it, 1-3 us here): a 1000 x 1000 PNG cropped and saved took ~2,000 faults in a block and none in a
  long-lived interpreter, whose allocator reuses memory it freed earlier. So the full zygote tells glibc's
  malloc to serve allocations up to 32 MB from its heap and never to give freed heap back
  (`keep_freed_memory`), and each child grows its heap by ``sandbox.prefault_mb`` and faults it in with one
  ``madvise(MADV_POPULATE_WRITE)`` (`prefault`). Other allocators (musl) are left alone: without
  ``mallopt`` nothing is prefaulted.
* **copy-on-write of the zygote's pages.** The first call into Pillow writes reference counts and caches
  on pages shared with the zygote, and each such page is copied (~330 faults for the crop's ``Image.open``,
  ``crop`` and ``save``). So each child runs one fixed in-memory round trip of a tiny PNG through Pillow (and
  numpy when loaded) first (`image_round_trip`, ``sandbox.prewarm``): it reads no file and leaves no state a
  block can tell apart.
"""

from __future__ import annotations

import ctypes
import io
import mmap
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MADV_POPULATE_WRITE = 23  # Linux 5.14
MMAP_THRESHOLD = 32 << 20  # glibc's largest (HEAP_MAX_SIZE / 2 on 64-bit): bigger requests still get mmap
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

    Returns the bytes faulted in (0 where malloc refused). Needs `keep_freed_memory` first, or the free
    would hand the pages straight back to the kernel.
    """
    if nbytes <= 0:
        return 0
    block = _libc.malloc(nbytes)
    if not block:
        return 0
    try:
        start = -(-block // _PAGE) * _PAGE
        length = (block + nbytes - start) // _PAGE * _PAGE
        if length > 0 and _libc.madvise(start, length, _MADV_POPULATE_WRITE) != 0:
            ctypes.memset(start, 0, length)  # kernels before 5.14: touch each page instead
        return max(length, 0)
    finally:
        _libc.free(block)


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
