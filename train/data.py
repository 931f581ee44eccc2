"""Stream the pipelines' Parquet shards: SFT records and RL prompts, with a bounded shuffle buffer.

Shards are read a record batch at a time with pyarrow, so memory stays flat whatever the dataset size; a
shuffle buffer mixes records across batches and shards, and ``loop`` restarts at the end for step-based
training. Each record becomes the :class:`~synthesis.agent.Conversation` the policy sees (ChatML rendering is
:mod:`train.chat`'s job), with the user prompt naming the input path the sandbox serves the image at.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from sandbox.layout import INPUT_DIR
from synthesis import format as fmt
from synthesis.agent import Conversation
from synthesis.records import RlPrompt, SftRecord

__all__ = [
    "Prompt",
    "image_name",
    "iter_rows",
    "prompt_from_record",
    "prompt_from_row",
    "prompt_from_task",
    "shard_files",
    "sft_records",
    "shuffled",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Prompt:
    """A question with a known answer: what RL rollouts and evaluation run the policy on."""

    id: str
    image: bytes
    question: str
    image_size: tuple[int, int]
    answer: str
    answer_type: str
    family: str
    choices: tuple[str, ...] = ()
    served_as: str = ""  # stem of the input file in the sandbox and the prompt; empty = the record id

    @property
    def image_file(self) -> str:
        """The file name the sandbox serves the input image under, which the user prompt names."""
        return image_name(self.served_as or self.id, self.image)

    def conversation(self, system: str = fmt.SYSTEM_PROMPT) -> Conversation:
        """The Thyme conversation: system prompt and the §2.3 user turn naming the sandbox input path."""
        user = fmt.render_user_prompt(self.question, INPUT_DIR + self.image_file, self.image_size)
        return Conversation(system, user, (self.image,))

    def served(self, stem: str) -> Prompt:
        """This prompt with its input served as ``stem`` + extension (an empty ``stem`` keeps the record id).

        Example:
            >>> p = Prompt("crop-000001-0a1b2c3d", b"\\x89PNG", "Q?", (4, 3), "A", "text", "crop")
            >>> p.image_file, p.served("image").image_file, p.served("").image_file
            ('crop-000001-0a1b2c3d.png', 'image.png', 'crop-000001-0a1b2c3d.png')
        """
        return replace(self, served_as=stem) if stem else self


def image_name(item_id: str, image: bytes) -> str:
    """The input file name the sandbox serves (same rule as ``synthesis.teacher.image_name``: id + extension).

    Example:
        >>> image_name("crop-000001-ab", b"\\xff\\xd8\\xff..."), image_name("x", b"\\x89PNG...")
        ('crop-000001-ab.jpg', 'x.png')
    """
    extension = "jpg" if image[:2] == b"\xff\xd8" else "png"
    return f"{item_id}.{extension}"


def shard_files(folder: str | Path) -> list[Path]:
    """The Parquet shards of a folder, sorted; a missing or empty folder is an error with a clear message."""
    files = sorted(Path(folder).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(
            f"no Parquet shards in {folder}: build them with pipelines/build_sft.py or build_rl.py"
        )
    return files


def shuffled(items: Iterable[T], buffer_size: int, rng: random.Random) -> Iterator[T]:
    """``items`` through a shuffle buffer of ``buffer_size`` (0 keeps the order); the tail is shuffled too.

    The pipelines write shards sorted by id, hence by family: a buffer smaller than the data set feeds the
    trainer one family after another, so the SFT buffer is sized to hold the (image-shrunk) data set.

    Example:
        >>> sorted(shuffled(range(5), 2, random.Random(0))), list(shuffled(range(3), 0, random.Random(0)))
        ([0, 1, 2, 3, 4], [0, 1, 2])
    """
    buffer: list[T] = []
    for item in items:
        if not buffer_size:
            yield item
            continue
        buffer.append(item)
        if len(buffer) >= buffer_size:
            i = rng.randrange(len(buffer))
            buffer[i], buffer[-1] = buffer[-1], buffer[i]
            yield buffer.pop()
    rng.shuffle(buffer)
    yield from buffer


def iter_rows(
    folder: str | Path, seed: int = 0, shuffle_buffer: int = 0, loop: bool = False, batch_rows: int = 16
) -> Iterator[dict[str, Any]]:
    """Rows of every shard in ``folder``, streamed; shuffled through a buffer when ``shuffle_buffer`` > 0.

    Args:
        folder (`str | Path`): folder of ``*.parquet`` shards.
        seed (`int`, *optional*, defaults to `0`): shuffle seed (shard order and buffer draws).
        shuffle_buffer (`int`, *optional*, defaults to `0`): rows held for shuffling; 0 keeps file order.
        loop (`bool`, *optional*, defaults to `False`): start again after the last shard (step-based
            training).
        batch_rows (`int`, *optional*, defaults to `16`): rows per Arrow batch read.
    """
    rng, files = random.Random(seed), shard_files(folder)
    return shuffled(_rows(files, rng if shuffle_buffer else None, loop, batch_rows), shuffle_buffer, rng)


def _rows(
    files: list[Path], rng: random.Random | None, loop: bool, batch_rows: int
) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    while True:
        order = list(files)
        if rng is not None:
            rng.shuffle(order)
        for path in order:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                yield from batch.to_pylist()
        if not loop:
            return


def sft_records(
    folder: str | Path, seed: int = 0, shuffle_buffer: int = 0, loop: bool = False
) -> Iterator[SftRecord]:
    """SFT records streamed from the shards of ``folder`` (see :func:`iter_rows`)."""
    for row in iter_rows(folder, seed, shuffle_buffer, loop):
        yield SftRecord.from_row(row)


def prompt_from_record(record: SftRecord) -> Prompt:
    """The :class:`Prompt` of an SFT record (its input image, question and ground truth)."""
    from validators.answer import record_choices

    return Prompt(
        record.id,
        record.images[0],
        record.question,
        record.image_size,
        record.answer,
        record.answer_type,
        record.family,
        record_choices(record),
    )


def prompt_from_task(task) -> Prompt:
    """The :class:`Prompt` of a generated ``synthesis.tasks.Task`` (the held-out benchmark's source), read the
    way a prompt written by ``build_rl`` is read."""
    return prompt_from_row(RlPrompt.from_task(task).to_row())


def prompt_from_row(row: dict[str, Any]) -> Prompt:
    """The :class:`Prompt` of an RL prompt row (``RlPrompt.to_row()`` or read back from a shard)."""
    size = row["image_size"]
    return Prompt(
        row["id"],
        row["image"]["bytes"],
        row["question"],
        (size["width"], size["height"]),
        row["answer"],
        row["answer_type"],
        row["family"],
        tuple(row.get("choices") or ()),
    )
