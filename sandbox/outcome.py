"""Build the typed `ExecResult` from a worker's answer: validate it, capture images, word the feedback.

The worker's answer is treated as untrusted input: every field is type-checked and capped here, and
images are read from the scratch folder by this (trusted) process itself. Every result, whatever made it,
then passes through `present`, the one place where its texts are redacted and its feedback is worded.
"""

from __future__ import annotations

import json
import math
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from sandbox.capture import error_feedback, select_images, success_feedback
from sandbox.config import SandboxConfig
from sandbox.inputs import image_size, size_problem
from sandbox.protocol import OK_REPORT, Answer
from sandbox.redact import Rewrites, escape_tags, redact
from sandbox.result import ExecResult, ExecStatus
from sandbox.scratch import Scratch

MAX_MESSAGE = 8192  # error messages from the block's report are cut here (the block's process cuts them too)
MAX_PATH = 4096  # a reported processed_path longer than this is ignored


def answer_fields(answer: Answer) -> dict[str, Any]:
    """A worker's answer (untrusted bytes) as the fields `build_result` reads: the status from how the block's
    process ended and what it reported, its texts decoded, its numbers checked.

    Example:
        >>> fields = answer_fields(Answer("", 0, 0.01, 0.02, b"2\\n", b"", b'{"kind": "ok"}'))
        >>> fields["status"], fields["stdout"]
        ('ok', '2\\n')
        >>> answer_fields(Answer("timeout", 9, 1.0, 2.0, b"", b"", b""))["status"]
        'timeout'
    """
    if answer.report == OK_REPORT:  # the common report, read without the JSON decoder
        report: Any = {"kind": "ok"}
    else:
        try:
            report = json.loads(answer.report or b"{}")
        except ValueError:
            report = {}
    if not isinstance(report, dict):
        report = {}
    fields = _classify(answer.cause, answer.status, report)
    path = report.get("processed_path")
    fields.update(
        stdout=answer.stdout.decode("utf-8", "replace"),
        stderr=answer.stderr.decode("utf-8", "replace"),
        processed_path=path if isinstance(path, str) and len(path) <= MAX_PATH else None,
        cpu_s=answer.cpu_s if math.isfinite(answer.cpu_s) and answer.cpu_s >= 0 else 0.0,
        wall_s=answer.wall_s if math.isfinite(answer.wall_s) and answer.wall_s >= 0 else 0.0,
    )
    return fields


def _classify(cause: str, status: int, report: dict[str, Any]) -> dict[str, Any]:
    """The status of a block from why the worker killed it (``cause``), its wait status and its report."""
    if cause:
        return {"status": cause}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "error_message": "CPU time limit exceeded"}
        return {"status": "killed", "error_type": name, "error_message": f"process killed by signal {name}"}
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
    if code != 0 or "kind" not in report:
        message = f"process exited with code {code} before the block finished"
        return {"status": "error", "error_type": "SystemExit", "error_message": message}
    kind = report["kind"]
    fields = {k: str(report.get(k, ""))[:MAX_MESSAGE] for k in ("error_type", "error_message")}
    return {"status": {"ok": "ok", "memory": "memory"}.get(kind, "error"), **fields}


