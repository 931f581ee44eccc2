"""Import the released Thyme SFT data (Hub format, thyme.md §4.5) as verified :class:`SftRecord` s.

A released record is ``{"image": [original, processed_1, ...], "question": "<image>\\n...§2.3 block with the
authors' absolute path...", "response": "<think>...</think> <answer>...</answer>"}``. Importing one:

1. decode and normalise the images (:mod:`synthesis.importers.common`), parse the question's path and size
   block (:mod:`synthesis.importers.text`), check the response's grammar (:func:`synthesis.format.check`);
2. rewrite the authors' path: the input is served at ``INPUT_DIR + <its file name>`` (the base name is kept,
   so code that derives output names from it behaves as in the original); every occurrence of the path in
   the response, and every string literal in the code that ends with the file name, points there;
3. re-run every code block in order in one sandbox session (seed 0, so validators can replay it) and compare
   each block with what the record claims: image count and sizes, or printed text (numbers within a
   tolerance, text after whitespace normalisation);
4. emit the record with the images *our* run produced (verified reproductions, not the claimed ones) and
   the sandbox outputs our run printed.

The emitted ``question`` is the raw question (like every :class:`SftRecord`); the user prompt is rendered
from it at training time with ``INPUT_DIR + task_params["image_name"]``, so no authors' path survives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sandbox.inputs import safe_name
from sandbox.layout import INPUT_DIR
from sandbox.opener import SessionOpener
from synthesis import format as fmt
from synthesis.importers.common import (
    ROW_ERROR,
    AnswerReader,
    ImportFailure,
    Rejected,
    decode_image,
    guess_answer_type,
    image_size,
    normalise_image,
    read_rows,
    stable_id,
)
from synthesis.importers.text import outputs_agree, released_question, rewrite_paths
from synthesis.records import Execution, Provenance, SftRecord
from synthesis.rollout_record import EXCERPT_CHARS

__all__ = [
    "GENERATOR",
    "IMPORTER_VERSION",
    "import_thyme_file",
    "import_thyme_record",
    "imported_id",
    "imported_user_prompt",
    "read_thyme_file",
]

GENERATOR = "thyme-sft"
IMPORTER_VERSION = "0.2.0"


@dataclass(frozen=True, slots=True)
class _Prepared:
    id: str
    question: str
    traj: fmt.Trajectory  # paths rewritten
    image: bytes  # the normalised original
    size: tuple[int, int]
    claimed_sizes: tuple[tuple[int, int], ...]  # of the record's processed images, in order
    image_name: str
    original_path: str


def _decode(items: list, base_dir: str | os.PathLike | None) -> list[bytes]:
    images = []
    for index, item in enumerate(items):
        try:
            images.append(decode_image(item, base_dir))
        except ValueError as err:
            raise Rejected("import_bad_image", f"image {index}: {err}") from None
    return images


def _claimed_size(index: int, data: bytes) -> tuple[int, int]:
    try:
        return image_size(data)
    except ValueError as err:
        raise Rejected("import_bad_image", f"image {index}: {err}") from None


def imported_id(raw: dict, base_dir: str | os.PathLike | None = None) -> str:
    """The id a released row is imported under: ``imported-<12 hex>`` of its question, response and first
    image (its bytes when decodable, so the same record has the same id whether its images are base64, bytes
    or files); known before any work, so a rerun can look the row's record up.

    Example:
        >>> imported_id({"question": "q", "response": "r", "image": ["aGk="]}) == imported_id(
        ...     {"question": "q", "response": "r", "image": [b"hi"]}
        ... )
        True
    """
    if ROW_ERROR in raw:
        return stable_id("imported", raw[ROW_ERROR])
    items = raw.get("image", raw.get("images"))
    first = (items[0] if items else "") if isinstance(items, list | tuple) else items
    try:
        image = decode_image(first, base_dir)
    except ValueError:
        image = repr(first)[:4096].encode()
    return stable_id("imported", str(raw.get("question") or ""), str(raw.get("response") or ""), image)


def _prepare(raw: dict, record_id: str, base_dir: str | os.PathLike | None) -> _Prepared:
    """Everything before execution: images, the question's path, the grammar, the rewritten trajectory."""
    if ROW_ERROR in raw:
        raise Rejected("import_bad_row", raw[ROW_ERROR])
    items = raw.get("image", raw.get("images"))
    items = [items] if isinstance(items, str | bytes | dict) else items
    question, response = raw.get("question"), raw.get("response")
    missing = [k for k, v in (("image", items), ("question", question), ("response", response)) if not v]
    if missing or items is None or not isinstance(question, str) or not isinstance(response, str):
        hint = " (an RL record: read it with read_task_source)" if "solution" in raw else ""
        raise Rejected(
            "import_missing_field", f"missing or not text: {', '.join(missing) or 'question/response'}{hint}"
        )
    images = _decode(list(items), base_dir)
    try:
        original, _, size = normalise_image(images[0])
    except ValueError as err:
        raise Rejected("import_bad_image", f"image 0: {err}") from None
    claimed = tuple(_claimed_size(k, data) for k, data in enumerate(images[1:], 1))
    try:
        prompt = released_question(question)
    except ValueError as err:
        raise Rejected("import_bad_question", str(err)) from None
    name = prompt.image_path.rsplit("/", 1)[-1]
    if not name:
        raise Rejected("import_bad_question", f"the image path {prompt.image_path!r} names no file")
    if prompt.image_size is not None and prompt.image_size != size:
        raise Rejected(
            "import_image_size_mismatch", f"image 0: the question says {prompt.image_size}, it is {size}"
        )
    violations = fmt.check(response)
    if violations:
        raise Rejected("import_bad_format", ", ".join(v.code for v in violations[:3]))
    traj = fmt.parse(response)
    if fmt.count_images(traj) != len(claimed):
        raise Rejected(
            "import_image_count_mismatch",
            f"{fmt.count_images(traj)} <image> placeholders but {len(claimed)} processed images",
        )
    image_name = safe_name(name, original, 0)
    traj = rewrite_paths(traj, prompt.image_path, INPUT_DIR + image_name)
    question = prompt.question.replace(prompt.image_path, INPUT_DIR + image_name)
    return _Prepared(record_id, question, traj, original, size, claimed, image_name, prompt.image_path)


