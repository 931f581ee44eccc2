"""A tiny random-weight Qwen2-VL / Qwen2.5-VL built offline: the code path of the original backbone.

The trainer's default model is a LLaVA (:mod:`train.tiny_model`); a real run loads a Qwen2(.5)-VL checkpoint,
whose images go through another branch of :class:`train.policy.VisionAdapter` (``<|vision_start|>``, one
``<|image_pad|>`` per merged patch, ``<|vision_end|>``, ``pixel_values`` + ``image_grid_thw``) and whose
decoder uses multimodal RoPE. This module builds the same architecture at toy size from its config classes
(random weights, the BPE tokenizer of :func:`train.tiny_model.build_tokenizer` plus Qwen's vision tokens, a
``Qwen2VLImageProcessorPil`` config) and saves it with ``save_pretrained``, so that path is tested end to end
without a download. It is not meant to learn anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from train.config import ModelConfig
from train.tiny_model import build_tokenizer

__all__ = ["QWEN_VISION_TOKENS", "build_tiny_qwen"]

# Qwen's vision markers, in the order of their ids in the real vocabulary.
QWEN_VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")


def build_tiny_qwen(
    cfg: ModelConfig,
    texts: Iterable[str],
    out_dir: str | Path,
    seed: int = 0,
    variant: Literal["qwen2_vl", "qwen2_5_vl"] = "qwen2_vl",
) -> Path:
    """Build, initialise and save a tiny Qwen2-VL (or Qwen2.5-VL) with its tokenizer and image processor.

    The sizes of :func:`train.tiny_model.build_tiny` (text width, layers, heads, vision width and layers,
    vocabulary); Qwen's own patch 14 and merge 2, so a 56 x 56 image is 4 x 4 patches, i.e. 4
    ``<|image_pad|>`` tokens. Reload it with :func:`train.policy.load_policy` (or pass the folder as
    ``--model`` to ``train/run.py``); the policy sets the image budget to ``cfg.image_size`` squared.

    Args:
        cfg (`ModelConfig`): sizes (``patch_size`` is not used: Qwen's patches are 14 px).
        texts (`Iterable[str]`): training text for the tokenizer (prompts and responses of the shards).
        out_dir (`str | Path`): where the checkpoint goes.
        seed (`int`, *optional*, defaults to `0`): initialisation seed.
        variant (`str`, *optional*, defaults to `"qwen2_vl"`): ``"qwen2_vl"`` or ``"qwen2_5_vl"``.
    """
    import torch
    from transformers import (
        PreTrainedModel,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tok = build_tokenizer(texts, cfg.vocab_size)
    tok.add_special_tokens({"additional_special_tokens": list(QWEN_VISION_TOKENS)})
    start, end, image, video = (tok.convert_tokens_to_ids(t) for t in QWEN_VISION_TOKENS)
    half = cfg.hidden_size // cfg.heads // 2  # mrope_section splits head_dim / 2 into (t, h, w) like
    t = half // 4  # the real checkpoints' (16, 24, 24)
    text: dict[str, Any] = {
        "vocab_size": len(tok),
        "hidden_size": cfg.hidden_size,
        "intermediate_size": 4 * cfg.hidden_size,
        "num_hidden_layers": cfg.layers,
        "num_attention_heads": cfg.heads,
        "num_key_value_heads": max(1, cfg.heads // 2),
        "max_position_embeddings": 4096,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [t, (half - t) // 2, half - t - (half - t) // 2],
        },
        "bos_token_id": tok.eos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }
    ids = {
        "image_token_id": image,
        "video_token_id": video,
        "vision_start_token_id": start,
        "vision_end_token_id": end,
    }
    vision: dict[str, Any] = {
        "depth": cfg.vision_layers,
        "hidden_size": cfg.hidden_size,  # Qwen2-VL: the merger's output width, i.e. the text width
        "num_heads": max(1, cfg.vision_hidden // 16),
    }
    torch.manual_seed(seed)
    model: PreTrainedModel
    if variant == "qwen2_vl":
        vision["embed_dim"] = cfg.vision_hidden
        config = Qwen2VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **ids)
        model = Qwen2VLForConditionalGeneration(config)
    elif variant == "qwen2_5_vl":
        vision |= {"hidden_size": cfg.vision_hidden, "intermediate_size": 4 * cfg.vision_hidden}
        vision |= {"out_hidden_size": cfg.hidden_size, "fullatt_block_indexes": [cfg.vision_layers - 1]}
        config25 = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **ids)
        model = Qwen2_5_VLForConditionalGeneration(config25)
    else:
        raise ValueError(f"unknown variant {variant!r}: use 'qwen2_vl' or 'qwen2_5_vl'")
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    # train.policy reloads it with max_pixels = image_size^2
    side = cfg.image_size * cfg.image_size
    Qwen2VLImageProcessorPil(min_pixels=min(56 * 56, side), max_pixels=side).save_pretrained(out)
    return out
