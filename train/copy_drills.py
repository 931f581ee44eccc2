"""Copy drills: short text-only sequences that make the tiny policy copy the prompt's input path into code.

A crop trajectory copies its item id (family, seed, eight hex digits: about eight tokens) from the prompt's
``### User Image Path`` into ``image_path = "..."``; in strict mode a wrong id is a ``FileNotFoundError``. The
random-init policy learns the code templates within a few hundred steps but, measured over 800 SFT steps of
four records (about 3,200 copies), never learns to copy: the loss on the id's tokens stayed near 4.7 nats, a
guess among numbers. Copying needs an induction circuit, which forms from many copy events. A drill is the
real prompt without its image, followed by the real response up to the end of its ``image_path`` line, with a
fresh id: about a third of an SFT example's tokens and no image, so a step of drills holds many copies.

The fresh ids (:func:`random_id`) and the copy weighting (:func:`copy_weighted`) live here too; SFT applies
both to every real example.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from sandbox.layout import INPUT_DIR
from synthesis import format as fmt
from train.chat import Chunk, Encoded, encode, prompt_text
from train.data import shard_files

__all__ = ["DrillTemplate", "copy_weighted", "drill_batch", "drill_templates", "random_id", "spelling_tokens"]

_LOAD = 'image_path = "' + INPUT_DIR


@dataclass(frozen=True, slots=True)
class DrillTemplate:
    """What a drill keeps of a record: its id, question, image size, response up to the input path's line."""

    id: str
    question: str
    size: tuple[int, int]
    prefix: str
    extension: str


def random_id(record_id: str, rng: random.Random) -> str:
    """A fresh id shaped like a task id (family, 6-7 digit seed, 8 hex digits) for path randomisation.

    Example:
        >>> random_id("crop-000012-0a1b2c3d", random.Random(0)).startswith("crop-")
        True
    """
    family = record_id.split("-", 1)[0]
    return f"{family}-{rng.randrange(2_000_000):06d}-{rng.getrandbits(32):08x}"


def spelling_tokens(pieces: list[str], text: str, start: int = 0) -> Iterator[list[int]]:
    """For each occurrence of ``text`` at or after ``start``, the indices of the tokens that overlap it.

    Tokens are given as their decoded pieces, so the match holds whatever merges the tokenizer made around
    ``text``.

    Example:
        >>> list(spelling_tokens(["a = ", "crop-", "12", "-", "ab", '"', "crop-12-ab"], "crop-12-ab"))
        [[1, 2, 3, 4], [6]]
    """
    starts = list(itertools.accumulate((len(p) for p in pieces), initial=0))
    joined = "".join(pieces)
    at = joined.find(text, start)
    while at >= 0:
        yield list(range(bisect.bisect_right(starts, at) - 1, bisect.bisect_left(starts, at + len(text))))
        at = joined.find(text, at + 1)


def copy_weighted(encoded: Encoded, tokenizer, copied: str, weight: int) -> Encoded:
    """``encoded`` with loss weight ``weight`` on the trained tokens that spell ``copied`` (e.g. the item id).

    The tiny policy learns the code templates long before it learns to copy the prompt's input path into
    ``image_path = "..."``; a wrong path is a ``FileNotFoundError`` in strict mode. Weighting the id's tokens
    (about 8 of the ~250 trained tokens of a crop trajectory) makes copying a larger share of the objective.
    The mask stays integral: 0 is untrained, 1 plain, ``weight`` a copied token.

    Args:
        encoded (`Encoded`): the example.
        tokenizer: decodes each of its tokens.
        copied (`str`): the text whose trained occurrences get the weight.
        weight (`int`): their loss weight (1 leaves ``encoded`` as it is).

    Example:
        >>> class Letters:
        ...     decode = staticmethod(lambda ids: "ab-ab-c"[ids[0]])
        >>> copy_weighted(Encoded(list(range(7)), [0, 0, 0, 1, 1, 1, 1]), Letters(), "b-", 4).mask
        [0, 0, 0, 1, 4, 4, 1]
    """
    if weight == 1 or not copied:
        return encoded
    mask = list(encoded.mask)
    for tokens in spelling_tokens([tokenizer.decode([i]) for i in encoded.ids], copied):
        for k in tokens:
            if mask[k]:
                mask[k] = weight
    return replace(encoded, mask=mask)


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
            templates.append(
                DrillTemplate(row["id"], row["question"], size, row["response"][:end], extension)
            )
    return templates


def drill_batch(
    templates: list[DrillTemplate], count: int, rng: random.Random, tokenizer, vision, weight: int
) -> list[Encoded]:
    """``count`` drills drawn with ``rng``, each with a fresh id.

    The id's trained tokens are weighted by ``weight``.
    """
    batch = []
    for template in (rng.choice(templates) for _ in range(count)):
        item = random_id(template.id, rng)
        path = INPUT_DIR + item + template.extension
        user = fmt.render_user_prompt(template.question, path, template.size).replace(
            fmt.IMAGE_PLACEHOLDER + "\n", ""
        )
        chunks = [
            Chunk(prompt_text(fmt.SYSTEM_PROMPT, user), False),
            Chunk(template.prefix.replace(template.id, item), True),
        ]
        encoded = encode(chunks, tokenizer, vision)
        batch.append(copy_weighted(encoded, tokenizer, item, weight))
    return batch
