"""Load a policy (model, tokenizer, image adapter) from a checkpoint folder or hub id, optionally with LoRA.

Two image conventions are supported, chosen from the model config:

* LLaVA (the tiny model): every ``<image>`` becomes ``(side / patch)^2`` image tokens, ``pixel_values`` is one
  fixed-size tensor per image;
* Qwen2-VL / Qwen2.5-VL (the original's backbone): every ``<image>`` becomes ``<|vision_start|>``, one
  ``<|image_pad|>`` per merged patch, ``<|vision_end|>``, with ``pixel_values`` and ``image_grid_thw`` from
  the PIL image processor (the stock processor class needs torchvision, training.md §5.1); the model also
  needs ``mm_token_type_ids`` (1 on image tokens) for its multimodal RoPE, which :func:`load_policy` adds to
  every forward call that carries images (:meth:`VisionAdapter.token_types`), so callers pass the same batch
  to either family. ``generate`` computes its positions before any forward, so a generation passes them
  itself.

Images are downscaled before they reach the model (``image_size``); the sandbox keeps working on originals.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from train.config import ModelConfig

__all__ = ["Policy", "VisionAdapter", "decode_image", "load_policy", "resolve_device"]


def decode_image(data: bytes, side: int) -> Image.Image:
    """Decode ``data`` as RGB, shrunk so its long side is at most ``2 * side`` (JPEG drafts decode faster).

    Example:
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (800, 400)).save(buf, format="PNG")
        >>> decode_image(buf.getvalue(), 64).size
        (128, 64)
    """
    image: Image.Image = Image.open(io.BytesIO(data))
    image.draft("RGB", (2 * side, 2 * side))
    image = image.convert("RGB")
    image.thumbnail((2 * side, 2 * side))
    return image


@dataclass
class VisionAdapter:
    """How images become tokens and tensors for one model family.

    Args:
        kind (`str`): ``"llava"`` or ``"qwen2_vl"``.
        image_processor (`Any`): the PIL image processor.
        side (`int`): image side the model sees.
        token_ids (`dict[str, int]`): ``image`` (and ``start``/``end`` for Qwen2-VL) token ids.
        tokens_per_image (`int`): LLaVA: image tokens per image.
    """

    kind: str
    image_processor: Any
    side: int
    token_ids: dict[str, int]
    tokens_per_image: int = 0

    def encode(self, images: list[bytes]) -> tuple[list[list[int]], dict[str, Any]]:
        """Token block of every image and the model's pixel inputs, in the order given."""
        if not images:
            return [], {}
        pil = [decode_image(b, self.side) for b in images]
        out = self.image_processor(images=pil, return_tensors="pt")
        if self.kind == "llava":
            return [[self.token_ids["image"]] * self.tokens_per_image for _ in pil], {
                "pixel_values": out["pixel_values"]
            }
        merge = self.image_processor.merge_size**2
        blocks = [
            [
                self.token_ids["start"],
                *[self.token_ids["image"]] * (int(t * h * w) // merge),
                self.token_ids["end"],
            ]
            for t, h, w in out["image_grid_thw"].tolist()
        ]
        return blocks, {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}

    def token_types(self, input_ids) -> dict[str, Any]:
        """Qwen2-VL's ``mm_token_type_ids`` for ``input_ids`` (1 on image tokens, 0 elsewhere); LLaVA: none.

        Example:
            >>> import torch
            >>> qwen = VisionAdapter("qwen2_vl", None, 56, {"image": 5, "start": 4, "end": 6})
            >>> qwen.token_types(torch.tensor([[1, 4, 5, 5, 6]]))["mm_token_type_ids"].tolist()
            [[0, 0, 1, 1, 0]]
        """
        if self.kind == "llava":
            return {}
        return {"mm_token_type_ids": (input_ids == self.token_ids["image"]).int()}


@dataclass
class Policy:
    """A loaded policy: the model, its tokenizer and image adapter, and the device it lives on."""

    model: Any
    tokenizer: Any
    vision: VisionAdapter
    device: str


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``."""
    import torch

    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


def _add_token_types(model, vision: VisionAdapter) -> None:
    """Give every image-carrying forward of the Qwen2(.5)-VL inner model its ``mm_token_type_ids``.

    transformers 5 refuses ``image_grid_thw`` without them; the hook sits on the inner ``Qwen2VLModel``
    (what ``forward`` calls as a module), so it also works under a PEFT wrapper.
    """

    def hook(module, args, kwargs):
        ids, given = kwargs.get("input_ids"), kwargs.get("mm_token_type_ids")
        if kwargs.get("image_grid_thw") is not None and given is None and ids is not None:
            kwargs.update(vision.token_types(ids))
        return args, kwargs

    for module in model.modules():
        if type(module).__name__ in ("Qwen2VLModel", "Qwen2_5_VLModel"):
            module.register_forward_pre_hook(hook, with_kwargs=True)
            return
    raise ValueError(f"no Qwen2-VL inner model in {type(model).__name__}")


def _adapter(model, tok, path: str, side: int) -> VisionAdapter:
    config = model.config
    if config.model_type == "llava":
        from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

        vision = config.vision_config
        siglip = SiglipImageProcessorPil(size={"height": vision.image_size, "width": vision.image_size})
        per_image = (vision.image_size // vision.patch_size) ** 2
        return VisionAdapter(
            "llava", siglip, vision.image_size, {"image": config.image_token_index}, per_image
        )
    if config.model_type in ("qwen2_vl", "qwen2_5_vl"):
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

        qwen = Qwen2VLImageProcessorPil.from_pretrained(path, max_pixels=side * side, min_pixels=56 * 56)
        ids = {
            "image": config.image_token_id,
            "start": config.vision_start_token_id,
            "end": config.vision_end_token_id,
        }
        return VisionAdapter("qwen2_vl", qwen, side, ids)
    raise ValueError(f"unsupported model type {config.model_type!r}: use a LLaVA or Qwen2(.5)-VL checkpoint")


def load_policy(path: str | Path, cfg: ModelConfig, trainable: bool = True) -> Policy:
    """Load the checkpoint at ``path`` (a folder or hub id) with the settings of ``cfg``.

    Args:
        path (`str | Path`): checkpoint folder (tiny model, SFT output) or a Hugging Face id.
        cfg (`ModelConfig`): device, image side and LoRA rank.
        trainable (`bool`, *optional*, defaults to `True`): False loads a frozen copy (the KL reference).
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    device = resolve_device(cfg.device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    loaded = AutoModelForImageTextToText.from_pretrained(str(path), dtype=dtype)
    # transformers types PreTrainedModel.to through functools.wraps, whose stub keeps `self` as a parameter
    model = loaded.to(device)  # type: ignore[arg-type]
    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if trainable and cfg.lora_rank and not Path(path, "adapter_config.json").exists():
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(
            model,
            LoraConfig(
                r=cfg.lora_rank,
                lora_alpha=2 * cfg.lora_rank,
                target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            ),
        )
    model.train(trainable)
    if not trainable:
        model.requires_grad_(False)
    vision = _adapter(model, tok, str(path), cfg.image_size)
    if vision.kind == "qwen2_vl":
        _add_token_types(model, vision)
    return Policy(model, tok, vision, device)
