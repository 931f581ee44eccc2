"""Typed configuration of the validators: the ``validators:`` section of ``pipeline.yaml``.

One nested dataclass per check family, each with an ``enabled`` flag and its knobs; defaults follow the
original recipe where it has a number (repetition threshold 0.3 over the last 1000 characters, 64 px minimum
side, consistency judged on the last 500 characters, judge at temperature 0.1 with 256 tokens and 3 tries).
``pipeline.yaml`` only overrides; the pipelines build this with their strict loader, so unknown keys fail.

Example:
    >>> ValidatorsConfig().hygiene.repetition_threshold
    0.3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from synthesis.endpoint.config import EndpointConfig, endpoint_default

__all__ = [
    "AnswerCheckConfig",
    "ConsistencyCheckConfig",
    "DuplicatesCheckConfig",
    "EvidenceConfig",
    "ExecutionCheckConfig",
    "FormatCheckConfig",
    "HygieneCheckConfig",
    "ImagesCheckConfig",
    "JudgeConfig",
    "ShardChecksConfig",
    "ValidatorsConfig",
]


@dataclass
class FormatCheckConfig:
    """The strict trajectory grammar (thyme.md §2.1) plus the record's image and execution bookkeeping."""

    enabled: bool = field(default=True, metadata={"help": "Run the format check."})


@dataclass
class ExecutionCheckConfig:
    """Every block ran cleanly and, re-run in strict mode, reproduces what the trajectory claims."""

    enabled: bool = field(default=True, metadata={"help": "Run the execution check."})
    reexecute: bool = field(
        default=True, metadata={"help": "Re-run every block in a strict sandbox session (needs a Sandbox)."}
    )
    fixups: Literal["reject", "accept", "rewrite"] = field(
        default="rewrite",
        metadata={
            "help": "Blocks that ran only thanks to Thyme's fix-ups: reject the record; accept it (re-run "
            "with the fix-ups, every fix recorded); or rewrite its code into the code as run when a strict "
            "re-run of that reproduces every output exactly (otherwise accept)."
        },
    )
    max_pixel_diff: float = field(
        default=2.0,
        metadata={"help": "Largest mean absolute pixel difference (0-255) of a reproduced image."},
    )

    def __post_init__(self):
        if self.max_pixel_diff < 0:
            raise ValueError("max_pixel_diff must be >= 0 (0 demands identical pixels)")


@dataclass
class JudgeConfig(EndpointConfig):
    """An OpenAI-compatible chat endpoint used as judge (the original's protocol); off by default. The
    pipeline reads its key (validators read no environment)."""

    model: str = endpoint_default("model", "Qwen2.5-VL-72B-Instruct-AWQ")
    api_key_env: str = endpoint_default("api_key_env", "JUDGE_API_KEY")
    timeout_s: float = endpoint_default("timeout_s", 60.0)
    temperature: float = field(default=0.1, metadata={"help": "Sampling temperature (original: 0.1)."})
    max_tokens: int = field(default=256, metadata={"help": "Tokens per judge reply (original: 256)."})
    attempts: int = field(
        default=3, metadata={"help": "Tries before the judge gives no verdict (original: 3)."}
    )

    def __post_init__(self):
        super().__post_init__()
        if self.attempts < 1:
            raise ValueError("judge.attempts must be >= 1 (the original uses 3)")


@dataclass
class AnswerCheckConfig:
    """The final answer matches the ground truth."""

    enabled: bool = field(default=True, metadata={"help": "Run the answer check."})
    abs_tol: float = field(default=1e-6, metadata={"help": "Absolute tolerance for numeric answers."})
    rel_tol: float = field(default=1e-4, metadata={"help": "Relative tolerance for numeric answers."})
    use_math_verify: bool = field(
        default=True,
        metadata={"help": "Fall back to math-verify (timeouts disabled) for numbers and expressions."},
    )
    use_judge: bool = field(
        default=False, metadata={"help": "Ask the LLM judge when the rules reject a free-form (text) answer."}
    )


