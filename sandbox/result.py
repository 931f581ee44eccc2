"""The typed outcome of one code block, as the rest of the project consumes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ExecStatus(StrEnum):
    """How a block ended. The values are stable strings, safe to store in datasets."""

    OK = "ok"
    ERROR = "error"  # the code raised, failed to compile, or exited non-zero
    TIMEOUT = "timeout"  # killed at the wall-clock limit
    MEMORY = "memory"  # ran out of its memory budget
    OUTPUT_LIMIT = "output-limit"  # printed more than the output cap and was stopped
    KILLED = "killed"  # died by a signal it did not choose (segfault, abort) or its worker died
    REFUSED = "refused"  # not run at all (empty, too large, too many images)


@dataclass(frozen=True)
class ExecResult:
    """Everything the pipeline needs to know about one executed code block.

    Every text field is redacted (`sandbox.redact`): host paths read as sandbox-side paths and protocol tags
    are escaped (``&lt;answer&gt;``), so no field can leak the host or read as protocol in a trajectory.

    Args:
        status (`ExecStatus`): how the block ended.
        stdout (`str`): captured standard output, capped at the configured limit.
        stderr (`str`): captured standard error (tracebacks included), capped likewise.
        error_type (`str`, *optional*, defaults to `""`): exception class name as the model should see it.
        error_message (`str`, *optional*, defaults to `""`): the exception message, or the reason for a
            timeout, kill or refusal.
        feedback (`str`, *optional*, defaults to `""`): exact text to put inside ``<sandbox_output>``: one
            ``<image>`` per returned image, the printed text, or an error beginning ``"Sandbox for "``.
        images (`list[bytes]`, *optional*): encoded bytes of the returned images, in print order.
        image_names (`list[str]`, *optional*): their file names relative to the virtual output folder.
        fixes (`list[str]`, *optional*): snake_case names of the fix-ups applied to the code.
        code_as_run (`str`, *optional*, defaults to `""`): the code after fix-ups, exactly as executed.
        cpu_s (`float`, *optional*, defaults to `0.0`): user + system CPU seconds of the block's process.
        wall_s (`float`, *optional*, defaults to `0.0`): wall-clock seconds seen by the supervisor.
    """

    status: ExecStatus
    stdout: str = ""
    stderr: str = ""
    error_type: str = ""
    error_message: str = ""
    feedback: str = ""
    images: list[bytes] = field(default_factory=list)
    image_names: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    code_as_run: str = ""
    cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the block ran to completion without an error."""
        return self.status is ExecStatus.OK
