"""Targeted source edits driven by the AST, so fix-ups change only the spans they mean to change."""

from __future__ import annotations

import ast
import io
import threading
from functools import lru_cache

_PARSE_LOCK = threading.Lock()
"""CPython 3.11.7's ``ast.parse`` is not thread-safe: concurrent calls share the AST converter's recursion
counter and fail with "SystemError: AST constructor recursion depth mismatch" (seen with sessions on
threads)."""


@lru_cache(maxsize=64)
def parse_or_none(code: str) -> ast.Module | None:
    """Parse once per distinct code text (the fix-up chain and the routing ask repeatedly); None if it does
    not parse. Every parse in the supervisor goes through here, one at a time (see ``_PARSE_LOCK``).

    The cached trees are shared, so callers must treat them as read-only.
    """
    try:
        with _PARSE_LOCK:
            return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


@lru_cache(maxsize=64)
def walk_nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of ``tree`` (``ast.walk`` order), walked once per tree: the fix-up chain and the routing
    each look at all nodes of the same (cached, shared, read-only) tree of a block, so they share one walk."""
    return tuple(ast.walk(tree))


def parses(code: str) -> bool:
    """Whether the code is valid Python."""
    return parse_or_none(code) is not None


def edit_spans(code: str, edits: list[tuple[ast.expr, str]]) -> str:
    """Replace the exact source span of each node by its new text.

    AST column offsets count UTF-8 bytes and lines end the way the tokenizer sees them (``\\n``,
    ``\\r\\n`` or ``\\r``; not ``str.splitlines``'s wider set), so both are converted carefully.

    Args:
        code (`str`): the source the nodes were parsed from.
        edits (`list[tuple[ast.expr, str]]`): (node, replacement text) pairs; spans must not overlap.

    Example:
        >>> tree = ast.parse("x = 'é' + 1")
        >>> edit_spans("x = 'é' + 1", [(tree.body[0].value.right, "2")])
        "x = 'é' + 2"
    """
    if not edits:
        return code
    lines = io.StringIO(code, newline="").readlines()
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int | None, col: int | None) -> int:
        # ast types end positions as optional (hand-built nodes lack them); parsed nodes always carry them
        assert lineno is not None and col is not None
        return starts[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    spans = sorted(
        ((offset(n.lineno, n.col_offset), offset(n.end_lineno, n.end_col_offset), text) for n, text in edits),
        reverse=True,
    )
    for start, end, text in spans:
        code = code[:start] + text + code[end:]
    return code
