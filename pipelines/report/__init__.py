"""The run report: ``<run>/report/index.html``, a static site of a build's summary and every record.

Written at the end of every build_sft and build_rl run (``run.report``), or on an existing output folder with
``python -m pipelines.report OUTPUT_DIR``. It opens from disk (``file://``) with no server and no dependency.
"""

from pipelines.report.build import write_report

__all__ = ["write_report"]
