"""Import plain (image, question, answer) data as task sources:
:class:`synthesis.tasks.Task` with family ``user``.

A row is ``{"image": base64 | path | bytes | {"bytes", "path"}, "question": str, "answer": str}`` with
optional ``answer_type``, ``choices`` and ``id``; the RL release's rows (``images`` list, ``question``,
``solution``) are read the same way (the first image of an ``images`` list is the task's image). A ``choice``
answer may be the option letter or the option text (stored as the letter); without ``answer_type`` the type is
guessed. Images are normalised like the SFT importer's (RGB; JPEG and PNG kept as they are, anything else
re-encoded as PNG). A question in the §2.3 user-prompt layout is reduced to the raw question. Every bad row
becomes an :class:`ImportFailure` naming its index; nothing raises.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synthesis import format as fmt
from synthesis.importers.common import (
    ROW_ERROR,
    AnswerReader,
    ImportFailure,
    Rejected,
    decode_image,
    guess_answer_type,
    normalise_image,
    read_rows,
    stable_id,
)
from synthesis.tasks.task import ANSWER_TYPES, Task

__all__ = ["TASK_FAMILY", "read_task_source", "task_from_row"]

TASK_FAMILY = "user"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _text_field(row: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = row.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return value
    raise Rejected("import_missing_field", f"missing or empty {' / '.join(keys)}")


def _image(row: dict[str, Any], base_dir: str | os.PathLike | None) -> tuple[bytes, str, tuple[int, int]]:
    item = row.get("image", row.get("images"))
    if isinstance(item, list | tuple):
        item = item[0] if item else None
    if item is None or item == "":
        raise Rejected("import_missing_field", "missing image")
    try:
        return normalise_image(decode_image(item, base_dir))
    except ValueError as err:
        raise Rejected("import_bad_image", str(err)) from None


def _answer_type(
    row: dict[str, Any], answer: str, question: str, read_answer: AnswerReader | None
) -> tuple[str, str, tuple[str, ...]]:
    """(answer, answer_type, choices) after checking them against each other; a choice answer becomes
    a letter.

    A row that states neither its type nor its choices is read by ``read_answer`` (options listed in the
    question, ``<answer> C </answer>`` or ``\\boxed{C}`` solutions, numbers with units) when one is given.
    """
    if read_answer is not None and row.get("answer_type") is None and not row.get("choices"):
        spec = read_answer(question, answer, answer)
        return spec.answer, spec.answer_type, tuple(spec.choices)
    choices = row.get("choices") or ()
    if not isinstance(choices, list | tuple) or not all(isinstance(c, str) for c in choices):
        raise Rejected("import_bad_choices", "choices must be a list of strings")
    choices = tuple(choices)
    given = row.get("answer_type")
    if given is not None and given not in ANSWER_TYPES:
        raise Rejected(
            "import_bad_answer_type", f"answer_type {given!r} is not one of {', '.join(ANSWER_TYPES)}"
        )
    kind = given or ("choice" if choices else guess_answer_type(answer))
    if kind == "choice" and not choices:
        if given:
            raise Rejected("import_bad_choices", "answer_type 'choice' needs choices")
        kind = "text"  # a bare letter without options is just text
    if kind != "choice":
        if choices:
            raise Rejected("import_bad_choices", f"choices given but answer_type is {kind!r}")
        return answer, kind, ()
    letters = _LETTERS[: len(choices)]
    if answer.strip() in choices:
        return letters[choices.index(answer.strip())], kind, choices
    if len(answer.strip()) == 1 and answer.strip().upper() in letters:
        return answer.strip().upper(), kind, choices
    raise Rejected("import_bad_choices", f"answer {answer[:40]!r} is neither an option letter nor an option")


def _question(text: str) -> str:
    try:
        return fmt.parse_user_prompt(text).question
    except ValueError:
        return text.removeprefix(fmt.IMAGE_PLACEHOLDER).strip()


def task_from_row(
    row: dict[str, Any],
    index: int,
    source: str = "",
    base_dir: str | os.PathLike | None = None,
    read_answer: AnswerReader | None = None,
) -> Task | ImportFailure:
    """The task of one row, or an :class:`ImportFailure` saying why not.

    Args:
        row (`dict`): ``image``/``images``, ``question``, ``answer``/``solution``, optional ``answer_type``,
            ``choices`` and ``id``.
        index (`int`): the row's position in its file, named in failure details.
        source (`str`, *optional*): the file name, kept in the task's params.
        base_dir (`str | PathLike`, *optional*): folder relative image paths resolve against.
        read_answer (`AnswerReader`, *optional*): reads rows without ``answer_type`` and ``choices`` (the
            validators' reader); by default the type is guessed from the answer alone.

    Example:
        >>> task_from_row({"question": "Q?", "answer": "1"}, 4, "a.jsonl").detail
        'a.jsonl row 4: missing image'
    """
    given_id = row.get("id") if isinstance(row.get("id"), str) and row.get("id") else None
    fallback_id = given_id or f"{TASK_FAMILY}-{source}-{index}"
    try:
        if ROW_ERROR in row:
            raise Rejected("import_bad_row", row[ROW_ERROR])
        question = _question(_text_field(row, "question"))
        answer = _text_field(row, "answer", "solution").strip()
        answer, kind, choices = _answer_type(row, answer, question, read_answer)
        image, image_format, (width, height) = _image(row, base_dir)
    except Rejected as reject:
        return ImportFailure(fallback_id, reject.reason, f"{source or 'file'} row {index}: {reject.detail}")
    task_id = given_id or stable_id(TASK_FAMILY, question, answer, image)
    return Task(
        task_id,
        TASK_FAMILY,
        0,
        image,
        image_format,
        width,
        height,
        question,
        answer,
        kind,
        choices,
        None,
        0.0,
        {"source": source},
    )


def read_task_source(
    path: str | os.PathLike, base_dir: str | os.PathLike | None = None
) -> Iterator[Task | ImportFailure]:
    """Every row of a JSONL or Parquet file as a :class:`Task` (family ``user``) or an :class:`ImportFailure`.

    Args:
        path (`str | PathLike`): a ``.jsonl`` or ``.parquet`` file.
        base_dir (`str | PathLike`, *optional*): folder relative image paths resolve against; defaults to the
            file's folder.
    """
    path = Path(path)
    for index, row in enumerate(read_rows(path)):
        yield task_from_row(row, index, path.name, path.parent if base_dir is None else base_dir)
