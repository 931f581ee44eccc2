"""Crop-box clamping (thyme.md section 3.3, step 6): literal boxes and numpy slices kept inside the image.

Only boxes made of numeric literals are touched; computed boxes are left alone, as in the original. The
numpy-slice case works on Python 3.9+ (the original's ``ast.Index`` guard made it dead code).
"""

from __future__ import annotations

import ast

from sandbox.source_edit import edit_spans, parse_or_none, walk_nodes

BOX_TARGET_NAMES = frozenset({"x1", "y1", "x2", "y2", "left", "top", "right", "bottom"})
BOX_VARIABLE_NAMES = frozenset(
    {
        "crop_box", "bbox", "box", "coordinates", "coords", "crop_coords",
        "left_crop_coords", "right_crop_coords", "top_crop_coords", "bottom_crop_coords",
    }
)  # fmt: skip


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    # type() keeps bools out; the isinstance() after it only tells mypy what type() already established.
    if (
        isinstance(node, ast.Constant)
        and type(node.value) in (int, float)
        and isinstance(node.value, int | float)
    ):
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


def clamp_box(
    box: tuple[float, float, float, float], size: tuple[int, int], min_side: int = 64
) -> tuple[int, ...]:
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


def _box_edits(elts: list[ast.expr], size: tuple[int, int], min_side: int) -> list[tuple[ast.expr, str]]:
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
    tree = parse_or_none(code) if size else None
    if tree is None or size is None:  # size is never None when tree is not: this only narrows its type
        return code
    edits: list[tuple[ast.expr, str]] = []
    for node in walk_nodes(tree):
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
    return edit_spans(code, edits)


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
    tree = parse_or_none(code) if size else None
    if tree is None or size is None:  # size is never None when tree is not: this only narrows its type
        return code
    edits: list[tuple[ast.expr, str]] = []
    for node in walk_nodes(tree):
        if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
            continue
        name = node.value.id.lower()
        if not ("img" in name or "image" in name) or not isinstance(node.slice, ast.Tuple):
            continue
        dims = node.slice.elts
        if len(dims) < 2:
            continue
        y_dim, x_dim = dims[0], dims[1]
        if not (isinstance(y_dim, ast.Slice) and isinstance(x_dim, ast.Slice)):
            continue
        ys, xs = _slice_bounds(y_dim), _slice_bounds(x_dim)
        if ys is None or xs is None:
            continue
        x1, y1, x2, y2 = clamp_box((xs[0], ys[0], xs[1], ys[1]), size, min_side)
        for dim, new in ((y_dim, (y1, y2)), (x_dim, (x1, x2))):
            if _slice_bounds(dim) != new:
                # _slice_bounds(dim) was not None above, so both bounds are set: this only narrows their type
                assert dim.lower is not None and dim.upper is not None
                edits += [(dim.lower, str(new[0])), (dim.upper, str(new[1]))]
    return edit_spans(code, edits)
