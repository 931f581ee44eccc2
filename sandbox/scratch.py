"""Host-side scratch folders: one root per worker, one fresh execution folder per block.

The supervisor (trusted) creates the folder, writes the inputs read-only, hands ``out/`` and
``work/`` to the sandbox uid, and afterwards lists and reads the outputs itself without following
any link the block may have planted, then deletes everything.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from sandbox.layout import CURRENT, IMAGE_EXTENSIONS

MAX_LISTED_FILES = 256


def _empty(path: Path) -> None:
    """Delete everything inside ``path`` (never following links), keeping ``path`` itself."""

    def force(func, target, _exc):  # a block may have left a folder without permissions
        os.chmod(os.path.dirname(target), 0o700)
        func(target)

    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=force)
        else:
            os.unlink(entry.path)


class Scratch:
    """The scratch root of one worker on the host, with its persistent execution folder.

    The execution folder and its three sub-folders live as long as the worker (the worker confines each
    block with Landlock rules on exactly these directories, prepared before the block arrives); their
    contents are emptied and their modes reset after every block.

    Args:
        root (`Path`): an existing private directory for this worker.
        uid (`int | None`): owner to give the writable folders (the sandbox uid), or None to keep ours.
    """

    def __init__(self, root: Path, uid: int | None) -> None:
        self.root = root
        self.uid = uid
        os.chmod(root, 0o711)
        os.mkdir(self.current, 0o711)
        os.mkdir(self.current / "in", 0o755)
        for sub in ("out", "work"):
            os.mkdir(self.current / sub, 0o700)
        self._reset_modes()

    @property
    def current(self) -> Path:
        """The execution folder (the same for every block of this worker)."""
        return self.root / CURRENT

    def _reset_modes(self) -> None:
        for sub in ("out", "work"):
            if self.uid is not None:
                os.chown(self.current / sub, self.uid, self.uid)
            os.chmod(self.current / sub, 0o700)

    def prepare(self, inputs: list[tuple[str, bytes]], subdirs: tuple[str, ...] = ()) -> None:
        """Write the input images (read-only to the block) and create the output sub-folders it names."""
        for name, data in inputs:
            fd = os.open(self.current / "in" / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for sub in subdirs:
            target = self.current / "out" / sub
            os.makedirs(target, 0o700, exist_ok=True)
            if self.uid is not None:
                for part in Path(sub).parents:
                    os.chown(self.current / "out" / part, self.uid, self.uid)
                os.chown(target, self.uid, self.uid)

    def output_files(self) -> dict[str, Path]:
        """Regular image files under out/, by path relative to it; links are never followed."""
        found: dict[str, Path] = {}
        stack = [self.current / "out"]
        while stack and len(found) < MAX_LISTED_FILES:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    found[os.path.relpath(entry.path, self.current / "out")] = Path(entry.path)
        return found

    @staticmethod
    def read_file(path: Path, max_bytes: int) -> bytes | None:
        """Read a regular file without following a final symlink; None when it is not one or too large."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as handle:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
                return None
            return handle.read(max_bytes + 1)[:max_bytes]

    def clear(self) -> None:
        """Empty in/, out/ and work/ and reset their modes, so nothing reaches the next block."""
        self._reset_modes()
        for sub in ("in", "out", "work"):
            _empty(self.current / sub)

    def remove(self) -> None:
        """Delete the whole worker root."""
        shutil.rmtree(self.root, ignore_errors=True)


ROOT_PREFIX = "thyme-sandbox-"


def make_root(parent: str | None) -> Path:
    """Create this pool's private scratch root, named after our pid so that a later pool can tell
    whether its owner is still alive (pools that die by SIGKILL or ``os._exit`` cannot clean up).

    Args:
        parent (`str | None`): where to create it; None means the system temp dir.
    """
    import tempfile

    sweep_stale(Path(parent or tempfile.gettempdir()))
    return Path(tempfile.mkdtemp(prefix=f"{ROOT_PREFIX}{os.getpid()}-", dir=parent))


def sweep_stale(parent: Path) -> list[Path]:
    """Delete scratch roots whose owning process is gone; returns what was removed.

    Args:
        parent (`Path`): the folder that holds the scratch roots.
    """
    removed = []
    for entry in parent.glob(f"{ROOT_PREFIX}*-*"):
        owner = entry.name[len(ROOT_PREFIX) :].split("-", 1)[0]
        if not owner.isdigit() or entry.is_symlink() or entry.stat().st_uid != os.geteuid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        except PermissionError:
            continue  # alive, someone else's
    return removed
