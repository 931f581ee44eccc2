"""Thyme's code fix-ups (thyme.md section 3.3), as pure rewrites run in the trusted parent.

The original regenerates the whole program with ``ast.unparse`` after any change, which drops the
model's comments. Here every fix-up is a targeted edit of the exact source span that the AST points at,
so the code as run differs from the model's code only where a fix-up applied.

Deliberate deviations from the original, each for a stated reason:

* no regex "danger scan": the OS-level sandbox is the boundary, and the scan rejected valid code
  (``re.compile(``, ``x.eval(``) while letting ``os.system`` through;
* no ``autopep8`` pass (not a dependency); indentation is repaired only when the code would not parse;
* numpy-slice crop clamping works on Python 3.9+ (it never fired in the original);
* precision widening only widens (``:.2f}`` becomes ``:.8f}``; ``:.9f}`` is left alone).
"""

from __future__ import annotations

import ast
import posixpath
import re
import textwrap
from dataclasses import dataclass

from sandbox.clamp import clamp_box, clamp_crop_boxes, clamp_numpy_slices
from sandbox.layout import VIRTUAL_OUTPUT_DIR
from sandbox.source_edit import edit_spans, parse_or_none, parses, walk_nodes

CV_ALIASES = frozenset({"cv", "cv3", "cv4", "CV"})
PRECISION_RE = re.compile(r":\.([0-7])f\}")
MAX_OUTPUT_SUBDIRS = 16


@dataclass(frozen=True)
class FixContext:
    """What the fix-ups need to know about the block's environment.

    Args:
        image_path (`str`): the path, as seen inside the sandbox, of the first input image.
        input_paths (`tuple[str, ...]`): every input image path as seen inside the sandbox.
        image_size (`tuple[int, int] | None`): (width, height) of the first input, or None when unknown
            (crop clamping is then skipped, as in the original).
        min_crop_side (`int`, *optional*, defaults to `64`): minimum side of a clamped crop.
    """

    image_path: str
    input_paths: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    min_crop_side: int = 64


@dataclass(frozen=True)
class FixedCode:
    """The rewritten code plus what was done to it.

    Args:
        code (`str`): the code to run.
        fixes (`tuple[str, ...]`): names of the fix-ups that changed something, in application order.
        output_subdirs (`tuple[str, ...]`): sub-folders of the virtual output folder the code writes to,
            which the supervisor creates before the run (Thyme created them too).
    """

    code: str
    fixes: tuple[str, ...] = ()
    output_subdirs: tuple[str, ...] = ()


def apply_fixups(code: str, ctx: FixContext) -> FixedCode:
    """Run the whole fix-up chain in Thyme's order and record each fix that changed the code.

    Args:
        code (`str`): the model's code block.
        ctx (`FixContext`): the block's environment.

    Example:
        >>> ctx = FixContext(image_path="/mnt/data/input/a.png", image_size=(100, 80))
        >>> out = apply_fixups("x1, y1, x2, y2 = -5, 0, 500, 10\\nprint(cv.__name__)", ctx)
        >>> out.code
        'x1, y1, x2, y2 = 0, 0, 100, 64\\nprint(cv2.__name__)'
        >>> out.fixes
        ('fix_crop_clamp', 'fix_cv_alias')
    """
    steps = [
        ("fix_indent", repair_indentation),
        ("fix_image_path", lambda c: fix_image_path(c, ctx.image_path, ctx.input_paths)),
        ("fix_crop_clamp", lambda c: clamp_crop_boxes(c, ctx.image_size, ctx.min_crop_side)),
        ("fix_slice_clamp", lambda c: clamp_numpy_slices(c, ctx.image_size, ctx.min_crop_side)),
        ("fix_cv_alias", fix_cv_aliases),
        ("fix_precision", widen_precision),
    ]
    fixes = []
    for name, step in steps:
        new = step(code)
        if new != code:
            fixes.append(name)
            code = new
    subdirs = output_subdirs(code)
    if subdirs:
        fixes.append("fix_output_subdirs")
    return FixedCode(code=code, fixes=tuple(fixes), output_subdirs=subdirs)


def repair_indentation(code: str) -> str:
    """Fix a block whose lines all carry extra indentation, or whose first line lost its indentation.

    Applied only when the code does not parse as written and the repair makes it parse, so correct code
    is never touched (the original's unconditional first-line rule broke ``for`` loops).

    Args:
        code (`str`): the model's code block.

    Example:
        >>> repair_indentation("import os\\n    x = 1\\n    print(x)")
        'import os\\nx = 1\\nprint(x)'
        >>> repair_indentation("for i in range(2):\\n    print(i)")
        'for i in range(2):\\n    print(i)'
    """
    if parses(code):
        return code
    candidate = textwrap.dedent(code).strip("\n")
    if parses(candidate):
        return candidate
    lines = code.strip("\n").split("\n")
    body = [i for i, line in enumerate(lines) if line.strip()]
    if len(body) < 2:
        return code
    first, second = lines[body[0]], lines[body[1]]
    indent = second[: len(second) - len(second.lstrip(" "))]
    lines[body[0]] = indent + first.lstrip(" ")
    candidate = textwrap.dedent("\n".join(lines)).strip("\n")
    return candidate if parses(candidate) else code


