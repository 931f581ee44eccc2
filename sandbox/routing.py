"""Which zygote a block needs: the one with the image libraries preloaded, or a light one without them.

A block is a fork of its zygote, and the fork, its copy-on-write faults and its exit cost grow with
the zygote's memory: with Pillow, numpy and cv2 loaded they cost more than a trivial block itself.
Blocks that never touch those libraries (computation, string work, plain prints) therefore fork from
a light zygote. The choice is made from the AST and only ever changes speed, never results: any
name that could reach a preloaded module, any import outside a short list of stdlib modules both
zygotes hold, any dynamic access (``eval``, ``globals()``, ``__import__``, ``dir()`` ...) and any
introspection of the interpreter (``os.sys``, ``.__subclasses__()``, any dunder attribute) sends the
block to the full zygote. Code that does not parse goes light: it fails the same way in both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from sandbox.source_edit import parse_or_none, walk_nodes

PRESET_NAMES = frozenset({"np", "numpy", "cv2", "Image", "PIL", "UnidentifiedImageError"})
"""Names the full zygote's namespace binds to preloaded modules (child._namespace)."""

DYNAMIC_NAMES = frozenset({
    "__import__", "eval", "exec", "compile", "globals", "locals", "vars", "dir", "getattr", "__builtins__",
    "breakpoint", "help",
})  # fmt: skip
"""Builtins that can reach a module or the namespace by a string, out of the AST's sight."""

INTROSPECTION_ATTRIBUTES = frozenset({"sys", "modules"})
"""Attributes (besides dunders) through which a block could see which modules its zygote holds."""

LIGHT_IMPORTS = frozenset({
    "math", "cmath", "random", "re", "json", "string", "time", "itertools", "collections", "functools",
    "operator", "fractions", "decimal", "statistics", "datetime", "heapq", "bisect", "copy", "textwrap", "os",
})  # fmt: skip
"""Stdlib modules a block may import and still fork from the light zygote (both zygotes behave alike)."""


def needs_preload(cells: Iterable[str]) -> bool:
    """Whether any of ``cells`` (a session's replayed cells and the new block) may use a preloaded module.

    Example:
        >>> needs_preload(["print(3 * 7)"]), needs_preload(["import math\\nprint(math.pi)"])
        (False, False)
        >>> needs_preload(["x = 2", "img = Image.open(image_path)"]), needs_preload(["__import__('numpy')"])
        (True, True)
    """
    return any(_uses_preload(cell) for cell in cells)


def _uses_preload(code: str) -> bool:
    tree = parse_or_none(code)
    if tree is None:
        return False
    for node in walk_nodes(tree):
        if isinstance(node, ast.Name) and (node.id in PRESET_NAMES or node.id in DYNAMIC_NAMES):
            return True
        if isinstance(node, ast.Attribute) and (
            node.attr.startswith("__") or node.attr in INTROSPECTION_ATTRIBUTES
        ):
            return True
        if isinstance(node, ast.Import) and any(_heavy_module(alias.name) for alias in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.level or _heavy_module(node.module or "")):
            return True
    return False


def _heavy_module(name: str) -> bool:
    return name.split(".", 1)[0] not in LIGHT_IMPORTS
