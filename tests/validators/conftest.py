"""Shared fixtures: one strict-capable sandbox pool, good trajectories from the programmatic teacher."""

from __future__ import annotations

import pytest
from validators_corpus import good_record

from sandbox import Sandbox, SandboxConfig


@pytest.fixture(scope="session")
def sb():
    config = SandboxConfig(workers=4, timeout_s=10.0)
    with Sandbox(config) as pool:
        yield pool


@pytest.fixture(scope="session")
def good(sb):
    """Named good trajectories the corrupted corpus is built from (see ``validators_corpus.BASES``)."""
    from validators_corpus import BASES

    return {name: good_record(sb, family, predicate) for name, (family, predicate) in BASES.items()}
