"""Teacher errors that no retry can fix: one line that stops the whole run, instead of one dead letter per
record.

A wrong key, an unknown model, nothing listening or a request shape the server refuses fails every request the
same way; recording each as ``teacher_backend_error`` only hides the cause. The backend raises
:class:`FatalTeacherError` instead (at its preflight, or after ``fatal_after`` identical failures in a row),
and the run reports its message. Imports nothing, so a pipeline can catch it without loading the client.
"""

from __future__ import annotations

import re

__all__ = ["FATAL_REASONS", "FatalTeacherError", "fatal_error", "find_fatal"]

# Reason codes that mean "every request will fail like this" once they repeat (a content filter does not).
FATAL_REASONS = ("teacher_auth_error", "teacher_model_not_found", "teacher_bad_request")

_TRACEBACK_LINE = re.compile(r"FatalTeacherError: (.*?)(?: \[while running '[^\n]*'\])?$", re.MULTILINE)


class FatalTeacherError(BaseException):
    """The endpoint refuses this run's requests for a reason no retry can fix; the message is one line.

    A ``BaseException`` on purpose, like ``KeyboardInterrupt``: every ``except Exception`` that turns a
    record's trouble into a per-record failure (the batch's job errors, Beam's ``with_exception_handling``
    dead letters) must let it through, so it stops the batch, the bundle and the pipeline. Beam's in-process
    runner re-raises it (message suffixed with ``[while running '<step>']``); its multi-process runner raises
    a ``RuntimeError`` holding the worker's traceback: :func:`find_fatal` gets it back from either.

    Args:
        message (`str`): what failed and where, e.g. ``authentication failed for http://host/v1: ...``.
    """

    def __init__(
        self, message: str
    ):  # one positional argument: Beam rebuilds it as type(err)(message + step)
        super().__init__(message)


def fatal_error(reason: str, detail: str, base_url: str, model: str) -> FatalTeacherError:
    """The fatal error for a ``teacher_*`` reason code, naming the cause, the endpoint and the model.

    Args:
        reason (`str`): one of :data:`FATAL_REASONS` (any other code gets a generic message).
        detail (`str`): the server's answer (status and message).
        base_url (`str`): the endpoint.
        model (`str`): the model requested.

    Example:
        >>> str(fatal_error("teacher_auth_error", "401 bad key", "http://h/v1", "m"))
        'authentication failed for http://h/v1: 401 bad key'
        >>> str(fatal_error("teacher_model_not_found", "404 no such model", "http://h/v1", "m"))
        "model 'm' not found at http://h/v1: 404 no such model"
    """
    if reason == "teacher_auth_error":
        text = f"authentication failed for {base_url}: {detail}"
    elif reason == "teacher_model_not_found":
        text = f"model {model!r} not found at {base_url}: {detail}"
    elif reason == "teacher_bad_request":
        text = f"every request is refused by {base_url}: {detail}"
    else:
        text = f"the teacher at {base_url} fails every request: {reason}: {detail}"
    return FatalTeacherError(" ".join(text.split()))


def find_fatal(err: BaseException | None) -> FatalTeacherError | None:
    """The :class:`FatalTeacherError` behind ``err`` (itself, its cause chain, a Beam traceback), step suffix
    removed.

    Beam's multi-process runner reports a worker's failure as a ``RuntimeError`` whose message is the worker's
    traceback text; the last ``FatalTeacherError: ...`` line in it is the message (the step suffix removed).

    Example:
        >>> str(
        ...     find_fatal(
        ...         RuntimeError(
        ...             "Traceback ...\\nsynthesis.endpoint.errors.FatalTeacherError: "
        ...             "cannot connect to http://h/v1 [while running 'Teach']\\n"
        ...         )
        ...     )
        ... )
        'cannot connect to http://h/v1'
        >>> find_fatal(ValueError("no")) is None
        True
    """
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        text = f"FatalTeacherError: {err}" if isinstance(err, FatalTeacherError) else str(err)
        lines = _TRACEBACK_LINE.findall(text)
        if lines:
            return FatalTeacherError(lines[-1])
        err = err.__cause__ or err.__context__
    return None
