"""The report's image files, rendered by the pipeline's workers while the run goes on.

Decoding megapixel canvases into previews and thumbnails is most of a report's cost (0.07 s a record here);
done by the launcher after the run it was serial work that grew with the run, so a second worker could not
shorten it. Rendered by the workers into the staging folder, it is spread over them and overlaps with the
rest of the run; the shards' promotion moves the files into ``<run>/report/`` and
:func:`pipelines.report.write_report` finds them there (content-named, so it renders only what is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam
import pyarrow as pa

from pipelines.report.images import write_images
from pipelines.report.views import accepted_images, dead_images
from runconfig import storage

__all__ = ["RenderImages", "report_stage"]


def report_stage(stage: str) -> str:
    """Where a run's workers render report images: ``report/`` of its staging folder, promoted with the
    shards."""
    return storage.join(stage, "report")


def _row(element: Any, load: Callable[[Any], dict | pa.Table] | None) -> dict[str, Any]:
    if load is None:
        return element
    loaded = load(element)
    return loaded.to_pylist()[0] if isinstance(loaded, pa.Table) else loaded


class RenderImages(beam.PTransform):
    """Write the report image files of every accepted element and dead-letter row under ``folder``.

    Args:
        folder (`str`): a local folder or store prefix (:func:`report_stage` of the run's staging folder).
        load (`Callable`, *optional*): when the accepted elements are ids, how to read each one's row (e.g.
            ``RecordStore.table``); else they are rows.

    Applied to ``(accepted, dead_letter_rows)``; returns nothing worth keeping (the files are the output).
    """

    def __init__(self, folder: str, load: Callable[[Any], dict | pa.Table] | None = None):
        super().__init__()
        self.folder, self.load = folder, load

    def expand(self, pcolls):
        accepted, dead_rows = pcolls
        folder, load = self.folder, self.load
        shown = accepted | "AcceptedImages" >> beam.Map(
            lambda e: len(write_images(folder, accepted_images(_row(e, load))))
        )
        dead = dead_rows | "DeadLetterImages" >> beam.Map(lambda r: len(write_images(folder, dead_images(r))))
        return (shown, dead) | "AllRendered" >> beam.Flatten()
