"""Secure, fast execution of model-written Python for code-augmented visual reasoning (Thyme's sandbox).

Public API: `Sandbox` (the worker pool, with `Sandbox.run` and `Sandbox.session`), `SandboxConfig`,
`ExecResult` and `ExecStatus`.

The names are imported on first use (PEP 562), so that the worker process (``python -m sandbox.worker``),
which imports this package first, loads only the modules it needs: every module it holds is memory that each
block's fork copies and each block's exit frees (see README, *Per-block cost*).
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: the worker imports this package, and needs no typing module
if TYPE_CHECKING:
    from sandbox.config import SandboxConfig
    from sandbox.isolation import SandboxUnavailableError
    from sandbox.pool import Sandbox
    from sandbox.result import ExecResult, ExecStatus
    from sandbox.session import Session

__all__ = ["ExecResult", "ExecStatus", "Sandbox", "SandboxConfig", "SandboxUnavailableError", "Session"]
_HOMES = {
    "ExecResult": "sandbox.result",
    "ExecStatus": "sandbox.result",
    "Sandbox": "sandbox.pool",
    "SandboxConfig": "sandbox.config",
    "SandboxUnavailableError": "sandbox.isolation",
    "Session": "sandbox.session",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
