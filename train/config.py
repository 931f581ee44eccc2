"""Typed configuration of the training stage (the ``train:`` section of ``pipeline.yaml``).

One dataclass per stage, composed into :class:`TrainConfig`; ``pipeline.yaml`` only overrides these defaults.
The defaults are sized so that ``python train/run.py`` (tiny model, SFT, GRPO-ATS, evaluation) finishes in
25-40 minutes on two CPU cores (one thread), depending on what else runs; on a GPU with ``model`` set to a
real checkpoint, raise the step counts, lengths and image size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from synthesis.endpoint.config import EndpointConfig

__all__ = ["FIXED_STEM", "EvalConfig", "GrpoConfig", "ModelConfig", "SftConfig", "TrainConfig"]

ATS_MODES = ("segments", "logits_processor", "off")
INPUT_NAMES = ("auto", "record", "fixed")
FIXED_STEM = "image"  # input_name=fixed: every prompt and session names its input image.png / image.jpg


@dataclass
class ModelConfig:
    """Which policy to train: the offline tiny VLM, or a Hugging Face checkpoint (path or hub id)."""

    name: str = field(
        default="tiny", metadata={"help": "'tiny' builds a random-init LLaVA offline; else a path/id."}
    )
    image_size: int = field(
        default=64, metadata={"help": "Side in px the model sees; the sandbox keeps originals."}
    )
    vocab_size: int = field(
        default=4096,
        metadata={"help": "Tiny model: BPE vocabulary (>= 1566: 1266 number and hex-pair tokens)."},
    )
    hidden_size: int = field(default=192, metadata={"help": "Tiny model: text hidden size."})
    layers: int = field(default=4, metadata={"help": "Tiny model: text decoder layers."})
    heads: int = field(default=4, metadata={"help": "Tiny model: attention heads (KV heads = heads // 2)."})
    vision_hidden: int = field(default=64, metadata={"help": "Tiny model: SigLIP hidden size."})
    vision_layers: int = field(default=2, metadata={"help": "Tiny model: SigLIP layers."})
    patch_size: int = field(
        default=16, metadata={"help": "Tiny model: patch side; (image_size/patch)^2 tokens."}
    )
    lora_rank: int = field(
        default=0, metadata={"help": "LoRA rank for a real checkpoint; 0 trains all weights."}
    )
    device: str = field(default="auto", metadata={"help": "'auto' (cuda when available), 'cpu' or 'cuda'."})

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"model.image_size ({self.image_size}) must be a multiple of patch_size")
        if self.heads < 2 or self.hidden_size % self.heads:
            raise ValueError("model.hidden_size must be divisible by model.heads (>= 2)")


@dataclass
class SftConfig:
    """Supervised fine-tuning on the accepted trajectories (thyme.md §5)."""

    steps: int = field(default=2000, metadata={"help": "Optimizer steps (the shards are cycled)."})
    lr: float = field(
        default=3e-3,
        metadata={
            "help": "Peak learning rate: linear warmup, kept through the copy drills, "
            "cosine over the SFT steps."
        },
    )
    warmup_steps: int = field(default=20, metadata={"help": "Linear warmup steps."})
    batch_size: int = field(default=4, metadata={"help": "Sequences per micro-batch."})
    grad_accum: int = field(default=1, metadata={"help": "Micro-batches per optimizer step."})
    max_len: int = field(
        default=1024, metadata={"help": "Longer sequences are truncated (their tail is lost)."}
    )
    last_round_only: bool = field(
        default=False, metadata={"help": "Thyme's option: mask every round but the last code round."}
    )
    save_every: int = field(default=200, metadata={"help": "Checkpoint period in steps."})
    log_every: int = field(default=10, metadata={"help": "Metrics period in steps."})
    shuffle_buffer: int = field(
        default=4096, metadata={"help": "Shuffle buffer (image-shrunk records); shards are sorted by family."}
    )
    cache_examples: int = field(default=4096, metadata={"help": "Records whose image inputs stay in memory."})
    randomize_ids: bool = field(
        default=True,
        metadata={"help": "Fresh item id per example in the prompt's path and the code (learn to copy)."},
    )
    copy_weight: int = field(
        default=1,
        metadata={"help": "Loss weight of the code's tokens that copy the prompt's item id (1 = plain)."},
    )
    copy_drill_steps: int = field(
        default=0, metadata={"help": "Steps of copy drills (train/copy_drills.py) before the SFT steps."}
    )
    copy_drill_batch: int = field(default=16, metadata={"help": "Drills per copy-drill step."})
    no_tools: bool = field(
        default=False,
        metadata={
            "help": "Direct-answer examples (no-tool prompt, '<answer>' only, no trajectory); the baseline "
            "stage sets it."
        },
    )

    def __post_init__(self):
        if (
            min(
                self.steps,
                self.batch_size,
                self.grad_accum,
                self.save_every,
                self.log_every,
                self.copy_weight,
                self.copy_drill_batch,
            )
            < 1
        ):
            raise ValueError(
                "sft.steps, batch_size, grad_accum, save_every, log_every, copy_weight and "
                "copy_drill_batch must be >= 1"
            )
        if self.copy_drill_steps < 0:
            raise ValueError("sft.copy_drill_steps must be >= 0")

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the stage: the copy drills, then the SFT steps (checkpoints count both)."""
        return self.copy_drill_steps + self.steps


