"""What one hand-written corpus record is made of, the released question template, and the verdict shape.

A :class:`Spec` is a record before its code has run: the scene of its original, the authors' absolute path,
the question text, the response as prose and :class:`Block` s in order, the answer, and the verdict it must
get. The builder (:mod:`build`) runs the blocks to fill in the sandbox outputs and processed images.

Verdicts are plain dicts (they go to a JSON sidecar as they are)::

    {"expect": "accept"}
    {
        "expect": "reject",
        "stage": "import" | "validate",
        "reason_prefix": "import_bad_format",
        "defect": "...",
    }

``reason_prefix`` is the reason code the row must be rejected with, matched by prefix (``import_...`` from
:mod:`synthesis.importers.thyme`, or a validator's ``<check>_...``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .scenes import Scene

__all__ = [
    "ACCEPT", "CLAIM_CROP", "SUBSETS", "Block", "Spec", "authors_path", "question_text", "reject",
    "verdict_matches",
]  # fmt: skip

SUBSETS = ("single_round", "two_round", "computation")
ACCEPT: dict = {"expect": "accept"}
CLAIM_CROP = "<crop of boxes[0], zoomed 2x>"  # Block.claimed: the record shows an image the code never made

# The §2.3 user prompt as the released questions carry it (thyme.md §2.3), written out here on purpose rather
# than taken from synthesis.format, so the corpus checks the parser instead of agreeing with it by
# construction.
_QUESTION = (
    "<image>\n{question}\n\n"
    '### User Image Path:** "{path}"\n'
    '### User Image Size:** "{width}x{height}"\n\n'
    "### **Output Format (strict adherence required):**\n\n"
    "<think>Your detailed reasoning process, including any code, should go here.</think>\n"
    "<answer>Your final answer to the user's question goes here.</answer>\n"
)


_AUTHOR_DIRS = {  # where the authors' originals lived (only the file name survives the import)
    "vstar": "/mnt/bn/keye-mm-data/thyme/sft_images/v_star/",
    "hr": "/mlx_devbox/users/thyme/playground/data/hr_bench_4k/images/",
    "chart": "/mnt/bn/keye-mm-data/thyme/sft_images/chartqa/train/png/",
    "mmb": "/nas/shared/mm_data/mmbench_train/images/",
    "doc": "/mnt/bn/keye-mm-data/thyme/sft_images/docvqa/",
    "geo": "/mnt/bn/keye-mm-data/thyme/computation/geo170k/images/",
    "zh": "/mnt/bn/keye-mm-data/thyme/sft_images/zh_ocr/",
}


def authors_path(source: str, name: str) -> str:
    """The authors' absolute path of an original: one of a few source folders plus the file name."""
    return _AUTHOR_DIRS[source] + name


def question_text(question: str, path: str, size: tuple[int, int]) -> str:
    """The released ``question``: ``<image>``, the question, the authors' path and size, the format block."""
    return _QUESTION.format(question=question, path=path, width=size[0], height=size[1])


def reject(stage: str, reason_prefix: str, defect: str) -> dict:
    """The verdict of a row that must be turned away at ``stage`` with a reason starting ``reason_prefix``."""
    if stage not in ("import", "validate"):
        raise ValueError(f"stage must be import or validate, not {stage!r}")
    return {"expect": "reject", "stage": stage, "reason_prefix": reason_prefix, "defect": defect}


def verdict_matches(verdict: dict, stage: str | None, reason: str | None) -> bool:
    """Whether an observed outcome satisfies an expected verdict.

    Args:
        verdict (`dict`): the expected verdict.
        stage (`str | None`): None when the row was accepted, else ``import`` or ``validate``.
        reason (`str | None`): the reason code it was rejected with.

    Example:
        >>> v = reject("import", "import_bad_format", "no </think>")
        >>> verdict_matches(v, "import", "import_bad_format"), verdict_matches(v, None, None)
        (True, False)
    """
    if verdict["expect"] == "accept":
        return stage is None
    return stage == verdict["stage"] and bool(reason) and reason.startswith(verdict["reason_prefix"])


@dataclass(frozen=True)
class Block:
    """One code block as the model wrote it (:data:`code_styles.PATH` marks the input's path).

    Args:
        code (`str`): the source.
        boxes (`tuple`): crop boxes in original-image pixels, checked against ``covers`` (after Thyme's
            clamp).
        covers (`tuple[str, ...]`): for each box, the scene item it must contain ("" to skip).
        claimed (`str`, *optional*): what the record shows instead of the real output (a tampered row): a text
            output, or :data:`CLAIM_CROP` for one fabricated image.
        lead (`str`), trail (`str`): whitespace between ``<code>`` and the fence, and the fence and
            ``</code>``.
    """

    code: str
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    covers: tuple[str, ...] = ()
    claimed: str | None = None
    lead: str = "\n"
    trail: str = "\n"


@dataclass(frozen=True)
class Spec:
    """One hand-written record and its expected verdict.

    Args:
        key (`str`): unique name, kept in the sidecar.
        subset (`str`): single_round, two_round or computation.
        scene (`Scene`): the original image.
        path (`str`): the authors' absolute path of the original (question and code).
        question (`str`): the question text (options, hints) before the §2.3 block.
        parts (`tuple`): the think body: prose (``str``) and :class:`Block` s, in order.
        answer (`str`): what ``<answer>`` holds.
        verdict (`dict`): :data:`ACCEPT` or a :func:`reject` dict.
        needs_fixups (`bool`): the code reproduces its images or printed text only with Thyme's fix-ups.
        strict (`dict`, *optional*): the verdict with fix-ups off, where it differs from ``verdict``.
        tamper (`callable`, *optional*): ``(row, info) -> row`` applied to the finished released row.
        separator (`str`): the whitespace between ``</think>`` and ``<answer>``.
    """

    key: str
    subset: str
    scene: Scene
    path: str
    question: str
    parts: tuple
    answer: str
    verdict: dict = field(default_factory=lambda: dict(ACCEPT))
    needs_fixups: bool = False
    strict: dict | None = None
    tamper: Callable | None = None
    separator: str = "\n"

    def __post_init__(self):
        if self.subset not in SUBSETS:
            raise ValueError(f"{self.key}: unknown subset {self.subset!r}")
        if self.needs_fixups and self.verdict["expect"] != "accept":
            raise ValueError(f"{self.key}: needs_fixups marks accepted records only")
