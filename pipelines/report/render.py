"""The report's image files, rendered by the pipeline's workers while the run goes on.

Decoding megapixel canvases into previews and thumbnails is most of a report's cost (0.07 s a record here);
done by the launcher after the run it was serial work that grew with the run, so a second worker could not
shorten it. Rendered by the workers, it is spread over them and overlaps with the rest of the run. The files
go straight into ``<run>/report/`` (content-named and each written whole, so a retried or repeated record
rewrites nothing), where :func:`pipelines.report.write_report` finds them and renders only what is missing;
images an older report showed and this run does not are dropped by it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam
import pyarrow as pa

from pipelines.report.images import write_images
from pipelines.report.views import accepted_images, dead_images

__all__ = ["RenderImages"]


def _row(element: Any, load: Callable[[Any], dict | pa.Table] | None) -> dict[str, Any]:
    if load is None:
        return element
    loaded = load(element)
    return loaded.to_pylist()[0] if isinstance(loaded, pa.Table) else loaded


class RenderImages:
    """Transforms that write the report image files of accepted elements and of dead-letter rows under
    ``folder``; apply :meth:`accepted` to a PCollection where it is produced (before any Flatten), so the
    rendering fuses into the stage that made the records and overlaps with the rest of the run.

    Args:
        folder (`str`): a local folder or store prefix, the run's ``report/``.
        load (`Callable`, *optional*): when the accepted elements are ids, how to read each one's row (e.g.
            ``RecordStore.table``); else they are rows.
    """

    def __init__(self, folder: str, load: Callable[[Any], dict | pa.Table] | None = None):
        self.folder, self.load = folder, load

    def accepted(self) -> beam.PTransform:
        """Accepted elements -> the number of images written or found for each."""
        folder, load = self.folder, self.load
        return beam.Map(lambda e: len(write_images(folder, accepted_images(_row(e, load)))))

    def dead_letters(self) -> beam.PTransform:
        """Dead-letter rows -> the number of images written or found for each."""
        folder = self.folder
        return beam.Map(lambda row: len(write_images(folder, dead_images(row))))