@dataclass
class GrpoConfig:
    """GRPO with adaptive temperature sampling (thyme.md §6)."""

    steps: int = field(default=36, metadata={"help": "Optimizer steps, one batch of prompt groups each."})
    prompts_per_step: int = field(default=4, metadata={"help": "Prompts per step (each gets G rollouts)."})
    group_size: int = field(default=4, metadata={"help": "G, rollouts per prompt (Thyme: 4)."})
    lr: float = field(default=2e-4, metadata={"help": "Learning rate (constant)."})
    beta: float = field(
        default=0.01, metadata={"help": "k3 KL coefficient to the reference policy (Thyme: 0.01)."}
    )
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range, low side."})
    epsilon_high: float = field(default=0.2, metadata={"help": "PPO clip range, high side (DAPO: 0.28)."})
    inner_epochs: int = field(
        default=1, metadata={"help": "Optimizer passes per batch (>1 activates clipping)."}
    )
    text_temperature: float = field(default=1.0, metadata={"help": "Temperature of reasoning text."})
    code_temperature: float = field(
        default=0.0, metadata={"help": "Temperature of code under ATS (0 = greedy)."}
    )
    top_p: float = field(default=1.0, metadata={"help": "Nucleus mass of sampled text."})
    ats: Literal["segments", "logits_processor", "off"] = field(
        default="segments",
        metadata={"help": "segments (stop at <code>, greedy block), logits_processor (per token) or off."},
    )
    max_calls: int = field(default=5, metadata={"help": "Generation calls per rollout (Thyme: 5)."})
    max_new_tokens: int = field(default=320, metadata={"help": "Tokens per generation call."})
    max_total_tokens: int = field(default=640, metadata={"help": "Model tokens per rollout."})
    mask_truncated: bool = field(
        default=False,
        metadata={
            "help": "Exclude rollouts without an answer from the loss (Mini-o3, DAPO) instead of scoring "
            "them like Thyme, whose overlong filter never triggers."
        },
    )
    strict: bool = field(
        default=True,
        metadata={
            "help": "Run rollout code without Thyme's fix-ups (which repair a wrong path or crop box), so "
            "code that would fail the strict evaluation fails here too; false = Thyme's RL."
        },
    )
    weights: dict[str, float] = field(
        default_factory=lambda: {"accuracy": 1.0, "format": 0.5, "consistency": 0.5},
        metadata={"help": "Reward weights; consistency counts only when the answer is right."},
    )
    save_every: int = field(default=5, metadata={"help": "Checkpoint period in steps."})
    compare_prompts: int = field(
        default=12, metadata={"help": "Prompts for the ATS vs T=1 code-failure comparison."}
    )
    shuffle_buffer: int = field(
        default=512,
        metadata={"help": "Shuffle buffer of RL prompts (full images); shards are sorted by family."},
    )

    def __post_init__(self):
        if self.ats not in ATS_MODES:
            raise ValueError(f"grpo.ats must be one of {ATS_MODES}, got {self.ats!r}")
        if self.group_size < 2:
            raise ValueError("grpo.group_size must be >= 2: advantages are relative to the group")
        if min(self.steps, self.prompts_per_step, self.inner_epochs, self.save_every) < 1:
            raise ValueError("grpo.steps, prompts_per_step, inner_epochs and save_every must be >= 1")


