"""Turn a worker's answer into what the model sees: Thyme's output capture (thyme.md section 3.5).

Pure functions over the printed text, the reported ``processed_path`` and the listing of the output
folder that the supervisor made itself. Deviations from the original, for stated reasons:

* images come back in print order, then ``processed_path`` if it was set but not printed;
* ``processed_path`` counts when the block assigned it (new or rebound), not only when it is new;
* printed text is returned whenever no output path was printed, even if the code mentions the output
  folder (the original then returned nothing and the model saw "No output captured.");
* error messages name the exception type (``Code execution failed: NameError: ...``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.layout import IMAGE_EXTENSIONS, VIRTUAL_OUTPUT_DIR

_TRAILING = ".,;:)]}>!?"
_THYME_TYPED_ERRORS = ("ImportError", "ModuleNotFoundError", "MemoryError", "SyntaxError", "IndentationError")


@dataclass(frozen=True)
class Selection:
    """Which output files a block returns, or why none.

    Args:
        names (`tuple[str, ...]`): paths relative to the output folder, in order.
        error (`str`): what went wrong with a printed or assigned path ("" if nothing).
    """

    names: tuple[str, ...] = ()
    error: str = ""


def relative_output(path: str, prefixes: tuple[str, ...]) -> str | None:
    """Map a path under one of the output-folder prefixes to its relative name, else None.

    Example:
        >>> relative_output(
        ...     "/mnt/data/temp_processed_images/a/../b.png", ("/mnt/data/temp_processed_images/",)
        ... )
        'b.png'
        >>> relative_output(
        ...     "/mnt/data/temp_processed_images/../x.png", ("/mnt/data/temp_processed_images/",)
        ... ) is None
        True
    """
    for prefix in prefixes:
        if path.startswith(prefix):
            rel = posixpath.normpath(path[len(prefix) :])
            return None if rel.startswith("..") or rel == "." else rel
    return None


def printed_outputs(stdout: str, prefixes: tuple[str, ...]) -> list[str]:
    """Image paths under the output folder that the block printed, as relative names, in order, deduplicated.

    Example:
        >>> printed_outputs("saved /mnt/data/temp_processed_images/c_1.png, done", (VIRTUAL_OUTPUT_DIR,))
        ['c_1.png']
    """
    hits: list[tuple[int, str]] = []
    for prefix in prefixes:
        if prefix not in stdout:  # the common case, without compiling the pattern
            continue
        for match in re.finditer(re.escape(prefix) + r"[^\s'\"]*", stdout):
            token = match.group(0).rstrip(_TRAILING)
            rel = relative_output(token, prefixes) if token.lower().endswith(IMAGE_EXTENSIONS) else None
            if rel is not None:
                hits.append((match.start(), rel))
    return list(dict.fromkeys(rel for _, rel in sorted(hits)))


def select_images(
    stdout: str, processed_path: str | None, prefixes: tuple[str, ...], files: Mapping[str, object]
) -> Selection:
    """Thyme's capture rules over the printed text, ``processed_path`` and the output listing.

    Args:
        stdout (`str`): what the block printed.
        processed_path (`str | None`): the ``processed_path`` the block assigned, if any.
        prefixes (`tuple[str, ...]`): the output folder's spellings (virtual and real).
        files (`Mapping[str, object]`): image files that exist under the output folder, by relative name.

    Example:
        >>> select_images("/mnt/data/temp_processed_images/a.png", None, (VIRTUAL_OUTPUT_DIR,), {"a.png": 1})
        Selection(names=('a.png',), error='')
    """
    printed = printed_outputs(stdout, prefixes)
    names = [rel for rel in printed if rel in files]
    error = ""
    if processed_path is not None:
        rel = relative_output(processed_path, prefixes)
        if rel is None:
            error = f"'processed_path' is not a valid file path in {VIRTUAL_OUTPUT_DIR}"
        elif rel in files:
            names += [] if rel in names else [rel]
        else:
            error = f"'processed_path' variable set to '{processed_path}', but file does not exist."
    if names:
        return Selection(tuple(names))
    if files and (len(printed) == len(files) or (not printed and _bare_images(stdout) == len(files))):
        return Selection(tuple(sorted(files)))  # printed names differ from the files, but counts agree
    if printed and not error:
        error = f"printed path '{VIRTUAL_OUTPUT_DIR}{printed[0]}' does not exist."
    return Selection((), error)


def _bare_images(stdout: str) -> int:
    """How many printed words name an image file, whatever their folder."""
    return sum(t.rstrip(_TRAILING).lower().endswith(IMAGE_EXTENSIONS) for t in stdout.split())


def error_feedback(item_id: str, status: str, error_type: str, message: str) -> str:
    """The "Sandbox for ..." text the model sees when a block did not succeed.

    Example:
        >>> error_feedback("q1", "error", "NameError", "name 'x' is not defined")
        "Sandbox for q1: Code execution failed: NameError: name 'x' is not defined"
        >>> error_feedback("q1", "error", "SyntaxError", "invalid syntax (block.py, line 1)")
        'Sandbox for q1: Code execution failed due to SyntaxError: invalid syntax (block.py, line 1)'
    """
    head = f"Sandbox for {item_id}: "
    if status == "timeout" or error_type == "OutputError":
        return head + message
    if status == "output-limit":
        return head + f"Output exceeded the limit; execution stopped. {message}".strip()
    if status == "refused":
        return head + f"Code execution refused: {message}"
    if error_type in _THYME_TYPED_ERRORS or status == "memory":
        return head + f"Code execution failed due to {error_type or 'MemoryError'}: {message}"
    if not error_type:
        return head + f"Code execution failed: {message}"
    return head + f"Code execution failed: {error_type}: {message}"


def success_feedback(item_id: str, image_count: int, stdout: str) -> str:
    """What the model sees after a successful block: one ``<image>`` per image, else the printed text.

    Example:
        >>> success_feedback("q1", 2, "x")
        '<image><image>'
        >>> success_feedback("q1", 0, "  42\\n")
        '42'
        >>> success_feedback("q1", 0, "")
        'Sandbox for q1: No output captured.'
    """
    if image_count:
        return "<image>" * image_count
    text = stdout.strip()
    return text if text else f"Sandbox for {item_id}: No output captured."
