"""Random words, codes and digit strings for targets, distractors and clutter.

Answers must be read back exactly, so codes avoid look-alike characters (``O``/``0``, ``I``/``1``/``l``,
``S``/``5``, ``B``/``8``, ``Z``/``2``) and numbers never start with a zero.
"""

from __future__ import annotations

import numpy as np

from synthesis.tasks.drawing.rand import pick, randint

__all__ = [
    "CODE_DIGITS",
    "CODE_LETTERS",
    "WORDS",
    "random_code",
    "random_name",
    "random_number",
    "random_word",
]

WORDS = (
    "amber",
    "anchor",
    "apple",
    "arrow",
    "atlas",
    "badge",
    "bakery",
    "banjo",
    "basket",
    "beacon",
    "bridge",
    "bucket",
    "cactus",
    "camera",
    "candle",
    "canyon",
    "carpet",
    "castle",
    "cedar",
    "cherry",
    "circus",
    "clover",
    "cobalt",
    "comet",
    "copper",
    "coral",
    "cotton",
    "cricket",
    "dahlia",
    "delta",
    "desert",
    "dragon",
    "falcon",
    "feather",
    "ferry",
    "fjord",
    "forest",
    "fossil",
    "garden",
    "garnet",
    "ginger",
    "glacier",
    "granite",
    "harbor",
    "hazel",
    "helmet",
    "hermit",
    "island",
    "ivory",
    "jacket",
    "jasmine",
    "jungle",
    "kettle",
    "kiwi",
    "ladder",
    "lagoon",
    "lantern",
    "lemon",
    "lizard",
    "lotus",
    "magnet",
    "mango",
    "maple",
    "marble",
    "meadow",
    "melon",
    "mirror",
    "monsoon",
    "mosaic",
    "muffin",
    "nectar",
    "nickel",
    "noodle",
    "oasis",
    "olive",
    "onyx",
    "orbit",
    "orchid",
    "otter",
    "paddle",
    "panda",
    "parrot",
    "pebble",
    "pepper",
    "piano",
    "pickle",
    "pillow",
    "planet",
    "pocket",
    "pollen",
    "poppy",
    "prairie",
    "puffin",
    "quartz",
    "quiver",
    "rabbit",
    "radish",
    "raven",
    "ribbon",
    "river",
    "rocket",
    "saddle",
    "salmon",
    "sapphire",
    "saturn",
    "scarlet",
    "shadow",
    "silver",
    "sparrow",
    "spiral",
    "sponge",
    "spruce",
    "summit",
    "sunset",
    "tablet",
    "thunder",
    "tiger",
    "timber",
    "tomato",
    "topaz",
    "tulip",
    "tunnel",
    "turtle",
    "umbrella",
    "velvet",
    "violet",
    "volcano",
    "walnut",
    "wander",
    "willow",
    "window",
    "winter",
    "wizard",
    "yellow",
    "zebra",
    "zephyr",
    "zigzag",
)
"""Common, unambiguous English words (lower case)."""

CODE_LETTERS = "ACDEFGHJKMNPQRTUVWXY"
CODE_DIGITS = "3467"  # with 9 below: no 0/1/2/5/8 look-alikes of O/I/Z/S/B
_DIGITS = CODE_DIGITS + "9"

_FIRST = (
    "Alex",
    "Maria",
    "Jonas",
    "Priya",
    "Tomas",
    "Lena",
    "Omar",
    "Chloe",
    "Ravi",
    "Nora",
    "Felix",
    "Yuki",
)
_LAST = ("Walker", "Moreau", "Tanaka", "Keller", "Okafor", "Silva", "Novak", "Larsen", "Haddad", "Brooks")


def random_word(rng: np.random.Generator, case: str = "random") -> str:
    """A dictionary word, in lower, upper or title case.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        case (`str`, *optional*, defaults to `"random"`): ``"lower"``, ``"upper"``, ``"title"`` or
            ``"random"``.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> random_word(make_rng(0), "upper").isupper()
        True
    """
    word = pick(rng, WORDS)
    case = pick(rng, ("lower", "upper", "title")) if case == "random" else case
    return {"lower": word.lower(), "upper": word.upper(), "title": word.title()}[case]


def random_code(rng: np.random.Generator) -> str:
    """A short serial-like code such as ``"KX-4739"`` made of unambiguous characters.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> "-" in random_code(make_rng(0))
        True
    """
    letters = "".join(pick(rng, CODE_LETTERS) for _ in range(randint(rng, 2, 3)))
    digits = "".join(pick(rng, _DIGITS) for _ in range(randint(rng, 2, 4)))
    return f"{letters}-{digits}"


def random_number(rng: np.random.Generator, min_digits: int = 2, max_digits: int = 5) -> str:
    """A digit string without a leading zero, e.g. ``"4817"``.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        min_digits (`int`, *optional*, defaults to `2`): fewest digits.
        max_digits (`int`, *optional*, defaults to `5`): most digits.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> s = random_number(make_rng(0), 3, 3)
        >>> len(s), s[0] != "0"
        (3, True)
    """
    n = randint(rng, min_digits, max_digits)
    return str(randint(rng, 1, 9)) + "".join(str(randint(rng, 0, 9)) for _ in range(n - 1))


def random_name(rng: np.random.Generator) -> str:
    """A first and last name for document-like cards.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> len(random_name(make_rng(0)).split())
        2
    """
    return f"{pick(rng, _FIRST)} {pick(rng, _LAST)}"
