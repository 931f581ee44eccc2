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

from sandbox.layout import VIRTUAL_OUTPUT_DIR

BOX_TARGET_NAMES = frozenset({"x1", "y1", "x2", "y2", "left", "top", "right", "bottom"})
BOX_VARIABLE_NAMES = frozenset(
    {
        "crop_box", "bbox", "box", "coordinates", "coords", "crop_coords",
        "left_crop_coords", "right_crop_coords", "top_crop_coords", "bottom_crop_coords",
    }
)  # fmt: skip
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


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


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
    if _parses(code):
        return code
    candidate = textwrap.dedent(code).strip("\n")
    if _parses(candidate):
        return candidate
    lines = code.strip("\n").split("\n")
    body = [i for i, line in enumerate(lines) if line.strip()]
    if len(body) < 2:
        return code
    first, second = lines[body[0]], lines[body[1]]
    indent = second[: len(second) - len(second.lstrip(" "))]
    lines[body[0]] = indent + first.lstrip(" ")
    candidate = textwrap.dedent("\n".join(lines)).strip("\n")
    return candidate if _parses(candidate) else code


def _edit(code: str, edits: list[tuple[ast.AST, str]]) -> str:
    """Replace the exact source span of each node by its new text (AST offsets are UTF-8 bytes)."""
    if not edits:
        return code
    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col: int) -> int:
        return starts[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    spans = sorted(
        ((offset(n.lineno, n.col_offset), offset(n.end_lineno, n.end_col_offset), text) for n, text in edits),
        reverse=True,
    )
    for start, end, text in spans:
        code = code[:start] + text + code[end:]
    return code


def _tree(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


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
    tree = _tree(code)
    if tree is None:
        return code
    keep = {image_path, *input_paths}
    edits: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if not (isinstance(target, ast.Name) and target.id == "image_path"):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            if value.value not in keep and not value.value.startswith(VIRTUAL_OUTPUT_DIR):
                edits.append((value, repr(image_path)))
    return _edit(code, edits)


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _clamp_axis(a: float, b: float, size: int, min_side: int) -> tuple[int, int]:
    lo, hi = min(a, b), max(a, b)
    lo, hi = min(max(lo, 0), size - 1), min(max(hi, 0), size)
    if lo >= hi:
        lo = max(0, hi - 1)
        if lo >= hi:
            hi = min(size, lo + 1)
    if hi - lo < min_side:
        if size < min_side:
            lo, hi = 0, size
        else:
            hi = lo + min_side
            if hi > size:
                lo, hi = size - min_side, size
    return round(lo), round(hi)


def clamp_box(box: tuple[float, float, float, float], size: tuple[int, int], min_side: int = 64) -> tuple[int, ...]:
    """Order, clip and widen a crop box (x1, y1, x2, y2) so it lies inside a (width, height) image.

    Args:
        box (`tuple`): x1, y1, x2, y2 in pixels, in any order.
        size (`tuple[int, int]`): the image's width and height.
        min_side (`int`, *optional*, defaults to `64`): minimum width and height of the result.

    Example:
        >>> clamp_box((300, 50, -10, 40), (200, 100))
        (0, 36, 200, 100)
        >>> clamp_box((10, 10, 20, 20), (50, 50))
        (0, 0, 50, 50)
    """
    x1, x2 = _clamp_axis(box[0], box[2], size[0], min_side)
    y1, y2 = _clamp_axis(box[1], box[3], size[1], min_side)
    return (x1, y1, x2, y2)


def _box_edits(elts: list[ast.expr], size: tuple[int, int], min_side: int) -> list[tuple[ast.AST, str]]:
    values = [_number(e) for e in elts]
    if len(values) != 4 or any(v is None for v in values):
        return []
    clamped = clamp_box(tuple(values), size, min_side)  # type: ignore[arg-type]
    if list(clamped) == values:
        return []
    return [(e, str(v)) for e, v, old in zip(elts, clamped, values, strict=True) if v != old]


def _is_box_assignment(node: ast.Assign) -> list[ast.expr] | None:
    if len(node.targets) != 1 or not isinstance(node.value, ast.Tuple | ast.List):
        return None
    target = node.targets[0]
    if isinstance(target, ast.Name) and target.id in BOX_VARIABLE_NAMES:
        return node.value.elts
    if isinstance(target, ast.Tuple) and len(target.elts) == 4:
        names = [t.id.lower() for t in target.elts if isinstance(t, ast.Name)]
        if len(names) == 4 and BOX_TARGET_NAMES.intersection(names):
            return node.value.elts
    return None


def clamp_crop_boxes(code: str, size: tuple[int, int] | None, min_side: int = 64) -> str:
    """Clamp literal crop boxes: ``x1, y1, x2, y2 = ...``, ``bbox = (...)`` and ``.crop((...))``.

    Only boxes made of four numeric literals are touched; computed boxes are left alone.

    Args:
        code (`str`): the code block.
        size (`tuple[int, int] | None`): (width, height) of the input; None disables the fix.
        min_side (`int`, *optional*, defaults to `64`): minimum side of a clamped box.

    Example:
        >>> clamp_crop_boxes("im.crop((0, 0, 5000, 90))", (640, 480))
        'im.crop((0, 0, 640, 90))'
    """
    tree = _tree(code) if size else None
    if tree is None:
        return code
    edits: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        elts = None
        if isinstance(node, ast.Assign):
            elts = _is_box_assignment(node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "crop"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Tuple | ast.List)
        ):
            elts = node.args[0].elts
        if elts is not None:
            edits.extend(_box_edits(elts, size, min_side))
    return _edit(code, edits)


def _slice_bounds(node: ast.Slice) -> tuple[float, float] | None:
    if node.step is not None or node.lower is None or node.upper is None:
        return None
    lower, upper = _number(node.lower), _number(node.upper)
    return None if lower is None or upper is None else (lower, upper)


def clamp_numpy_slices(code: str, size: tuple[int, int] | None, min_side: int = 64) -> str:
    """Clamp ``img[y1:y2, x1:x2]`` slices with literal bounds on variables whose name mentions an image.

    Args:
        code (`str`): the code block.
        size (`tuple[int, int] | None`): (width, height) of the input; None disables the fix.
        min_side (`int`, *optional*, defaults to `64`): minimum side of a clamped crop.

    Example:
        >>> clamp_numpy_slices("crop = image[-20:90, 10:9999]", (640, 480))
        'crop = image[0:90, 10:640]'
    """
    tree = _tree(code) if size else None
    if tree is None:
        return code
    edits: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            continue
        name = node.value.id.lower()
        if not ("img" in name or "image" in name) or not isinstance(node.slice, ast.Tuple):
            continue
        dims = node.slice.elts
        if len(dims) < 2 or not all(isinstance(d, ast.Slice) for d in dims[:2]):
            continue
        ys, xs = _slice_bounds(dims[0]), _slice_bounds(dims[1])  # type: ignore[arg-type]
        if ys is None or xs is None:
            continue
        x1, y1, x2, y2 = clamp_box((xs[0], ys[0], xs[1], ys[1]), size, min_side)
        for dim, new in ((dims[0], (y1, y2)), (dims[1], (x1, x2))):
            if _slice_bounds(dim) != new:  # type: ignore[arg-type]
                edits += [(dim.lower, str(new[0])), (dim.upper, str(new[1]))]  # type: ignore[union-attr]
    return _edit(code, edits)


def fix_cv_aliases(code: str) -> str:
    """Rename attribute access on bare ``cv``/``cv3``/``cv4``/``CV`` to ``cv2`` (``cv.imread`` -> ``cv2.imread``).

    Args:
        code (`str`): the code block.

    Example:
        >>> fix_cv_aliases("img = cv.imread(p)  # cv.imread")
        'img = cv2.imread(p)  # cv.imread'
    """
    tree = _tree(code)
    if tree is None:
        return code
    edits: list[tuple[ast.AST, str]] = [
        (node.value, "cv2")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in CV_ALIASES
    ]
    return _edit(code, edits)


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
    for node in ast.walk(tree):
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
    tree = _tree(code)
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
    """Replace the virtual output folder by a real one (only needed where no mount namespace maps it).

    Args:
        code (`str`): the code block.
        real_dir (`str`): the real folder, with a trailing slash.

    Example:
        >>> remap_output_dir("'/mnt/data/temp_processed_images/a.png'", "/s/out/")
        "'/s/out/a.png'"
    """
    return code.replace(VIRTUAL_OUTPUT_DIR, real_dir)
