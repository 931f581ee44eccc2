"""The crop family's ``grid`` layout: an N x N grid of cells with one large digit in every cell.

The canvas is ``grid_cells * grid_cell_px`` on a side, whatever ``long_side_range`` says, so the pixel box of
"row r, column c" is a fixed function of r and c (a policy can learn it from text alone). Each glyph fills
most of its cell: once the whole canvas is shrunk to a small model's input (64 px) a glyph is a few pixels
tall and unreadable, while the crop of its cell, enlarged, shows it at full size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.config import GRID_INKS, CropConfig
from synthesis.tasks.drawing.backgrounds import add_grain
from synthesis.tasks.drawing.fonts import font_names, load_font
from synthesis.tasks.drawing.geometry import Box, int_box
from synthesis.tasks.drawing.rand import pick, randint, uniform

__all__ = ["GridScene", "build_grid", "cell_box"]


@dataclass
class GridScene:
    """A rendered grid: the image, every cell's digit, the asked cell (0-based) and its glyph box."""

    image: Image.Image
    digits: list[list[str]]
    row: int
    col: int
    glyph_box: Box
    font: str
    glyph_px: int

    @property
    def answer(self) -> str:
        """The digit in the asked cell."""
        return self.digits[self.row][self.col]


def cell_box(row: int, col: int, cell_px: int) -> Box:
    """The pixel box of the cell at 0-based ``row`` and ``col`` (grid lines included on its top-left side).

    Example:
        >>> cell_box(2, 4, 100)
        (400, 200, 500, 300)
    """
    return (col * cell_px, row * cell_px, (col + 1) * cell_px, (row + 1) * cell_px)


def build_grid(rng: np.random.Generator, cfg: CropConfig) -> GridScene:
    """Render the grid for ``cfg``; the same generator state gives the same pixels.

    Args:
        rng (`numpy.random.Generator`): the task's generator.
        cfg (`CropConfig`): ``grid_cells``, ``grid_cell_px``, ``grid_glyph_range``, ``grid_line_px`` and
            ``grain``.

    Example:
        >>> from synthesis.tasks.drawing.rand import make_rng
        >>> g = build_grid(make_rng(0), CropConfig(layout="grid", grid_cells=4, grid_cell_px=80))
        >>> g.image.size, len(g.digits), g.answer.isdigit()
        ((320, 320), 4, True)
    """
    n, cell = cfg.grid_cells, cfg.grid_cell_px
    side = n * cell
    img = Image.new("RGB", (side, side), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    for k in range(n + 1):  # the lines: a cell's box starts on its top-left line
        at = min(k * cell, side - cfg.grid_line_px)
        draw.rectangle((at, 0, at + cfg.grid_line_px - 1, side - 1), fill=(90, 90, 90))
        draw.rectangle((0, at, side - 1, at + cfg.grid_line_px - 1), fill=(90, 90, 90))
    row, col = randint(rng, 0, n - 1), randint(rng, 0, n - 1)
    faces = tuple(cfg.grid_fonts) or font_names("Bold")
    digits: list[list[str]] = [["" for _ in range(n)] for _ in range(n)]
    asked: tuple[Box, str, int] | None = None
    for r in range(n):
        for c in range(n):
            digit = str(randint(rng, 0, 9))
            font_name = pick(rng, faces)
            px = int(cell * uniform(rng, *cfg.grid_glyph_range))
            box = _draw_glyph(rng, draw, digit, font_name, px, cell_box(r, c, cell), cfg)
            digits[r][c] = digit
            if (r, c) == (row, col):
                asked = (box, font_name, px)
    assert asked is not None
    img = Image.fromarray(add_grain(np.asarray(img), rng, cfg.grain))
    return GridScene(img, digits, row, col, asked[0], asked[1], asked[2])


def _draw_glyph(
    rng, draw: ImageDraw.ImageDraw, digit: str, font_name: str, px: int, box: Box, cfg: CropConfig
) -> Box:
    """Draw ``digit`` at em size ``px`` inside ``box``, clear of its lines, centred and then moved at random
    by up to ``cfg.grid_jitter`` of the free space each way; returns the ink box."""
    font = load_font(font_name, px)
    x1, y1, x2, y2 = int_box(font.getbbox(digit))
    w, h = x2 - x1, y2 - y1
    inner = (box[0] + cfg.grid_line_px + 2, box[1] + cfg.grid_line_px + 2, box[2] - 2, box[3] - 2)
    free_x, free_y = max(0, inner[2] - inner[0] - w), max(0, inner[3] - inner[1] - h)
    reach_x, reach_y = int(cfg.grid_jitter * free_x / 2), int(cfg.grid_jitter * free_y / 2)
    x = inner[0] + free_x // 2 + randint(rng, -reach_x, reach_x)
    y = inner[1] + free_y // 2 + randint(rng, -reach_y, reach_y)
    ink = GRID_INKS[pick(rng, cfg.grid_inks)]
    draw.text((x - x1, y - y1), digit, font=font, fill=ink)
    return (x, y, x + w, y + h)