@dataclass
class EvalConfig:
    """The held-out benchmark and the evaluator."""

    count: int = field(
        default=60,
        metadata={"help": "Held-out tasks (training family mix); the same set for every checkpoint."},
    )
    base_seed: int = field(
        default=1_000_000, metadata={"help": "Seed of task 0; far from the training seeds."}
    )
    long_side_range: tuple[int, int] = field(
        default=(3584, 4096),
        metadata={"help": "Crop-family image sizes, above the training range (held-out)."},
    )
    grid_glyph_range: list[float] = field(
        default_factory=list,
        metadata={
            "help": "Crop grid layout: held-out digit size [lo, hi] as a fraction of the cell, where it "
            "should differ from training (empty: the training tasks')."
        },
    )
    max_calls: int = field(default=5, metadata={"help": "Generation calls per rollout with tools."})
    max_new_tokens: int = field(default=320, metadata={"help": "Tokens per generation call."})
    max_total_tokens: int = field(default=640, metadata={"help": "Model tokens per rollout."})
    without_tools: bool = field(
        default=True, metadata={"help": "Also run the no-tool setting (one call, no code)."}
    )
    no_tool_max_new_tokens: int = field(
        default=0,
        metadata={
            "help": "Tokens of the no-tool setting's one call (0: max_new_tokens), as long as a direct "
            "answer needs."
        },
    )
    strict: bool = field(
        default=True, metadata={"help": "Run the policy's code in strict mode (no fix-ups)."}
    )
    use_endpoint: bool = field(
        default=False, metadata={"help": "Also evaluate the OpenAI-compatible model at eval.endpoint."}
    )
    endpoint: EndpointConfig = field(
        default_factory=EndpointConfig,
        metadata={"help": "The served model to evaluate: the same endpoint type the teacher and judge use."},
    )

    def __post_init__(self):
        glyph = self.grid_glyph_range  # its bounds are the crop config's, checked by train/run.py at load
        if glyph and (len(glyph) != 2 or not glyph[0] <= glyph[1]):
            raise ValueError(f"eval.grid_glyph_range must be [] or [min, max] with min <= max, got {glyph}")
        if self.no_tool_max_new_tokens < 0:
            raise ValueError(f"eval.no_tool_max_new_tokens must be >= 0, got {self.no_tool_max_new_tokens}")


@dataclass
class TrainConfig:
    """Everything ``train/run.py`` needs but the sandbox and task sections (shared with the pipelines)."""

    output_dir: str = field(default="out/train", metadata={"help": "Checkpoints, metrics.jsonl and curves."})
    sft_data: str = field(default="out/thyme-sft/data", metadata={"help": "Folder of SFT Parquet shards."})
    rl_data: str = field(
        default="out/thyme-rl/data", metadata={"help": "Folder of RL prompt Parquet shards."}
    )
    seed: int = field(default=0, metadata={"help": "Seed of initialisation, shuffling and sampling."})
    threads: int = field(
        default=1, metadata={"help": "torch intra-op threads on CPU (1 is fastest for the tiny model)."}
    )
    input_name: Literal["auto", "record", "fixed"] = field(
        default="auto",
        metadata={
            "help": "Input file name in the prompts and sandbox sessions of every stage: 'record' = the "
            "record id (SFT: a fresh id per example), 'fixed' = image.<ext>, 'auto' = fixed for "
            "the tiny model, record for a checkpoint."
        },
    )
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"help": "The policy."})
    sft: SftConfig = field(default_factory=SftConfig, metadata={"help": "SFT stage."})
    grpo: GrpoConfig = field(default_factory=GrpoConfig, metadata={"help": "GRPO-ATS stage."})
    eval: EvalConfig = field(default_factory=EvalConfig, metadata={"help": "Evaluation stage."})

    def __post_init__(self):
        if self.input_name not in INPUT_NAMES:
            raise ValueError(f"train.input_name must be one of {INPUT_NAMES}, got {self.input_name!r}")

    @property
    def input_stem(self) -> str:
        """Stem every stage serves the input image under: :data:`FIXED_STEM`, or "" for the record id.

        The tiny policy cannot copy a random 8-hex id into its code reliably (train/README.md, "The input's
        name"), so ``auto`` names the input ``image.<ext>`` for it; a real checkpoint keeps the ids and
        so learns to open whatever path a prompt names.

        Example:
            >>> TrainConfig().input_stem, TrainConfig(model=ModelConfig(name="org/vlm")).input_stem
            ('image', '')
            >>> TrainConfig(input_name="record").input_stem
            ''
        """
        fixed = self.input_name == "fixed" or (self.input_name == "auto" and self.model.name == "tiny")
        return FIXED_STEM if fixed else ""
