"""The tiny model's tokenizer: ids and numbers become tokens that a copy reproduces token for token."""

import pytest

from synthesis import format as fmt
from train.tiny_model import build_tokenizer, number_tokens

PATH = "/mnt/data/input/crop-1000012-0a1b2c3d.png"


@pytest.fixture(scope="module")
def tokenizer(sft_records):
    return build_tokenizer([r.response for r in sft_records], 1600)


def test_every_number_piece_is_one_token(tokenizer):
    for piece in number_tokens():
        if piece.isdigit():
            assert len(tokenizer(piece, add_special_tokens=False).input_ids) == 1, piece
        tail = tokenizer.convert_ids_to_tokens(
            tokenizer(f"-{piece * 4}.", add_special_tokens=False).input_ids
        )
        if len(piece) == 2:  # the hex tail of an id: four pairs
            assert tail == ["-", piece, piece, piece, piece, "."], piece


def test_the_id_is_the_same_tokens_in_the_prompt_and_in_the_code(tokenizer):
    prompt = fmt.render_user_prompt("Q?", PATH, (3584, 2000))
    code = f'image_path = "{PATH}"\nimg = Image.open(image_path)'
    expected = ["100", "001", "2", "-", "0a", "1b", "2c", "3d"]
    for text in (prompt, code):
        tokens = tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False).input_ids)
        start = tokens.index("100")
        assert tokens[start : start + len(expected)] == expected
    assert tokenizer.decode(tokenizer(prompt, add_special_tokens=False).input_ids) == prompt


def test_vocabulary_stays_within_its_size(tokenizer):
    assert len(tokenizer) <= 1600
    with pytest.raises(ValueError, match="at least"):
        build_tokenizer(["x"], 1000)