def build_result(
    config: SandboxConfig,
    scratch: Scratch,
    response: dict[str, Any],
    code: str,
    fixes: list[str],
    prefixes: tuple[str, ...],
) -> ExecResult:
    """Turn a worker's JSON answer into an `ExecResult` with raw texts and no feedback yet (see `present`),
    applying Thyme's output capture.

    Args:
        config (`SandboxConfig`): limits (output cap, image caps, timeout for the message).
        scratch (`Scratch`): the block's scratch folder, whose out/ holds the images.
        response (`dict`): the worker's answer (untrusted).
        code (`str`): the code as run.
        fixes (`list[str]`): fix-ups applied.
        prefixes (`tuple[str, ...]`): spellings of the output folder in printed paths.
    """
    reported: Any = response.get("status")  # untrusted: anything that is not a status is a ValueError
    try:
        status = ExecStatus(reported)
    except ValueError:
        status = ExecStatus.KILLED
    cap = config.output_limit_bytes
    stdout, stderr = str(response.get("stdout", ""))[:cap], str(response.get("stderr", ""))[:cap]
    error_type = str(response.get("error_type") or "")[:256]
    message = str(response.get("error_message") or "")[:8192]
    if status is ExecStatus.TIMEOUT and not message:
        message = f"Execution timed out after {config.timeout_s:g} seconds."
    if status is ExecStatus.OUTPUT_LIMIT and not message:
        message = f"more than {cap} bytes of output."
    files: dict[str, Path] = {}
    if status in (ExecStatus.OK, ExecStatus.ERROR):  # a block that finished: did it leave too much behind?
        problem, files = scratch.survey(config.max_files, config.max_scratch_mb << 20)
        if problem:
            status, error_type, message = ExecStatus.OUTPUT_LIMIT, "ScratchLimit", problem
    images: list[bytes] = []
    names: list[str] = []
    if status is ExecStatus.OK:
        path = response.get("processed_path")
        selection = select_images(stdout, path if isinstance(path, str) else None, prefixes, files)
        for name in selection.names[: config.max_output_images]:
            data = scratch.read_file(files[name], config.max_image_bytes)
            if data is None:
                continue
            size = image_size(data)  # the header only: the first consumer to decode it must not blow up
            problem = (
                size_problem(size, name, config.max_image_pixels, config.max_image_aspect_ratio)
                if size
                else ""
            )
            if size is None or problem:
                images, names = [], []
                status, error_type = (
                    (ExecStatus.ERROR, "OutputError")
                    if size is None
                    else (ExecStatus.OUTPUT_LIMIT, "OutputImageRejected")
                )
                message = f"output {problem or f'image {name!r} is not a readable image'}"
                break
            images.append(data)
            names.append(name)
        if status is ExecStatus.OK and selection.error and not images:
            status, error_type, message = ExecStatus.ERROR, "OutputError", selection.error
    return ExecResult(
        status=status, stdout=stdout, stderr=stderr, error_type=error_type, error_message=message,
        images=images, image_names=names, fixes=fixes, code_as_run=code,
        cpu_s=cpu if isinstance(cpu := response.get("cpu_s"), int | float) else 0.0,
    )  # fmt: skip


def refused_result(reason: str) -> ExecResult:
    """A block that was not run at all (empty, too large, too many images)."""
    return ExecResult(status=ExecStatus.REFUSED, error_type="Refused", error_message=reason)


def lost_result(fixes: list[str], code: str, reason: str) -> ExecResult:
    """The block whose worker died (or hung and was killed) while running it."""
    message = f"the sandbox worker died while running this block ({reason})"
    return ExecResult(
        status=ExecStatus.KILLED,
        error_type="WorkerDied",
        error_message=message,
        fixes=fixes,
        code_as_run=code,
    )


def ceiling_result(fixes: list[str], code: str, message: str) -> ExecResult:
    """The block whose worker its memory ceiling killed (``message`` names the ceiling)."""
    return ExecResult(
        status=ExecStatus.MEMORY,
        error_type="MemoryError",
        error_message=message,
        fixes=fixes,
        code_as_run=code,
    )


def present(result: ExecResult, item_id: str, table: Rewrites, **extra: Any) -> ExecResult:
    """The result as the model may see it: every text redacted (host paths rewritten, protocol tags escaped),
    then the feedback worded from the redacted texts, so no text reaches ``<sandbox_output>`` unredacted.

    Args:
        result (`ExecResult`): a result with raw texts (from `build_result`, `refused_result`, `lost_result`).
        item_id (`str`): the id named in error messages.
        table (`Rewrites`): host prefixes and their sandbox-side spellings (`sandbox.redact`).
        extra: other fields to set on the result (the pool sets ``wall_s``).
    """
    # dict[str, Any]: spread into replace(), whose other fields are not str (mypy checks each field's type)
    texts: dict[str, Any] = {
        f: redact(getattr(result, f), table) for f in ("stdout", "stderr", "error_type", "error_message")
    }
    return replace(result, **texts, feedback=_feedback(result, texts, item_id), **extra)


def _feedback(result: ExecResult, texts: dict[str, str], item_id: str) -> str:
    """``<image>`` placeholders (the one protocol text the sandbox writes itself), else tag-free text, worded
    from the redacted ``texts``."""
    if result.images:
        return success_feedback(item_id, len(result.images), "")
    if result.ok:
        return escape_tags(success_feedback(item_id, 0, texts["stdout"]))
    return escape_tags(
        error_feedback(item_id, result.status.value, texts["error_type"], texts["error_message"])
    )
