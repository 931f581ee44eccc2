"""A tiny vision-language model built entirely offline: BPE tokenizer from the shards' text + random LLaVA.

The model is LLaVA-style from stock ``transformers`` classes (a SigLIP vision tower, a projector and a Qwen2
decoder), its image processor is ``SiglipImageProcessorPil`` (no torchvision, no download) and its tokenizer
is a byte-level BPE trained in-process on the text the policy must write. The Thyme tags and the ChatML
markers are added tokens, so a tag is always exactly one token and piecewise tokenization (prompt, model
pieces, sandbox outputs) equals tokenizing the whole text at once. Everything saves with ``save_pretrained``
and reloads with the Auto classes (stack.md §4).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from synthesis import format as fmt
from train.config import ModelConfig

__all__ = ["CHAT_TOKENS", "EOS", "ID_PATTERN", "PAD", "build_tiny", "build_tokenizer", "number_tokens"]

EOS, PAD, IM_START = "<|im_end|>", "<|endoftext|>", "<|im_start|>"
CHAT_TOKENS = (PAD, IM_START, EOS, fmt.IMAGE_PLACEHOLDER)
PROTOCOL_TOKENS = tuple(t for t in fmt.TAGS if t != fmt.IMAGE_PLACEHOLDER)


_HEX = "[0-9a-f]"
# The 8 hex digits that end an item id (before the extension), in pairs; every other number in runs of up to
# three digits. Copying the prompt's path into the code is then a copy of ~8 tokens that rarely repeat within
# an id (with one token per digit, "1000012" is a run of zeros whose length an induction head cannot see).
ID_PATTERN = (
    rf"(?<=-){_HEX}{{2}}(?={_HEX}{{6}}\.)|(?<=-{_HEX}{{2}}){_HEX}{{2}}(?={_HEX}{{4}}\.)"
    rf"|(?<=-{_HEX}{{4}}){_HEX}{{2}}(?={_HEX}{{2}}\.)|(?<=-{_HEX}{{6}}){_HEX}{{2}}(?=\.)|\d{{1,3}}"
)


def number_tokens() -> list[str]:
    """Every piece :data:`ID_PATTERN` can cut out: 1-3 digit strings and hex pairs (each one token).

    Example:
        >>> len(number_tokens()), number_tokens()[:3], number_tokens()[-1]
        (1266, ['0', '1', '2'], 'ff')
    """
    pieces = [f"{i:0{n}d}" for n in (1, 2, 3) for i in range(10**n)] + [f"{i:02x}" for i in range(256)]
    return list(dict.fromkeys(pieces))


def _with_pieces(backend, pieces: list[str]):
    """``backend`` with each piece in the vocabulary and merges that always build it whole."""
    import json

    from tokenizers import Tokenizer

    state = json.loads(backend.to_str())
    vocab, merges = state["model"]["vocab"], state["model"]["merges"]
    as_lists = not merges or isinstance(merges[0], list)
    have = {tuple(m) if as_lists else tuple(m.split(" ")) for m in merges}
    next_id = max(vocab.values()) + 1
    for piece in pieces:
        if piece not in vocab:
            vocab[piece], next_id = next_id, next_id + 1
        for cut in range(1, len(piece)):  # every split, so whichever pair merges first the rest still merges
            pair = (piece[:cut], piece[cut:])
            if pair not in have:
                have.add(pair)
                merges.append(list(pair) if as_lists else " ".join(pair))
    return Tokenizer.from_str(json.dumps(state))


def build_tokenizer(texts: Iterable[str], vocab_size: int):
    """Train a byte-level BPE on ``texts`` and wrap it as a fast tokenizer (milliseconds, offline).

    Args:
        texts (`Iterable[str]`): the text the model reads and writes (prompts and responses of the shards);
            the merges it learns make the teacher's code templates short.
        vocab_size (`int`): vocabulary size including the special and added tokens and the
            :func:`number_tokens` (at least 1600).

    Example:
        >>> tok = build_tokenizer(["<think>crop it</think> <answer>A</answer>"] * 3, 1600)
        >>> tok.convert_ids_to_tokens(tok("<code>x</code>").input_ids)
        ['<code>', 'x', '</code>']
        >>> tok.convert_ids_to_tokens(tok("crop-1000012-0a1b2c3d.png").input_ids)[3:11]
        ['100', '001', '2', '-', '0a', '1b', '2c', '3d']
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    pieces = number_tokens()
    if vocab_size < len(pieces) + 300:
        raise ValueError(
            f"vocab_size {vocab_size} leaves no room for merges: use at least {len(pieces) + 300}"
        )
    backend = Tokenizer(models.BPE())
    # No word splitting, so the fixed prompt and the code templates merge into few tokens; numbers and ids are
    # cut by ID_PATTERN into pieces that are always one token, so a path is copied token for token.
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(ID_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(pieces),
        special_tokens=[*CHAT_TOKENS, *PROTOCOL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=_with_pieces(backend, pieces), eos_token=EOS, pad_token=PAD
    )
    tok.add_tokens(list(PROTOCOL_TOKENS))  # split the text at tags, like the special tokens
    return tok


def build_tiny(cfg: ModelConfig, texts: Iterable[str], out_dir: str | Path, seed: int = 0) -> Path:
    """Build, initialise and save the tiny LLaVA (model, tokenizer, processor) to ``out_dir``.

    Args:
        cfg (`ModelConfig`): sizes of the text and vision towers and the image side.
        texts (`Iterable[str]`): training text for the tokenizer.
        out_dir (`str | Path`): where the checkpoint goes; reload it with :func:`train.policy.load_policy`.
        seed (`int`, *optional*, defaults to `0`): initialisation seed.
    """
    import torch
    from transformers import (
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tok = build_tokenizer(texts, cfg.vocab_size)
    text = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=4 * cfg.hidden_size,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=max(1, cfg.heads // 2),
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    vision = SiglipVisionConfig(
        hidden_size=cfg.vision_hidden,
        intermediate_size=4 * cfg.vision_hidden,
        num_hidden_layers=cfg.vision_layers,
        num_attention_heads=4,
        image_size=cfg.image_size,
        patch_size=cfg.patch_size,
    )
    config = LlavaConfig(
        text_config=text,
        vision_config=vision,
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_token_index=tok.convert_tokens_to_ids(fmt.IMAGE_PLACEHOLDER),
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    processor = LlavaProcessor(
        image_processor=SiglipImageProcessorPil(size={"height": cfg.image_size, "width": cfg.image_size}),
        tokenizer=tok,
        patch_size=cfg.patch_size,
        vision_feature_select_strategy="full",
        image_token=fmt.IMAGE_PLACEHOLDER,
        num_additional_image_tokens=0,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