def _compare(block: int, claimed: fmt.SandboxOutput, sizes: tuple[tuple[int, int], ...], result) -> None:
    """Raise a rejection when a block's result differs from what the record shows after it."""
    if not result.ok:
        raise Rejected(
            "import_exec_failed",
            f"block {block}: {result.status.value}: {result.error_type} {result.error_message}"[:300],
        )
    if claimed.images or result.images:
        if len(result.images) != claimed.images:
            raise Rejected(
                "import_image_count_mismatch",
                f"block {block}: the record shows {claimed.images} images, "
                f"the code made {len(result.images)}",
            )
        for k, (want, data) in enumerate(zip(sizes, result.images, strict=True)):
            if image_size(data) != want:
                raise Rejected(
                    "import_image_size_mismatch",
                    f"block {block} image {k}: the record's is {want}, the code made {image_size(data)}",
                )
    elif not outputs_agree(claimed.text, result.feedback):
        raise Rejected(
            "import_output_mismatch",
            f"block {block}: the record shows {claimed.text[:80]!r}, "
            f"the code printed {result.feedback[:80]!r}",
        )


def _execute(
    prep: _Prepared, sandbox: SessionOpener, strict: bool | None
) -> tuple[fmt.Trajectory, list[bytes], tuple[Execution, ...]]:
    """Run the blocks in one session; returns the trajectory with our outputs, our images, the executions."""
    segments = list(prep.traj.segments)
    produced: list[bytes] = []
    executions: list[Execution] = []
    claimed_at = 0
    with sandbox.session(
        images=[prep.image], image_name=prep.image_name, item_id=prep.id, seed=0, strict=strict
    ) as session:
        for block, at in enumerate(i for i, s in enumerate(segments) if isinstance(s, fmt.Code)):
            code, claimed = segments[at], segments[at + 1]
            # a Trajectory has a SandboxOutput right after every Code (its constructor checks)
            assert isinstance(code, fmt.Code) and isinstance(claimed, fmt.SandboxOutput)
            result = session.run(code.code)
            _compare(block, claimed, prep.claimed_sizes[claimed_at : claimed_at + claimed.images], result)
            claimed_at += claimed.images
            first = 1 + len(produced)
            produced.extend(result.images)
            segments[at + 1] = fmt.SandboxOutput(len(result.images), "" if result.images else result.feedback)
            executions.append(
                Execution(
                    code=code.code,
                    code_as_run=result.code_as_run,
                    status=result.status.value,
                    stdout=result.stdout[:EXCERPT_CHARS],
                    stderr=result.stderr[-EXCERPT_CHARS:],
                    error_type=result.error_type,
                    error_message=result.error_message[:EXCERPT_CHARS],
                    fixes=tuple(result.fixes),
                    image_indices=tuple(range(first, 1 + len(produced))),
                )
            )
    return fmt.Trajectory(tuple(segments), prep.traj.separator, prep.traj.answer), produced, tuple(executions)


