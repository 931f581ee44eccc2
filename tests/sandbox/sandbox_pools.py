"""The sandbox tests' pool settings, shared by the fixtures of several modules.

The containment modules (``test_escape.py``, ``test_seccomp.py``, ``test_memory_ceiling.py``) also run a
second time inside ``test_unprivileged.py``, as uid 65534, once per isolation level: that inner run sets
`UNPRIVILEGED_ENV` to the level, and `levels` then keeps only the pools of that level (and of the default
routing), so every probe of those modules runs as an unprivileged supervisor at both levels.
"""

from __future__ import annotations

import os

from sandbox import SandboxConfig

LEVELS: dict[str, dict[str, object]] = {
    "full": {},
    "reduced": {"isolation": "reduced", "bwrap_path": "/nonexistent/bwrap"},
}
"""The settings that give each isolation level (the reduced one by hiding bubblewrap)."""
UNPRIVILEGED_ENV = "THYME_SANDBOX_UNPRIVILEGED_LEVEL"
UNPRIVILEGED_LEVEL = os.environ.get(UNPRIVILEGED_ENV, "")
"""The level of ``test_unprivileged.py``'s inner run ("" in an ordinary run)."""


def pool_config(**overrides: object) -> SandboxConfig:
    """The tests' pool: full isolation with short limits (``overrides`` replace fields)."""
    limits = dict(workers=2, timeout_s=2.0, memory_mb=512, output_limit_bytes=64 << 10, file_size_mb=16)
    return SandboxConfig(**{**limits, **overrides})


def levels(variants: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """The pool variants a module runs: all of ``variants`` (named ``<level>`` or ``<level>-<routing>``), or
    in the unprivileged inner run only those of its level with the default routing (``<level>`` or
    ``<level>-routed``)."""
    if not UNPRIVILEGED_LEVEL:
        return variants
    keep = {UNPRIVILEGED_LEVEL, f"{UNPRIVILEGED_LEVEL}-routed"}
    return {name: settings for name, settings in variants.items() if name in keep}
