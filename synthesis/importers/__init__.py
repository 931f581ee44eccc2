"""Importers of outside data, in one place: the released Thyme SFT data and plain
(image, question, answer) rows.

* :func:`import_thyme_file` / :func:`import_thyme_record` (:mod:`synthesis.importers.thyme`): released SFT
  records re-run in the sandbox, verified and emitted as :class:`~synthesis.records.SftRecord`
  (provenance ``imported``);
* :func:`read_task_source` (:mod:`synthesis.importers.tasks`): JSONL/Parquet rows (and the RL release) as
  :class:`~synthesis.tasks.Task` (family ``user``) for the teacher or the RL prompt builder.

Every bad input becomes an :class:`ImportFailure` with an ``import_*`` reason code (:data:`IMPORT_REASONS`),
never an exception; ``ImportFailure.dead_letter(raw)`` gives its dead-letter row.
"""

from synthesis.importers.common import IMPORT_REASONS, ImportFailure, guess_answer_type, normalise_image
from synthesis.importers.tasks import TASK_FAMILY, read_task_source, task_from_row
from synthesis.importers.text import outputs_agree, released_question, rewrite_paths
from synthesis.importers.thyme import (
    GENERATOR,
    IMPORTER_VERSION,
    import_thyme_file,
    import_thyme_record,
    imported_user_prompt,
    read_thyme_file,
)

__all__ = [
    "GENERATOR",
    "IMPORTER_VERSION",
    "IMPORT_REASONS",
    "TASK_FAMILY",
    "ImportFailure",
    "guess_answer_type",
    "import_thyme_file",
    "import_thyme_record",
    "imported_user_prompt",
    "normalise_image",
    "outputs_agree",
    "read_task_source",
    "read_thyme_file",
    "released_question",
    "rewrite_paths",
    "task_from_row",
]