def import_thyme_record(
    raw: dict,
    index: int,
    sandbox: SessionOpener,
    strict: bool | None = None,
    *,
    base_dir: str | os.PathLike | None = None,
    source: str = "",
    sandbox_config_hash: str = "",
    read_answer: AnswerReader | None = None,
) -> SftRecord | ImportFailure:
    """Import one released SFT record: rewrite paths, re-run its code, verify it, emit our schema.

    Args:
        raw (`dict`): the record (``image`` or ``images``, ``question``, ``response``, optionally ``answer``
            or ``solution``: the row's own ground truth, which wins over what ``<answer>`` says).
        index (`int`): its position in the file, named in failure details and kept in ``task_params``.
        sandbox (`sandbox.Sandbox`): the caller's pool.
        strict (`bool`, *optional*): run code exactly as written; None follows the pool's ``fixups`` setting
            (on by default: the original sandbox's fix-ups applied when the data was made).
        base_dir (`str | PathLike`, *optional*): folder relative image paths resolve against.
        source (`str`, *optional*): the file name, kept in ``task_params`` and named in failure details.
        sandbox_config_hash (`str`, *optional*): hash of the sandbox settings, for the provenance.
        read_answer (`AnswerReader`, *optional*): ``(question, answer text, row's answer or None) ->`` an
            object with ``answer``, ``answer_type`` and ``choices`` (the validators' reader);
            by default a simple guess.

    Returns:
        The :class:`SftRecord` (family ``imported``, provenance ``imported``) or an :class:`ImportFailure`.
    """
    record_id = imported_id(raw, base_dir)
    try:
        prep = _prepare(raw, record_id, base_dir)
        traj, produced, executions = _execute(prep, sandbox, strict)
        response = fmt.render(traj)
        if fmt.check(response):
            raise Rejected("import_bad_format", "the response is invalid once our sandbox outputs are in")
    except Rejected as reject:
        return ImportFailure(record_id, reject.reason, f"{source or 'file'} record {index}: {reject.detail}")
    answer, answer_type, choices = _ground_truth(
        prep.question, fmt.extract_answer(response) or "", raw, read_answer
    )
    params = {
        "source": source,
        "index": index,
        "image_name": prep.image_name,
        "original_image_path": prep.original_path,
    }
    return SftRecord(
        id=prep.id,
        images=(prep.image, *produced),
        question=prep.question,
        image_size=prep.size,
        response=response,
        answer=answer,
        answer_type=answer_type,
        family="imported",
        task_params={**params, "choices": list(choices)} if choices else params,
        executions=executions,
        provenance=Provenance(
            source="imported",
            generator=GENERATOR,
            generator_version=IMPORTER_VERSION,
            seed=0,
            sandbox_config_hash=sandbox_config_hash,
        ),
    )


def _ground_truth(
    question: str, said: str, raw: dict, read_answer: AnswerReader | None
) -> tuple[str, str, tuple[str, ...]]:
    """(answer, answer_type, choices): the row's own answer when it has one, else what ``<answer>`` says."""
    given = next(
        (raw[k] for k in ("answer", "solution") if isinstance(raw.get(k), str) and raw[k].strip()), None
    )
    if read_answer is None:
        answer = (given or said).strip()
        return answer, guess_answer_type(answer), ()
    spec = read_answer(question, said, given)
    return spec.answer, spec.answer_type, tuple(spec.choices)


def imported_user_prompt(record: SftRecord) -> str:
    """The §2.3 user prompt of an imported record: its question, ``INPUT_DIR + image_name`` and its size.

    Args:
        record (`SftRecord`): a record made by :func:`import_thyme_record`.

    Example:
        >>> r = SftRecord(
        ...     id="i",
        ...     images=(b"",),
        ...     question="Q?",
        ...     image_size=(4, 3),
        ...     response="",
        ...     answer="",
        ...     answer_type="text",
        ...     family="imported",
        ...     task_params={"image_name": "0001_00.jpg"},
        ... )
        >>> imported_user_prompt(r).splitlines()[3]
        '### User Image Path:** "/mnt/data/input/0001_00.jpg"'
    """
    return fmt.render_user_prompt(
        record.question, INPUT_DIR + record.task_params["image_name"], record.image_size
    )


def read_thyme_file(path: str | os.PathLike) -> Iterator[dict]:
    """The records of a released-format JSONL or Parquet file, with ``images`` read as ``image``.

    RL records (``images``, ``question``, ``solution``) pass through; :func:`import_thyme_record` turns them
    away and :func:`synthesis.importers.tasks.read_task_source` reads them as task sources.

    Args:
        path (`str | PathLike`): a ``.jsonl`` or ``.parquet`` file.
    """
    for row in read_rows(path):
        if "image" not in row and "images" in row:
            row = {**row, "image": row["images"]}
        yield row


def import_thyme_file(
    path: str | os.PathLike, sandbox: SessionOpener, strict: bool | None = None, sandbox_config_hash: str = ""
) -> Iterator[SftRecord | ImportFailure]:
    """Import every record of a released-format file; relative image paths resolve against its folder.

    Args:
        path (`str | PathLike`): a ``.jsonl`` or ``.parquet`` file.
        sandbox (`sandbox.Sandbox`): the caller's pool.
        strict (`bool`, *optional*): run code exactly as written; None follows the pool's ``fixups`` setting.
        sandbox_config_hash (`str`, *optional*): hash of the sandbox settings, for the provenance.
    """
    path = Path(path)
    for index, raw in enumerate(read_thyme_file(path)):
        yield import_thyme_record(
            raw,
            index,
            sandbox,
            strict,
            base_dir=path.parent,
            source=path.name,
            sandbox_config_hash=sandbox_config_hash,
        )
