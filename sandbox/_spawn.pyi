# The C extension of sandbox/_spawn.c (built by `make setup`).

def prefork(
    landlock_fd: int, bpf: bytes, rlimits: tuple[tuple[int, int], ...], orphan_guard: bool, prefault: int, /
) -> tuple[int, int, int, int, int] | None: ...