def fix_image_path(code: str, image_path: str, input_paths: tuple[str, ...] = ()) -> str:
    """Point ``image_path = "<literal>"`` at the real input when the literal names no known file.

    Literals that name an input image or a file under the virtual output folder (an earlier block's
    result) are kept.

    Args:
        code (`str`): the code block.
        image_path (`str`): the real path of the first input image inside the sandbox.
        input_paths (`tuple[str, ...]`, *optional*): all input paths, which are left as they are.

    Example:
        >>> fix_image_path('image_path = "/home/u/cat.jpg"  # the photo', "/mnt/data/input/cat.jpg")
        "image_path = '/mnt/data/input/cat.jpg'  # the photo"
    """
    tree = parse_or_none(code)
    if tree is None:
        return code
    keep = {image_path, *input_paths}
    edits: list[tuple[ast.expr, str]] = []
    for node in walk_nodes(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if not (isinstance(target, ast.Name) and target.id == "image_path"):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if value.value not in keep and not value.value.startswith(VIRTUAL_OUTPUT_DIR):
                edits.append((value, repr(image_path)))
    return edit_spans(code, edits)


def fix_cv_aliases(code: str) -> str:
    """Rename attribute access on bare ``cv``/``cv3``/``cv4``/``CV`` to ``cv2`` (``cv.imread`` ->
    ``cv2.imread``).

    Args:
        code (`str`): the code block.

    Example:
        >>> fix_cv_aliases("img = cv.imread(p)  # cv.imread")
        'img = cv2.imread(p)  # cv.imread'
    """
    tree = parse_or_none(code)
    if tree is None:
        return code
    edits: list[tuple[ast.expr, str]] = [
        (node.value, "cv2")
        for node in walk_nodes(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in CV_ALIASES
    ]
    return edit_spans(code, edits)


def widen_precision(code: str) -> str:
    """Rewrite format specs ``:.Nf}`` with one digit N < 8 to ``:.8f}`` so the model sees precise numbers.

    Args:
        code (`str`): the code block.

    Example:
        >>> widen_precision('print(f"{ratio:.2f} and {x:.9f}")')
        'print(f"{ratio:.8f} and {x:.9f}")'
    """
    return PRECISION_RE.sub(":.8f}", code)


def _literal_prefixes(tree: ast.AST) -> list[str]:
    found = []
    for node in walk_nodes(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = str(node.values[0].value)
            found.append(head[: head.rfind("/") + 1] if len(node.values) > 1 else head)
    return found


def output_subdirs(code: str) -> tuple[str, ...]:
    """Sub-folders of the virtual output folder that string literals in the code write into.

    Args:
        code (`str`): the code block.

    Example:
        >>> output_subdirs('p = f"/mnt/data/temp_processed_images/crops/{n}.png"')
        ('crops',)
    """
    tree = parse_or_none(code)
    if tree is None:
        return ()
    dirs: list[str] = []
    for text in _literal_prefixes(tree):
        if not text.startswith(VIRTUAL_OUTPUT_DIR):
            continue
        sub = posixpath.dirname(text[len(VIRTUAL_OUTPUT_DIR) :])
        norm = posixpath.normpath(sub) if sub else ""
        if norm and norm != "." and not norm.startswith(("..", "/")) and norm not in dirs:
            dirs.append(norm)
    return tuple(dirs[:MAX_OUTPUT_SUBDIRS])


def remap_output_dir(code: str, real_dir: str) -> str:
    """Replace the virtual output folder by a real one (only needed where no mount namespace maps it), with or
    without its trailing slash, but never inside a longer name.

    Args:
        code (`str`): the code block.
        real_dir (`str`): the real folder, with a trailing slash.

    Example:
        >>> remap_output_dir("'/mnt/data/temp_processed_images/a.png'", "/s/out/")
        "'/s/out/a.png'"
        >>> remap_output_dir("os.listdir('/mnt/data/temp_processed_images')", "/s/out/")
        "os.listdir('/s/out')"
        >>> remap_output_dir("'/mnt/data/temp_processed_images2/a.png'", "/s/out/")
        "'/mnt/data/temp_processed_images2/a.png'"
    """
    return remap_folder(code, VIRTUAL_OUTPUT_DIR, real_dir)


def remap_folder(code: str, virtual_dir: str, real_dir: str) -> str:
    """Replace the folder ``virtual_dir`` by ``real_dir`` (both with a trailing slash) wherever the code names
    it or a path under it, with or without the slash, but never inside a longer name."""
    pattern = re.escape(virtual_dir.rstrip("/")) + r"(?![\w.\-])"
    return re.sub(pattern, lambda _: real_dir.rstrip("/"), code)


__all__ = [
    "FixContext", "FixedCode", "apply_fixups", "clamp_box", "clamp_crop_boxes", "clamp_numpy_slices",
    "fix_cv_aliases", "fix_image_path", "output_subdirs", "remap_folder", "remap_output_dir",
    "repair_indentation", "widen_precision",
]  # fmt: skip
