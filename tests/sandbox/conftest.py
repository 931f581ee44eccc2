"""Shared fixtures: one sandbox pool per test module, a test image, host-side canaries."""

from __future__ import annotations

import io
import os

import pytest
from sandbox_pools import pool_config

from sandbox import Sandbox

HOST_CANARY = "thyme-sandbox-canary-7d1f"
os.environ.setdefault("THYME_SANDBOX_TEST_CANARY", HOST_CANARY)  # must never be visible inside the sandbox


def make_png(width: int = 320, height: int = 240) -> bytes:
    """A small gradient PNG for image blocks."""
    from PIL import Image

    image = Image.new("RGB", (width, height))
    image.putdata([(x % 256, y % 256, (x + y) % 256) for y in range(height) for x in range(width)])
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def host_canary() -> str:
    return HOST_CANARY


@pytest.fixture(scope="module")
def png() -> bytes:
    return make_png()


@pytest.fixture(scope="module")
def sb():
    """A full-isolation pool with short limits, started once per module."""
    with Sandbox(pool_config()) as pool:
        yield pool
