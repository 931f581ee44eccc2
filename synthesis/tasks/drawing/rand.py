"""Small wrappers over a ``numpy.random.Generator`` that return plain Python values.

Every generator threads one ``Generator`` built from the task seed through all its drawing helpers; nothing
touches a global RNG, so the same seed gives the same image. These wrappers keep numpy scalar types out of
task params (which must be JSON-serialisable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

__all__ = ["chance", "make_rng", "pick", "randint", "sample", "uniform"]

T = TypeVar("T")


def make_rng(seed: int, salt: str = "") -> np.random.Generator:
    """Seeded generator; ``salt`` separates independent streams drawn from one task seed.

    Args:
        seed (`int`): the task seed.
        salt (`str`, *optional*, defaults to `""`): a name for the stream (e.g. the family), hashed
            into the seed.

    Example:
        >>> int(make_rng(1, "crop").integers(100)) == int(make_rng(1, "crop").integers(100))
        True
    """
    key = [int(seed)] + [ord(c) for c in salt]
    return np.random.default_rng(np.random.SeedSequence(key))


def pick(rng: np.random.Generator, seq: Sequence[T]) -> T:
    """One element of ``seq``, uniformly.

    Example:
        >>> pick(make_rng(0), ["a"])
        'a'
    """
    return seq[int(rng.integers(len(seq)))]


def randint(rng: np.random.Generator, lo: int, hi: int) -> int:
    """Integer in ``[lo, hi]`` inclusive.

    Example:
        >>> randint(make_rng(0), 3, 3)
        3
    """
    return int(rng.integers(int(lo), int(hi) + 1))


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Float in ``[lo, hi)``.

    Example:
        >>> 1.0 <= uniform(make_rng(0), 1.0, 2.0) < 2.0
        True
    """
    return float(rng.uniform(lo, hi))


def chance(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p``.

    Example:
        >>> chance(make_rng(0), 1.0)
        True
    """
    return bool(rng.random() < p)


def sample(rng: np.random.Generator, seq: Sequence[T], k: int) -> list[T]:
    """``k`` distinct elements of ``seq`` in random order (all of them if ``k >= len(seq)``).

    Example:
        >>> sorted(sample(make_rng(0), [1, 2, 3], 5))
        [1, 2, 3]
    """
    order = rng.permutation(len(seq))[: max(0, k)]
    return [seq[int(i)] for i in order]