@dataclass
class ImagesCheckConfig:
    """Every produced image is sound and changed the way its family needs."""

    enabled: bool = field(default=True, metadata={"help": "Run the images check."})
    min_side: int = field(
        default=64, metadata={"help": "Smallest allowed side of a produced image (Thyme: 64)."}
    )
    max_side: int = field(default=16384, metadata={"help": "Largest allowed side of a produced image."})
    max_aspect: float = field(
        default=200.0, metadata={"help": "Largest long/short side ratio (Thyme RL: 200)."}
    )
    min_target_coverage: float = field(
        default=0.9, metadata={"help": "Fraction of the target box a crop must contain."}
    )
    min_match_score: float = field(
        default=0.6,
        metadata={"help": "Template-match score below which a crop counts as not found in the input."},
    )
    min_contrast_gain: float = field(
        default=0.1, metadata={"help": "Relative RMS-contrast increase an enhancement must reach."}
    )
    require_target: bool = field(
        default=False, metadata={"help": "Reject crop records whose task_params carry no target box."}
    )

    def __post_init__(self):
        if self.min_side < 1 or self.max_side < self.min_side:
            raise ValueError("images: need 1 <= min_side <= max_side")
        if not 0 < self.min_target_coverage <= 1:
            raise ValueError("images.min_target_coverage must be in (0, 1]")


@dataclass
class EvidenceConfig:
    """Tool-necessity evidence (``tool_evidence``): how it is measured, and whether it can reject a record.

    The model's input resolution follows the Qwen2-VL/Qwen2.5-VL processor's resize rule (sides rounded to
    ``patch_factor``, pixel count within ``[min_pixels, max_pixels]``); the defaults are Thyme's SFT budget.
    """

    enabled: bool = field(default=True, metadata={"help": "Measure tool_evidence for every record."})
    reject_unneeded: bool = field(
        default=False,
        metadata={"help": "Reject records whose evidence says the tool was not needed (needed == 'no')."},
    )
    exempt_families: list[str] = field(
        default_factory=lambda: ["no_code"],
        metadata={"help": "Families reject_unneeded never rejects (no_code's point is to not use tools)."},
    )
    max_pixels: int = field(
        default=3211264, metadata={"help": "Model-input pixel budget per image (Thyme SFT: 4096 x 28 x 28)."}
    )
    min_pixels: int = field(default=3136, metadata={"help": "Model-input pixel floor per image (56 x 56)."})
    patch_factor: int = field(default=28, metadata={"help": "Model-input sides are multiples of this."})
    legible_px: float = field(
        default=12.0, metadata={"help": "Smallest target side (model-input px) counted as legible."}
    )
    min_magnification: float = field(
        default=1.25,
        metadata={
            "help": "A zoom showing its region at less than this times the input's detail added nothing."
        },
    )
    min_angle: float = field(
        default=10.0, metadata={"help": "Smaller rotations (degrees) do not count as turning the image."}
    )
    angle_tolerance: float = field(
        default=5.0, metadata={"help": "Largest residual tilt (degrees) of an output counted as upright."}
    )
    low_contrast: float = field(
        default=0.12, metadata={"help": "RMS contrast below which an input counts as hard to read."}
    )
    min_contrast_gain: float = field(
        default=0.5, metadata={"help": "Relative RMS-contrast increase an enhancement must bring."}
    )

    def __post_init__(self):
        if self.min_pixels < 1 or self.max_pixels < self.min_pixels or self.patch_factor < 1:
            raise ValueError("evidence: need 1 <= min_pixels <= max_pixels and patch_factor >= 1")
        if self.legible_px <= 0 or self.min_magnification < 1:
            raise ValueError("evidence: need legible_px > 0 and min_magnification >= 1")


@dataclass
class ConsistencyCheckConfig:
    """The final answer agrees with the reasoning and the printed results before it."""

    enabled: bool = field(default=True, metadata={"help": "Run the consistency check."})
    tail_chars: int = field(
        default=500, metadata={"help": "Reasoning characters judged (original: last 500)."}
    )
    use_judge: bool = field(default=False, metadata={"help": "Also ask the LLM judge (original's cst_orm)."})


@dataclass
class HygieneCheckConfig:
    """Length and image limits, repetition loops, leaked paths, answer leakage."""

    enabled: bool = field(default=True, metadata={"help": "Run the hygiene check."})
    max_chars: int = field(default=16000, metadata={"help": "Longest response in characters."})
    max_images: int = field(
        default=10, metadata={"help": "Most images per record, the input included (Thyme: 10)."}
    )
    repetition_threshold: float = field(
        default=0.3,
        metadata={"help": "Share of the window one repeated substring may cover (original: 0.3)."},
    )
    repetition_window: int = field(
        default=1000, metadata={"help": "Characters scanned at each segment's end."}
    )
    repetition_min_chars: int = field(default=50, metadata={"help": "Shorter segments are not scanned."})
    repetition_min_repeats: int = field(
        default=3,
        metadata={"help": "Occurrences of one substring that make a loop (2 = the original's rule)."},
    )
    allowed_path_prefixes: list[str] = field(
        default_factory=lambda: ["/mnt/data/"],
        metadata={"help": "Absolute paths allowed in text (protocol paths)."},
    )
    check_answer_leak: bool = field(
        default=True, metadata={"help": "Reject questions that contain the answer."}
    )

    def __post_init__(self):
        if not 0 < self.repetition_threshold < 1:
            raise ValueError("hygiene.repetition_threshold must be in (0, 1); the original uses 0.3")
        if self.repetition_min_repeats < 2:
            raise ValueError("hygiene.repetition_min_repeats must be >= 2 (2 is the original's rule)")


