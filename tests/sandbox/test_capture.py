"""Unit tests of the output capture rules (thyme.md section 3.5) and of the config checks."""

from __future__ import annotations

import doctest

import pytest

from sandbox import SandboxConfig, capture
from sandbox.capture import Selection, error_feedback, select_images

V = "/mnt/data/temp_processed_images/"
PREFIXES = (V, "/scratch/cur/out/")


def test_doctests() -> None:
    assert doctest.testmod(capture).failed == 0


def test_print_order_dedup_and_real_prefix() -> None:
    out = f"{V}b.png\n/scratch/cur/out/a.png {V}b.png, {V}missing.png"
    assert select_images(out, None, PREFIXES, {"a.png": 1, "b.png": 1}) == Selection(("b.png", "a.png"))


def test_processed_path_rules() -> None:
    files = {"p.png": 1}
    assert select_images("", f"{V}p.png", PREFIXES, files) == Selection(("p.png",))
    assert "does not exist" in select_images("", f"{V}q.png", PREFIXES, files).error
    assert "not a valid file path" in select_images("", "/etc/passwd", PREFIXES, files).error


def test_listing_fallback_when_counts_agree() -> None:
    assert select_images("saved crop_1.png", None, PREFIXES, {"crop_9.png": 1}).names == ("crop_9.png",)
    assert select_images("no paths here", None, PREFIXES, {"x.png": 1, "y.png": 1}).names == ()


def test_traversal_is_never_an_output() -> None:
    assert select_images(f"{V}../../etc/passwd.png", None, PREFIXES, {}).names == ()


def test_error_feedback_forms() -> None:
    assert error_feedback("i", "timeout", "", "Execution timed out after 10 seconds.") == (
        "Sandbox for i: Execution timed out after 10 seconds."
    )
    assert error_feedback("i", "memory", "MemoryError", "").startswith(
        "Sandbox for i: Code execution failed due to MemoryError"
    )
    assert error_feedback("i", "killed", "SIGSEGV", "process killed by signal SIGSEGV").startswith(
        "Sandbox for i: "
    )


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [("isolation", "partial", "full, reduced, none"), ("timeout_s", 0, "Thyme uses 10"),
     ("sandbox_uid", 0, "65534"), ("memory_mb", 10, ">= 64"), ("workers", -1, "one per core")],
)  # fmt: skip
def test_config_rejects_with_what_to_set(field: str, value: object, hint: str) -> None:
    with pytest.raises(ValueError, match=hint):
        SandboxConfig(**{field: value})


def test_config_defaults_follow_thyme() -> None:
    config = SandboxConfig()
    assert (config.timeout_s, config.min_crop_side, config.fixups, config.isolation) == (
        10.0,
        64,
        True,
        "full",
    )
    assert config.worker_count >= 1


def test_behaviour_hash_ignores_operational_fields_only() -> None:
    base = SandboxConfig().behaviour_hash()
    assert SandboxConfig(workers=3, recycle_after=7, hang_grace_s=1.0).behaviour_hash() == base
    assert SandboxConfig(min_crop_side=32).behaviour_hash() != base
    assert SandboxConfig(fixups=False).behaviour_hash() != base
