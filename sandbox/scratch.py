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


def _empty(path: str | Path) -> None:
    """Delete everything inside ``path`` (never following links), keeping ``path`` itself.

    Iterative and descriptor-relative, so that no tree a block can build slows it down or stops it: every
    sub-folder is first moved up into ``path`` itself (one rename), then emptied of its files, so the
    depth of the tree costs neither recursion nor path length, and a folder a block left without
    permissions is given them back first. Only call it once the block's process is dead.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    top = os.open(path, flags)
    try:
        with os.scandir(top) as listing:
            pending = [entry.name for entry in listing]
        token, serial = os.urandom(4).hex(), 0
        while pending:
            name = pending.pop()
            try:
                os.unlink(name, dir_fd=top)
                continue
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                pass
            try:
                os.rmdir(name, dir_fd=top)
                continue
            except OSError:
                pass
            os.chmod(name, 0o700, dir_fd=top)  # a folder (unlink said so), left by a block that is gone
            fd = os.open(name, flags, dir_fd=top)
            try:
                with os.scandir(fd) as listing:
                    children = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
                for child, is_dir in children:
                    if is_dir:
                        serial += 1
                        moved = f".purge-{token}-{serial}"
                        # Moving a folder to another parent rewrites its "..": it needs write permission on
                        # the folder itself, which a block may have removed (root needs none, its owner does).
                        os.chmod(child, 0o700, dir_fd=fd)
                        os.rename(child, moved, src_dir_fd=fd, dst_dir_fd=top)
                        pending.append(moved)
                    else:
                        os.unlink(child, dir_fd=fd)
            finally:
                os.close(fd)
            os.rmdir(name, dir_fd=top)
    finally:
        os.close(top)


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything under it like `_empty`; errors are ignored (best effort)."""
    try:
        _empty(path)
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