@dataclass
class DuplicatesCheckConfig:
    """Exact and near duplicates within a run and against a reference set."""

    enabled: bool = field(default=True, metadata={"help": "Run the duplicates check against a given index."})
    max_distance: int = field(
        default=6,
        metadata={"help": "Largest Hamming distance of two 64-bit image hashes that still counts as near."},
    )
    within_run: bool = field(
        default=True, metadata={"help": "Drop later duplicates of a record of the same run."}
    )
    reference: str = field(
        default="",
        metadata={
            "help": "Folder of Parquet shards (SFT or RL) whose records must not reappear, e.g. an eval set."
        },
    )

    def __post_init__(self):
        if not 0 <= self.max_distance < 32:
            raise ValueError("duplicates.max_distance must be in [0, 32)")


@dataclass
class ShardChecksConfig:
    """Expectations over the written Parquet shards (great-expectations)."""

    families: list[str] = field(
        default_factory=lambda: [
            "crop",
            "rotate",
            "contrast",
            "compute",
            "multi_round",
            "no_code",
            "imported",
            "user",
        ],
        metadata={"help": "Allowed values of the family column."},
    )
    answer_types: list[str] = field(
        default_factory=lambda: ["choice", "number", "text", "yes_no"],
        metadata={"help": "Allowed answer types."},
    )
    family_bounds: dict[str, tuple[float, float]] = field(
        default_factory=dict,
        metadata={"help": "family -> [min, max] share of rows, e.g. {crop: [0.2, 0.6]}."},
    )
    max_response_chars: int = field(default=16000, metadata={"help": "Largest response length."})
    max_images: int = field(default=10, metadata={"help": "Most images per row."})
    min_rows: int = field(default=1, metadata={"help": "Fewest rows over all shards."})

    def __post_init__(self):
        for family, (lo, hi) in self.family_bounds.items():
            if not 0 <= lo <= hi <= 1:
                raise ValueError(
                    f"shards.family_bounds.{family} must be [min, max] with 0 <= min <= max <= 1"
                )


@dataclass
class ValidatorsConfig:
    """Every record and shard check; the ``validators:`` section of ``pipeline.yaml``."""

    fail_fast: bool = field(
        default=True,
        metadata={"help": "Stop at the first failing check (saves sandbox time on bad records)."},
    )
    format: FormatCheckConfig = field(
        default_factory=FormatCheckConfig, metadata={"help": "Trajectory grammar."}
    )
    hygiene: HygieneCheckConfig = field(
        default_factory=HygieneCheckConfig, metadata={"help": "Text hygiene."}
    )
    answer: AnswerCheckConfig = field(
        default_factory=AnswerCheckConfig, metadata={"help": "Answer correctness."}
    )
    images: ImagesCheckConfig = field(
        default_factory=ImagesCheckConfig, metadata={"help": "Produced images."}
    )
    execution: ExecutionCheckConfig = field(
        default_factory=ExecutionCheckConfig, metadata={"help": "Strict re-execution."}
    )
    consistency: ConsistencyCheckConfig = field(
        default_factory=ConsistencyCheckConfig, metadata={"help": "Answer agrees with the reasoning."}
    )
    duplicates: DuplicatesCheckConfig = field(
        default_factory=DuplicatesCheckConfig, metadata={"help": "Exact and near duplicates."}
    )
    evidence: EvidenceConfig = field(
        default_factory=EvidenceConfig, metadata={"help": "Tool-necessity evidence of every record."}
    )
    judge: JudgeConfig = field(default_factory=JudgeConfig, metadata={"help": "Optional LLM judge endpoint."})
    shards: ShardChecksConfig = field(
        default_factory=ShardChecksConfig, metadata={"help": "Shard expectations."}
    )
