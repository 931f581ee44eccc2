"""The one thing code outside the sandbox needs of it: open a trajectory session.

The teacher, the importer, the re-execution check, the trainer's rollouts and the pipelines' DoFns take a
``SessionOpener`` rather than a concrete :class:`~sandbox.pool.Sandbox`, so a type checker holds every caller
to the same call and a test may pass anything with the same ``session`` method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sandbox.inputs import ImageLike
    from sandbox.session import Session


class SessionOpener(Protocol):
    """Anything with :meth:`Sandbox.session <sandbox.pool.Sandbox.session>`'s signature."""

    def session(
        self,
        images: list[ImageLike] | tuple[ImageLike, ...] = (),
        image_name: str | None = None,
        strict: bool | None = None,
        item_id: str = "N/A",
        seed: int = 0,
    ) -> Session:
        """Open a trajectory session whose blocks share variables; see ``Sandbox.session``."""
        ...