class Scratch:
    """The scratch root of one worker on the host, with its persistent execution folder.

    The execution folder and its three sub-folders live as long as the worker (the worker confines each
    block with Landlock rules on exactly these directories, prepared before the block arrives); their
    contents are emptied and their modes reset after every block.

    Args:
        root (`Path`): an existing private directory for this worker.
        uid (`int | None`): owner to give the writable folders (the sandbox uid), or None to keep ours.
        keep_inputs (`bool`, *optional*, defaults to `False`): leave a block's inputs in in/ for a next block
            with the same ones (only where no block can write there: see `prepare`).
    """

    def __init__(self, root: Path, uid: int | None, keep_inputs: bool = False) -> None:
        self.root = root
        self.uid = uid
        self.keep_inputs = keep_inputs
        self._empty_now: frozenset[str] = frozenset()  # folders this block's survey found empty
        self._inputs: tuple[tuple[str, bytes], ...] = ()  # what in/ holds, and how it looked when written
        self._inputs_stamp: tuple[tuple[int, ...], ...] = ()
        self._current = root / CURRENT
        # The three folders as strings, joined once: path arithmetic cost more than emptying them.
        self._dirs = {sub: str(self._current / sub) for sub in ("in", "out", "work")}
        os.chmod(root, 0o711)
        os.mkdir(self.current, 0o711)
        os.mkdir(self.current / "in", 0o755)
        for sub in ("out", "work"):
            os.mkdir(self.current / sub, 0o700)
        self._reset_modes()

    @property
    def current(self) -> Path:
        """The execution folder (the same for every block of this worker)."""
        return self._current

    def _reset_modes(self) -> None:
        for sub in ("out", "work"):
            if self.uid is not None:
                os.chown(self._dirs[sub], self.uid, self.uid)
            os.chmod(self._dirs[sub], 0o700)

    def prepare(self, inputs: list[tuple[str, bytes]], subdirs: tuple[str, ...] = ()) -> None:
        """Write the input images (read-only to the block) and create the output sub-folders it names.

        With ``keep_inputs``, the inputs of the previous block stay in in/ when this block has the same names
        and bytes and in/ looks as it was written (`_stamp_inputs`), the common case of a trajectory's
        later turns; otherwise in/ is emptied and written afresh. ``keep_inputs`` is for workers whose blocks
        cannot write to in/ (Landlock); the stamp alone would not do, as a file's times on tmpfs move in
        coarse ticks.
        """
        inputs_now = tuple(inputs)
        same = self.keep_inputs and inputs_now == self._inputs
        if not (same and self._stamp_inputs() == self._inputs_stamp):
            self._write_inputs(inputs_now)
        for sub in subdirs:
            target = self.current / "out" / sub
            os.makedirs(target, 0o700, exist_ok=True)
            if self.uid is not None:
                for part in Path(sub).parents:
                    os.chown(self.current / "out" / part, self.uid, self.uid)
                os.chown(target, self.uid, self.uid)

    def _write_inputs(self, inputs: tuple[tuple[str, bytes], ...]) -> None:
        self._inputs, self._inputs_stamp = (), ()
        _empty(self._dirs["in"])
        for name, data in inputs:
            fd = os.open(os.path.join(self._dirs["in"], name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        self._inputs = inputs
        self._inputs_stamp = self._stamp_inputs()

    def _stamp_inputs(self) -> tuple[tuple[int, ...], ...]:
        """How in/ and each input file look now: inode, change time (which no process can set back), size
        and mode; a block that could write there would change at least one of them."""
        paths = [self._dirs["in"], *(os.path.join(self._dirs["in"], name) for name, _ in self._inputs)]
        stamps = []
        for path in paths:
            try:
                info = os.lstat(path)
            except OSError:
                return ((-1,),)
            stamps.append((info.st_ino, info.st_ctime_ns, info.st_mtime_ns, info.st_size, info.st_mode))
        return tuple(stamps)

    def survey(self, max_files: int, max_bytes: int) -> tuple[str, dict[str, Path]]:
        """One bounded walk of what the block left in work/ and out/: why it is over the limits ("" when it is
        not), and the regular image files under out/ by path relative to it (links are never followed).

        The walk stops at the first entry over either limit, never follows a link, and fails closed (a tree it
        cannot read is a problem too). Disk use counts allocated blocks. It also notes which of the two
        folders it found empty, so that `clear` does not list them again.

        Args:
            max_files (`int`): most files, folders and links (``sandbox.max_files``).
            max_bytes (`int`): most bytes of disk (``sandbox.max_scratch_mb``).
        """
        count = used = 0
        found: dict[str, Path] = {}
        out = self._dirs["out"]
        empty = set()
        for top in (self._dirs["work"], out):
            stack = [top]
            while stack:
                folder = stack.pop()
                listing_images = folder.startswith(out) and len(found) < MAX_LISTED_FILES
                try:
                    with os.scandir(folder) as listing:
                        entries = 0
                        for entry in listing:
                            entries += 1
                            count += 1
                            used += entry.stat(follow_symlinks=False).st_blocks * 512
                            if count > max_files:
                                why = f"the block left more than {max_files} files and folders"
                                return f"{why} (sandbox.max_files)", {}
                            if used > max_bytes:
                                why = f"the block left more than {max_bytes >> 20} MB of files"
                                return f"{why} (sandbox.max_scratch_mb)", {}
                            if entry.is_dir(follow_symlinks=False):
                                stack.append(entry.path)
                            elif (
                                listing_images
                                and entry.is_file(follow_symlinks=False)
                                and entry.name.lower().endswith(IMAGE_EXTENSIONS)
                            ):
                                found[os.path.relpath(entry.path, out)] = Path(entry.path)
                except OSError as exc:
                    return f"the block left files the sandbox cannot inspect ({exc.strerror or exc})", {}
                if folder == top and not entries:
                    empty.add(os.path.basename(top))
        self._empty_now = frozenset(empty)
        return "", found

    def usage_problem(self, max_files: int, max_bytes: int) -> str:
        """Why what the block left in out/ and work/ is over the limits; "" when it is not (see `survey`)."""
        return self.survey(max_files, max_bytes)[0]

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
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
                return None
            # Asked for exactly its size: a read of max_bytes would first allocate (and fault in) max_bytes.
            data = os.read(fd, info.st_size)
            while len(data) < info.st_size and (more := os.read(fd, info.st_size - len(data))):
                data += more  # a short read (a signal); the writer is dead, so the size holds
            return data
        finally:
            os.close(fd)

    def clear(self) -> None:
        """Empty out/ and work/ and reset their modes, so nothing reaches the next block (they are not listed
        again when this block's `survey` found them empty: the block's process is dead, and the worker's next
        one runs nothing before its request). in/ is left to the next `prepare`, which keeps it only for the
        same inputs, untouched."""
        self._reset_modes()
        skip, self._empty_now = self._empty_now, frozenset()
        for sub in ("out", "work"):
            if sub not in skip:
                _empty(self._dirs[sub])

    def remove(self) -> None:
        """Delete the whole worker root."""
        remove_tree(self.root)


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
            remove_tree(entry)
            removed.append(entry)
        except PermissionError:
            continue  # alive, someone else's
    return removed
