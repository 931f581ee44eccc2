"""The sandbox tests' pool settings, shared by the fixtures of several modules."""

from __future__ import annotations

from sandbox import SandboxConfig


def pool_config(**overrides: object) -> SandboxConfig:
    """The tests' pool: full isolation with short limits (``overrides`` replace fields)."""
    limits = dict(workers=2, timeout_s=2.0, memory_mb=512, output_limit_bytes=64 << 10, file_size_mb=16)
    return SandboxConfig(**{**limits, **overrides})
