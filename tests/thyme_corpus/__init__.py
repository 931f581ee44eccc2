"""A released-format Thyme-SFT test corpus: hand-written records with the verdict each must get.

:func:`write_corpus` writes Parquet shards in the released layout (``image`` list<string> of base64, original
first; ``question``; ``response``) plus ``expected.json``; :func:`read_expectations` maps
``(file, row index)`` to each row's entry; :func:`build_corpus` gives the rows in memory. Every processed
image and printed output is what the row's code made in our sandbox with Thyme's fix-ups on (see
:mod:`.build`); verdicts are described in :mod:`.spec`. Building takes a few seconds (one sandbox worker) and
is byte-for-byte deterministic.

Use from another test folder (pytest puts ``tests/`` on ``sys.path`` once it collects this package; a test run
alone can add it itself)::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/
    from thyme_corpus import read_expectations, verdict_matches, write_corpus
"""

from .build import SHARDS, SIDECAR, CorpusError, CorpusRow, build_corpus, read_expectations, write_corpus
from .spec import SUBSETS, verdict_matches

__all__ = [
    "SHARDS",
    "SIDECAR",
    "SUBSETS",
    "CorpusError",
    "CorpusRow",
    "build_corpus",
    "read_expectations",
    "verdict_matches",
    "write_corpus",
]
