"""The corpus's original images: small declarative scenes drawn with Pillow and the DejaVu fonts.

A :class:`Scene` is a canvas (size, a vertical background gradient, a little seeded clutter) plus named items
drawn on top in order: rectangles, ellipses, polygons, octagons, lines and text (optionally turned). Drawing
returns the encoded file in the scene's format (JPEG quality 95, PNG, RGBA PNG with a transparent margin, or a
palette PNG) and the bounding box of every named item, so the builder can check that a crop really holds
what the question asks about. Everything is deterministic: no global RNG, fixed fonts.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from synthesis.tasks.drawing.fonts import load_font

__all__ = ["Item", "Scene", "ell", "line", "octagon", "poly", "rect", "star", "text", "wedge"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Item:
    """One drawn thing: ``kind`` is rect, ellipse, poly, octagon, line or text; ``name`` may be empty."""

    kind: str
    name: str
    geometry: tuple
    fill: tuple[int, ...] | None
    label: str = ""
    size: int = 0
    font: str = "DejaVuSans-Bold"
    angle: int = 0
    outline: tuple[int, ...] | None = None
    width: int = 0
    anchor: str = "la"


def rect(name: str, box: Box, fill, outline=None, width: int = 0) -> Item:
    return Item("rect", name, tuple(box), fill, outline=outline, width=width)


def ell(name: str, box: Box, fill, outline=None, width: int = 0) -> Item:
    return Item("ellipse", name, tuple(box), fill, outline=outline, width=width)


def poly(name: str, points, fill, outline=None, width: int = 0) -> Item:
    return Item("poly", name, tuple(tuple(p) for p in points), fill, outline=outline, width=width)


def octagon(name: str, center: tuple[int, int], radius: int, fill) -> Item:
    return Item("octagon", name, (*center, radius), fill)


def line(name: str, points, fill, width: int = 4) -> Item:
    return Item("line", name, tuple(tuple(p) for p in points), fill, width=width)


def star(name: str, center: tuple[int, int], radius: int, fill) -> Item:
    """A five-pointed star (inner radius 0.4 of ``radius``), point up."""
    angles = np.deg2rad(np.arange(10) * 36 - 90)
    radii = [radius if k % 2 == 0 else radius * 0.4 for k in range(10)]
    points = [
        (center[0] + r * float(np.cos(a)), center[1] + r * float(np.sin(a)))
        for r, a in zip(radii, angles, strict=True)
    ]
    return Item("poly", name, tuple(points), fill)


def wedge(name: str, box: Box, start: float, end: float, fill) -> Item:
    """A pie slice of the ellipse in ``box`` from ``start`` to ``end`` degrees (clockwise from 3 o'clock)."""
    return Item("pieslice", name, (tuple(box), start, end), fill, outline=(255, 255, 255), width=2)


def text(
    name: str,
    xy: tuple[int, int],
    label: str,
    size: int,
    fill,
    font: str = "DejaVuSans-Bold",
    angle: int = 0,
    anchor: str = "la",
) -> Item:
    """Text placed at ``xy`` by ``anchor`` (Pillow's anchors: "la" top-left, "mm" centre); ``angle`` turns
    it counter-clockwise (then ``xy`` is the top-left of the turned tile)."""
    return Item("text", name, tuple(xy), fill, label=label, size=size, font=font, angle=angle, anchor=anchor)


@dataclass(frozen=True)
class Scene:
    """A canvas and its items; ``fmt`` is jpeg, png, rgba or p (palette).

    Args:
        size (`tuple[int, int]`): width and height.
        fmt (`str`): the file format of the original.
        bg (`tuple`): background colour at the top; ``bg2`` at the bottom (a gradient).
        items (`tuple[Item, ...]`): drawn in order after the clutter.
        seed (`int`): seed of the clutter.
        clutter (`int`): how many faint background rectangles and lines to scatter.
    """

    size: tuple[int, int]
    fmt: str
    bg: tuple[int, int, int]
    items: tuple[Item, ...] = ()
    bg2: tuple[int, int, int] | None = None
    seed: int = 0
    clutter: int = 10
    keep_clear: tuple[Box, ...] = field(default=())

    def draw(self) -> tuple[bytes, dict[str, Box]]:
        """The encoded original and the bounding box of every named item."""
        width, height = self.size
        top, bottom = np.array(self.bg, float), np.array(self.bg2 or self.bg, float)
        ramp = np.linspace(0.0, 1.0, height)[:, None, None]
        pixels = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1).round().astype(np.uint8)
        canvas = Image.fromarray(pixels, "RGB")
        draw = ImageDraw.Draw(canvas)
        self._clutter(draw)
        boxes: dict[str, Box] = {}
        for item in self.items:
            box = _draw_item(canvas, draw, item)
            if item.name:
                boxes[item.name] = box
        return _encode(canvas, self.fmt), boxes

    def _clutter(self, draw: ImageDraw.ImageDraw) -> None:
        rng = np.random.default_rng(self.seed)
        width, height = self.size
        base = np.array(self.bg2 or self.bg)
        for _ in range(self.clutter):
            shade = tuple(int(c) for c in np.clip(base + rng.integers(-28, 29, 3), 0, 255))
            x, y = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 30))
            w, h = int(rng.integers(30, width // 5)), int(rng.integers(20, height // 6))
            if any(
                x < bx2 and x + w > bx1 and y < by2 and y + h > by1 for bx1, by1, bx2, by2 in self.keep_clear
            ):
                continue
            if rng.random() < 0.5:
                draw.rectangle((x, y, x + w, y + h), outline=shade, width=2)
            else:
                draw.line((x, y, x + w, y + h // 3), fill=shade, width=2)


def _draw_item(canvas: Image.Image, draw: ImageDraw.ImageDraw, item: Item) -> Box:
    g = item.geometry
    if item.kind == "rect":
        draw.rectangle(g, fill=item.fill, outline=item.outline, width=item.width)
        return g
    if item.kind == "ellipse":
        draw.ellipse(g, fill=item.fill, outline=item.outline, width=item.width)
        return g
    if item.kind in ("poly", "octagon"):
        points = g if item.kind == "poly" else _octagon_points(*g)
        draw.polygon(points, fill=item.fill, outline=item.outline, width=max(item.width, 1))
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))
    if item.kind == "pieslice":
        box, start, end = g
        draw.pieslice(box, start, end, fill=item.fill, outline=item.outline, width=item.width)
        return tuple(box)
    if item.kind == "line":
        draw.line(g, fill=item.fill, width=item.width)
        xs, ys = [p[0] for p in g], [p[1] for p in g]
        return (min(xs), min(ys), max(xs), max(ys))
    return _draw_text(canvas, draw, item)


def _octagon_points(cx: int, cy: int, r: int) -> list[tuple[float, float]]:
    angles = np.deg2rad(np.arange(8) * 45 + 22.5)
    return [(cx + r * float(np.cos(a)), cy + r * float(np.sin(a))) for a in angles]


def _draw_text(canvas: Image.Image, draw: ImageDraw.ImageDraw, item: Item) -> Box:
    font = load_font(item.font, item.size)
    x, y = item.geometry
    if not item.angle:
        draw.text((x, y), item.label, fill=item.fill, font=font, anchor=item.anchor)
        left, top, right, bottom = draw.textbbox((x, y), item.label, font=font, anchor=item.anchor)
        return (left, top, right, bottom)
    left, top, right, bottom = font.getbbox(item.label)
    tile = Image.new("L", (right + 4, bottom + 4), 0)
    ImageDraw.Draw(tile).text((2, 2), item.label, fill=255, font=font)
    tile = tile.rotate(item.angle, expand=True)
    colour = Image.new("RGB", tile.size, item.fill)
    canvas.paste(colour, (x, y), tile)
    found = tile.getbbox() or (0, 0, 1, 1)
    return (x + found[0], y + found[1], x + found[2], y + found[3])


def _encode(canvas: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "jpeg":
        canvas.save(buf, "JPEG", quality=95)
    elif fmt == "png":
        canvas.save(buf, "PNG")
    elif fmt == "rgba":  # a transparent 12-px margin, as in cut-out product shots
        rgba = canvas.convert("RGBA")
        alpha = Image.new("L", canvas.size, 0)
        ImageDraw.Draw(alpha).rectangle((12, 12, canvas.width - 13, canvas.height - 13), fill=255)
        rgba.putalpha(alpha)
        rgba.save(buf, "PNG")
    elif fmt == "p":
        canvas.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(buf, "PNG")
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return buf.getvalue()
