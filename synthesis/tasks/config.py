"""Typed configs for the task generators: one dataclass per family, composed into :class:`TasksConfig`.

``pipeline.yaml``'s ``tasks:`` section overrides these defaults by field name. The defaults keep a run fast
(crop images of 2-3.5K on the long side, a few hundred milliseconds per task) while every size is
configurable up to 8K. Cross-field rules are checked in ``__post_init__`` with a message that says what to
set instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from synthesis.tasks.drawing.backgrounds import BACKGROUND_KINDS

__all__ = [
    "COMPUTE_KINDS",
    "COMPUTE_OPERATIONS",
    "CROP_LAYOUTS",
    "CONTRAST_KINDS",
    "CROP_TARGET_KINDS",
    "FAMILIES",
    "GRID_INKS",
    "ID_KEY",
    "MULTI_ROUND_MODES",
    "NO_CODE_KINDS",
    "ROTATE_CONTENT_KINDS",
    "ComputeConfig",
    "ContrastConfig",
    "CropConfig",
    "MultiRoundConfig",
    "NoCodeConfig",
    "RotateConfig",
    "TasksConfig",
]

FAMILIES = ("crop", "rotate", "contrast", "compute", "multi_round", "no_code")
CROP_TARGET_KINDS = ("text", "digits", "object", "sign")
CROP_LAYOUTS = ("scene", "grid")
# Dark inks of the grid layout's digits, all far from its white cells, so colour never gives a digit away.
GRID_INKS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "navy": (25, 35, 120),
    "dark green": (20, 90, 40),
    "maroon": (120, 25, 30),
    "purple": (80, 30, 110),
}
# Metadata key of a field left out of the task-id hash while it holds its default (assemble.id_config), so
# adding an option keeps the ids and bytes of every existing config.
ID_KEY = "omit_from_id_at_default"
ROTATE_CONTENT_KINDS = ("text_lines", "card", "arrow")
CONTRAST_KINDS = ("low_contrast", "dark")
COMPUTE_KINDS = ("table", "bar_chart", "figure")
COMPUTE_OPERATIONS = ("sum", "difference", "average", "ratio", "area", "perimeter")
MULTI_ROUND_MODES = ("zoom_in", "wrong")
NO_CODE_KINDS = ("color", "count", "word", "yes_no")
MAX_SIDE = 8192


def _range(name: str, value, lo: float, hi: float) -> tuple:
    value = tuple(value)
    if len(value) != 2 or not (lo <= value[0] <= value[1] <= hi):
        raise ValueError(f"{name} must be [min, max] with {lo} <= min <= max <= {hi}, got {list(value)}")
    return value


def _subset(name: str, values, allowed: tuple[str, ...]) -> list[str]:
    values = list(values)
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ValueError(f"{name} must be a non-empty subset of {list(allowed)}, got {values}")
    return values


def _image_format(fmt: str, quality: int) -> None:
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"image_format must be 'png' or 'jpeg', got {fmt!r}")
    if not 70 <= quality <= 100:
        raise ValueError(f"jpeg_quality must be in [70, 100], got {quality}")


@dataclass
class CropConfig:
    """High-resolution images whose small target cannot be read without cropping."""

    long_side_range: tuple[int, int] = field(
        default=(2048, 3584), metadata={"help": "Long side in px (max 8192)."}
    )
    aspect_ratios: list[float] = field(
        default_factory=lambda: [1.0, 1.333, 1.5, 1.778],
        metadata={"help": "Width/height ratios (>= 1) drawn for landscape images."},
    )
    portrait_prob: float = field(default=0.25, metadata={"help": "Probability of swapping width and height."})
    target_kinds: list[str] = field(
        default_factory=lambda: list(CROP_TARGET_KINDS),
        metadata={"help": f"Target kinds, subset of {list(CROP_TARGET_KINDS)}."},
    )
    background_kinds: list[str] = field(
        default_factory=lambda: list(BACKGROUND_KINDS),
        metadata={"help": f"Backgrounds, subset of {list(BACKGROUND_KINDS)}."},
    )
    model_side: int = field(
        default=448, metadata={"help": "Long side the model sees; the target must be unreadable there."}
    )
    max_glyph_px_at_model_side: float = field(
        default=4.0,
        metadata={
            "help": "Largest target font em size (and object size) once the image is downscaled to "
            "model_side."
        },
    )
    min_font_px: int = field(
        default=14,
        metadata={"help": "Smallest target font em size in the original image (readable when cropped)."},
    )
    max_font_px: int = field(
        default=48, metadata={"help": "Largest target font em size in the original image."}
    )
    min_object_px: int = field(
        default=18, metadata={"help": "Smallest coloured-object size in the original image."}
    )
    max_target_fraction: float = field(
        default=0.005, metadata={"help": "Largest share of the image area the target box may cover."}
    )
    distractors_range: tuple[int, int] = field(
        default=(2, 5), metadata={"help": "Look-alike targets placed elsewhere."}
    )
    clutter_per_megapixel: tuple[float, float] = field(
        default=(4.0, 14.0), metadata={"help": "Clutter items per megapixel."}
    )
    grain: float = field(default=3.0, metadata={"help": "Sensor-like grain amplitude in grey levels."})
    image_format: str = field(
        default="jpeg", metadata={"help": "png or jpeg (photo-like large images: jpeg 4:4:4)."}
    )
    jpeg_quality: int = field(default=95, metadata={"help": "JPEG quality when image_format is jpeg."})
    layout: str = field(
        default="scene",
        metadata={
            "help": f"{list(CROP_LAYOUTS)}: a cluttered scene with one small target, or an N x N grid of "
            "large digits asked by row and column (grid_* keys; long_side_range and the scene keys unused).",
            ID_KEY: True,
        },
    )
    grid_cells: int = field(
        default=12, metadata={"help": "Grid layout: rows = columns (2-32).", ID_KEY: True}
    )
    grid_cell_px: int = field(
        default=100,
        metadata={"help": "Grid layout: cell side in px; the canvas is grid_cells x this.", ID_KEY: True},
    )
    grid_glyph_range: tuple[float, float] = field(
        default=(0.6, 0.8),
        metadata={"help": "Grid layout: digit em size as a fraction of the cell side.", ID_KEY: True},
    )
    grid_line_px: int = field(default=2, metadata={"help": "Grid layout: line width in px.", ID_KEY: True})
    grid_fonts: list[str] = field(
        default_factory=list,
        metadata={"help": "Grid layout: DejaVu faces of the digits; empty = every Bold face.", ID_KEY: True},
    )
    grid_inks: list[str] = field(
        default_factory=lambda: list(GRID_INKS),
        metadata={"help": f"Grid layout: digit inks, subset of {list(GRID_INKS)}.", ID_KEY: True},
    )
    grid_jitter: float = field(
        default=1.0,
        metadata={
            "help": "Grid layout: share of a cell's free space a digit is moved by at random (0 = centred).",
            ID_KEY: True,
        },
    )

    def __post_init__(self):
        if self.layout not in CROP_LAYOUTS:
            raise ValueError(f"layout must be one of {list(CROP_LAYOUTS)}, got {self.layout!r}")
        self.grid_glyph_range = _range("grid_glyph_range", self.grid_glyph_range, 0.2, 0.9)
        self.grid_inks = _subset("grid_inks", self.grid_inks, tuple(GRID_INKS))
        if not 0.0 <= self.grid_jitter <= 1.0:
            raise ValueError(f"grid_jitter must be in [0, 1], got {self.grid_jitter}")
        if not 2 <= self.grid_cells <= 32 or not 64 <= self.grid_cell_px <= 1024:
            raise ValueError(
                f"grid_cells must be in [2, 32] and grid_cell_px in [64, 1024] (the sandbox's smallest crop "
                f"is 64 px), got {self.grid_cells} and {self.grid_cell_px}"
            )
        if self.grid_cells * self.grid_cell_px > MAX_SIDE or not 1 <= self.grid_line_px <= 8:
            raise ValueError(
                f"grid_cells x grid_cell_px must be <= {MAX_SIDE} and grid_line_px in [1, 8], got "
                f"{self.grid_cells} x {self.grid_cell_px} and {self.grid_line_px}"
            )
        self.long_side_range = _range("long_side_range", self.long_side_range, 512, MAX_SIDE)
        self.distractors_range = _range("distractors_range", self.distractors_range, 0, 20)
        self.clutter_per_megapixel = _range("clutter_per_megapixel", self.clutter_per_megapixel, 0, 200)
        self.target_kinds = _subset("target_kinds", self.target_kinds, CROP_TARGET_KINDS)
        self.background_kinds = _subset("background_kinds", self.background_kinds, BACKGROUND_KINDS)
        if not self.aspect_ratios or any(not 1.0 <= a <= 4.0 for a in self.aspect_ratios):
            raise ValueError(f"aspect_ratios must be non-empty values in [1, 4], got {self.aspect_ratios}")
        if not 0 < self.max_target_fraction <= 0.05:
            raise ValueError(f"max_target_fraction must be in (0, 0.05], got {self.max_target_fraction}")
        if self.min_font_px > self.max_font_px:
            raise ValueError(
                f"min_font_px ({self.min_font_px}) > max_font_px ({self.max_font_px}); lower min_font_px"
            )
        ceiling = self.max_glyph_px_at_model_side * self.long_side_range[0] / self.model_side
        if max(self.min_font_px, self.min_object_px) > ceiling:
            need = (
                int(
                    max(self.min_font_px, self.min_object_px)
                    * self.model_side
                    / self.max_glyph_px_at_model_side
                )
                + 1
            )
            raise ValueError(
                f"targets of min_font_px={self.min_font_px} / min_object_px={self.min_object_px} would stay "
                f"readable at {self.model_side} px on a {self.long_side_range[0]} px image; raise "
                f"long_side_range[0] to >= {need} or lower min_font_px/min_object_px"
            )
        _image_format(self.image_format, self.jpeg_quality)


@dataclass
class RotateConfig:
    """Content rotated by an arbitrary angle that must be turned upright."""

    angle_ranges: list[tuple[int, int]] = field(
        default_factory=lambda: [(30, 335)],
        metadata={"help": "Counter-clockwise rotation ranges in degrees, inside (0, 360)."},
    )
    right_angle_prob: float = field(
        default=0.2, metadata={"help": "Probability of an exact 90/180/270 rotation instead."}
    )
    content_kinds: list[str] = field(
        default_factory=lambda: list(ROTATE_CONTENT_KINDS),
        metadata={"help": f"Content, subset of {list(ROTATE_CONTENT_KINDS)}."},
    )
    content_side_range: tuple[int, int] = field(
        default=(480, 880), metadata={"help": "Long side of the upright content in px."}
    )
    margin_range: tuple[float, float] = field(
        default=(0.04, 0.25),
        metadata={"help": "Background margin around the rotated content, as a fraction of its size."},
    )
    background_kinds: list[str] = field(
        default_factory=lambda: list(BACKGROUND_KINDS), metadata={"help": "Backgrounds behind the content."}
    )
    image_format: str = field(default="png", metadata={"help": "png or jpeg."})
    jpeg_quality: int = field(default=95, metadata={"help": "JPEG quality when image_format is jpeg."})

    def __post_init__(self):
        self.angle_ranges = [_range("angle_ranges item", r, 1, 359) for r in self.angle_ranges]
        if not self.angle_ranges:
            raise ValueError("angle_ranges must hold at least one [min, max] range, e.g. [[30, 335]]")
        if not 0.0 <= self.right_angle_prob <= 1.0:
            raise ValueError(f"right_angle_prob must be in [0, 1], got {self.right_angle_prob}")
        self.content_kinds = _subset("content_kinds", self.content_kinds, ROTATE_CONTENT_KINDS)
        self.background_kinds = _subset("background_kinds", self.background_kinds, BACKGROUND_KINDS)
        self.content_side_range = _range("content_side_range", self.content_side_range, 256, 4096)
        self.margin_range = _range("margin_range", self.margin_range, 0.0, 1.0)
        _image_format(self.image_format, self.jpeg_quality)


@dataclass
class ContrastConfig:
    """Faint (low-contrast) or dark (under-exposed) documents that must be enhanced before reading."""

    kinds: list[str] = field(
        default_factory=lambda: list(CONTRAST_KINDS),
        metadata={"help": f"Degradations, subset of {list(CONTRAST_KINDS)}."},
    )
    contrast_factor_range: tuple[float, float] = field(
        default=(0.06, 0.16), metadata={"help": "PIL ImageEnhance.Contrast factor applied (< 1 flattens)."}
    )
    brightness_factor_range: tuple[float, float] = field(
        default=(0.06, 0.16), metadata={"help": "PIL ImageEnhance.Brightness factor applied (< 1 darkens)."}
    )
    noise: float = field(
        default=1.5, metadata={"help": "Grain amplitude added after the degradation, in grey levels."}
    )
    long_side_range: tuple[int, int] = field(
        default=(720, 1280), metadata={"help": "Long side of the image in px."}
    )
    background_kinds: list[str] = field(
        default_factory=lambda: ["gradient", "texture", "tiles"],
        metadata={"help": "Backgrounds behind the document."},
    )
    image_format: str = field(default="png", metadata={"help": "png (keeps faint contrast exact) or jpeg."})
    jpeg_quality: int = field(default=95, metadata={"help": "JPEG quality when image_format is jpeg."})

    def __post_init__(self):
        self.kinds = _subset("kinds", self.kinds, CONTRAST_KINDS)
        self.contrast_factor_range = _range("contrast_factor_range", self.contrast_factor_range, 0.02, 0.5)
        self.brightness_factor_range = _range(
            "brightness_factor_range", self.brightness_factor_range, 0.02, 0.5
        )
        self.long_side_range = _range("long_side_range", self.long_side_range, 256, MAX_SIDE)
        self.background_kinds = _subset("background_kinds", self.background_kinds, BACKGROUND_KINDS)
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        _image_format(self.image_format, self.jpeg_quality)


@dataclass
class ComputeConfig:
    """Tables, bar charts and labelled figures with questions that need arithmetic."""

    kinds: list[str] = field(
        default_factory=lambda: list(COMPUTE_KINDS),
        metadata={"help": f"Visuals, subset of {list(COMPUTE_KINDS)}."},
    )
    operations: list[str] = field(
        default_factory=lambda: list(COMPUTE_OPERATIONS),
        metadata={
            "help": f"Operations, subset of {list(COMPUTE_OPERATIONS)}; tables/charts use sum..ratio, "
            "figures area/perimeter."
        },
    )
    value_range: tuple[int, int] = field(
        default=(2, 99), metadata={"help": "Range of the integer values shown."}
    )
    items_range: tuple[int, int] = field(
        default=(3, 6), metadata={"help": "Rows of a table / bars of a chart."}
    )
    long_side_range: tuple[int, int] = field(
        default=(720, 1152), metadata={"help": "Long side of the image in px."}
    )
    image_format: str = field(default="png", metadata={"help": "png or jpeg."})
    jpeg_quality: int = field(default=95, metadata={"help": "JPEG quality when image_format is jpeg."})

    def __post_init__(self):
        self.kinds = _subset("kinds", self.kinds, COMPUTE_KINDS)
        self.operations = _subset("operations", self.operations, COMPUTE_OPERATIONS)
        self.value_range = _range("value_range", self.value_range, 1, 100000)
        self.items_range = _range("items_range", self.items_range, 2, 10)
        self.long_side_range = _range("long_side_range", self.long_side_range, 480, 4096)
        for kind in self.kinds:
            if not set(self.operations) & set(_OPS_BY_KIND[kind]):
                needed = list(_OPS_BY_KIND[kind])
                raise ValueError(f"kind {kind!r} needs one of operations {needed}; add one or drop the kind")
        _image_format(self.image_format, self.jpeg_quality)


_OPS_BY_KIND = {
    "table": COMPUTE_OPERATIONS[:4],
    "bar_chart": COMPUTE_OPERATIONS[:4],
    "figure": ("area", "perimeter"),
}


@dataclass
class MultiRoundConfig:
    """Crop scenes with a first box that is too wide or wrong, then the true box (two-round data)."""

    modes: list[str] = field(
        default_factory=lambda: list(MULTI_ROUND_MODES),
        metadata={"help": "zoom_in (first box too wide) and/or wrong (first box on a decoy)."},
    )
    wide_scale_range: tuple[float, float] = field(
        default=(3.0, 6.0), metadata={"help": "First box side / target box side for zoom_in."}
    )
    crop: CropConfig = field(
        default_factory=CropConfig, metadata={"help": "The scene, as for the crop family."}
    )

    def __post_init__(self):
        self.modes = _subset("modes", self.modes, MULTI_ROUND_MODES)
        self.wide_scale_range = _range("wide_scale_range", self.wide_scale_range, 1.5, 20.0)
        if "wrong" in self.modes and self.crop.distractors_range[0] < 1:
            raise ValueError("mode 'wrong' needs a decoy: set crop.distractors_range[0] >= 1 or drop 'wrong'")


@dataclass
class NoCodeConfig:
    """Simple images with easy questions whose right trajectory writes no code."""

    kinds: list[str] = field(
        default_factory=lambda: list(NO_CODE_KINDS),
        metadata={"help": f"Questions, subset of {list(NO_CODE_KINDS)}."},
    )
    side_range: tuple[int, int] = field(
        default=(448, 896), metadata={"help": "Long side of the image in px."}
    )
    shapes_range: tuple[int, int] = field(default=(1, 4), metadata={"help": "Number of large shapes drawn."})
    image_format: str = field(default="png", metadata={"help": "png or jpeg."})
    jpeg_quality: int = field(default=95, metadata={"help": "JPEG quality when image_format is jpeg."})

    def __post_init__(self):
        self.kinds = _subset("kinds", self.kinds, NO_CODE_KINDS)
        self.side_range = _range("side_range", self.side_range, 256, 2048)
        self.shapes_range = _range("shapes_range", self.shapes_range, 1, 6)
        _image_format(self.image_format, self.jpeg_quality)


@dataclass
class TasksConfig:
    """How many tasks of which families to make, from which base seed, and each family's settings."""

    count: int = field(default=1000, metadata={"help": "Number of tasks to plan."})
    base_seed: int = field(default=0, metadata={"help": "Seed of the first task; task i gets base_seed + i."})
    mix: dict[str, float] = field(
        default_factory=lambda: {
            "crop": 0.3,
            "rotate": 0.15,
            "contrast": 0.1,
            "compute": 0.15,
            "multi_round": 0.15,
            "no_code": 0.15,
        },
        metadata={"help": f"Relative weight per family ({list(FAMILIES)}); 0 or absent disables it."},
    )
    crop: CropConfig = field(default_factory=CropConfig, metadata={"help": "Crop/zoom family."})
    rotate: RotateConfig = field(default_factory=RotateConfig, metadata={"help": "Rotation family."})
    contrast: ContrastConfig = field(
        default_factory=ContrastConfig, metadata={"help": "Contrast/brightness family."}
    )
    compute: ComputeConfig = field(default_factory=ComputeConfig, metadata={"help": "Computation family."})
    multi_round: MultiRoundConfig = field(
        default_factory=MultiRoundConfig, metadata={"help": "Two-round family."}
    )
    no_code: NoCodeConfig = field(default_factory=NoCodeConfig, metadata={"help": "No-code family."})

    def __post_init__(self):
        if self.count < 0 or self.base_seed < 0:
            raise ValueError(f"count and base_seed must be >= 0, got {self.count} and {self.base_seed}")
        unknown = sorted(set(self.mix) - set(FAMILIES))
        if unknown:
            raise ValueError(f"mix has unknown families {unknown}; use keys from {list(FAMILIES)}")
        if any(w < 0 for w in self.mix.values()) or not any(w > 0 for w in self.mix.values()):
            raise ValueError(f"mix weights must be >= 0 with at least one > 0, got {self.mix}")

    def family_config(self, family: str):
        """The config of ``family`` (one of :data:`FAMILIES`)."""
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; use one of {list(FAMILIES)}")
        return getattr(self, family)
