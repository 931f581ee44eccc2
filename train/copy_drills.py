"""Copy drills: short text-only sequences that make the tiny policy copy the prompt's input path into its code.

A crop trajectory copies its item id (family, seed, eight hex digits: about eight tokens) from the prompt's
``### User Image Path`` into ``image_path = "..."``; in strict mode a wrong id is a ``FileNotFoundError``. The
random-init policy learns the code templates within a few hundred steps but, measured over 800 SFT steps of four
records (about 3,200 copies), never learns to copy: the loss on the id's tokens stayed near 4.7 nats, a guess
among numbers. Copying needs an induction circuit, which forms from many copy events. A drill is the real
prompt without its image, followed by the real response up to the end of its ``image_path`` line, with a fresh
id: about a third of an SFT example's tokens and no image, so a step of drills holds many copies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from sandbox.layout import INPUT_DIR
from synthesis import format as fmt
from train.chat import Chunk, Encoded, encode, prompt_text
from train.data import shard_files

__all__ = ["DrillTemplate", "drill_batch", "drill_templates"]

_LOAD = 'image_path = "' + INPUT_DIR


@dataclass(frozen=True, slots=True)
class DrillTemplate:
    """What a drill keeps of a record: its id, question, image size and response up to the input path's line."""

    id: str
    question: str
    size: tuple[int, int]
    prefix: str
    extension: str


def drill_templates(folder: str | Path) -> list[DrillTemplate]:
    """The templates of every record under ``folder`` whose code opens the input path (text columns only)."""
    import pyarrow.parquet as pq

    templates = []
    for path in shard_files(folder):
        table = pq.read_table(path, columns=["id", "question", "response", "image_size"])
        for row in table.to_pylist():
            at = row["response"].find(_LOAD + row["id"] + ".")
            if at < 0:
                continue
            end = row["response"].index("\n", at) + 1
            extension = row["response"][at + len(_LOAD) + len(row["id"]) : end].split('"', 1)[0]
            size = (row["image_size"]["width"], row["image_size"]["height"])
            templates.append(DrillTemplate(row["id"], row["question"], size, row["response"][:end], extension))
    return templates


def drill_batch(templates: list[DrillTemplate], count: int, rng: random.Random, tokenizer, vision,
                weight: int) -> list[Encoded]:  # fmt: skip
    """``count`` drills drawn with ``rng``, each with a fresh id, the id's trained tokens weighted by ``weight``.

    Example (``tokenizer`` and ``vision`` of a policy):
        >>> batch = drill_batch(drill_templates("out/thyme-sft/data"), 8, random.Random(0), tok, vis, 10)  # doctest: +SKIP
    """
    from train.sft import copy_weighted, random_id

    batch = []
    for template in (rng.choice(templates) for _ in range(count)):
        item = random_id(template.id, rng)
        path = INPUT_DIR + item + template.extension
        user = fmt.render_user_prompt(template.question, path, template.size).replace(fmt.IMAGE_PLACEHOLDER + "\n", "")
        chunks = [Chunk(prompt_text(fmt.SYSTEM_PROMPT, user), False), Chunk(template.prefix.replace(template.id, item), True)]
        encoded = encode(chunks, tokenizer, vision)
        batch.append(copy_weighted(encoded, [tokenizer.decode([i]) for i in encoded.ids], item, weight))
    return batch
