"""Trajectory sessions: later code blocks see the variables of earlier ones, by deterministic replay.

No interpreter state ever crosses into the trusted process. Instead a session remembers the code of
its successful blocks and each new block runs in a fresh confined child that first replays them with
their output discarded (same seed, same inputs, so the same variables and the same ``name_1234.png``
files), then runs the new block. A session therefore holds no worker: dozens of live trajectories
share the pool, and a killed worker loses nothing but its in-flight block. Blocks that failed are
not replayed, like Thyme's rollback of a failed segment.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from sandbox.config import SandboxConfig
from sandbox.inputs import InputImages
from sandbox.result import ExecResult


@dataclass(frozen=True)
class Block:
    """One code block to run, with the trajectory context it runs in.

    Args:
        code (`str`): the model's code.
        inputs (`InputImages`): the trajectory's input images.
        prelude (`tuple[str, ...]`): earlier successful cells of the session, replayed silently first.
        seed (`int`): seed of ``random`` and ``numpy.random`` at the start of the replay.
        strict (`bool`): run the code exactly as written (no fix-ups).
        item_id (`str`): the id that error messages name ("Sandbox for <item_id>: ...").
    """

    code: str
    inputs: InputImages
    prelude: tuple[str, ...] = ()
    seed: int = 0
    strict: bool = False
    item_id: str = "N/A"


class BlockRunner(Protocol):
    """What a session needs of the pool that runs its blocks (`sandbox.pool.Sandbox` is one); a protocol, so
    that this module never imports the pool, which imports it."""

    config: SandboxConfig

    def execute(self, block: Block) -> tuple[ExecResult, str]:
        """Run ``block``; return its result and the code to replay in the session's later blocks."""
        ...


class Session:
    """One trajectory's sequence of code blocks.

    Args:
        sandbox (`BlockRunner`): the pool that runs the blocks (a `Sandbox`).
        inputs (`InputImages`): the trajectory's input images.
        strict (`bool`): run code exactly as written (no fix-ups).
        item_id (`str`): the id named in error messages.
        seed (`int`): seed of ``random``/``numpy.random`` at the start of every replay.
    """

    def __init__(
        self, sandbox: BlockRunner, inputs: InputImages, strict: bool, item_id: str, seed: int
    ) -> None:
        self.sandbox, self.inputs, self.strict, self.item_id, self.seed = (
            sandbox,
            inputs,
            strict,
            item_id,
            seed,
        )
        self.cells: list[str] = []
        self._lock = threading.Lock()

    def run(self, code: str) -> ExecResult:
        """Run the next block of this trajectory; it sees the variables of the earlier successful blocks.

        Args:
            code (`str`): the model's code block.

        Returns:
            `ExecResult`: the block's outcome (never raises for anything the code does).
        """
        with self._lock:
            limit = self.sandbox.config.session_replay_limit
            prelude = tuple(self.cells[-limit:]) if limit else ()
            block = Block(code, self.inputs, prelude, self.seed, self.strict, self.item_id)
            result, replay_code = self.sandbox.execute(block)
            if result.ok:
                self.cells.append(replay_code)
            return result

    def close(self) -> None:
        """Forget the session's state (it holds no process, so there is nothing else to release)."""
        self.cells.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
