"""Secure, fast execution of model-written Python for code-augmented visual reasoning (Thyme's sandbox).

Public API: `Sandbox` (the worker pool, with `Sandbox.run` and `Sandbox.session`), `SandboxConfig`,
`ExecResult` and `ExecStatus`.
"""

from sandbox.config import SandboxConfig
from sandbox.isolation import SandboxUnavailableError
from sandbox.pool import Sandbox
from sandbox.result import ExecResult, ExecStatus
from sandbox.session import Session

__all__ = ["ExecResult", "ExecStatus", "Sandbox", "SandboxConfig", "SandboxUnavailableError", "Session"]
