"""Images check: every produced image is sound, and it changed the way its family needs.

Sound: decodable, not empty or blank, each side at least ``min_side`` and at most ``max_side``, aspect ratio
within ``max_aspect``. Per family:

* ``crop`` / ``multi_round``: every literal crop box lies inside the input image, and the last crop contains
  at least ``min_target_coverage`` of the target box (``task_params["target"]``). The box is read from the
  code; when the code has no literal box, the crop is located in the input by template matching.
* ``rotate``: the produced image is the input turned by the task's correction angle (not by another multiple
  of 90 degrees from it, and not left as is).
* ``contrast``: the produced image's RMS contrast exceeds the input's by ``min_contrast_gain`` (relative).
"""

from __future__ import annotations

import io

from PIL import Image

from synthesis import format as fmt
from synthesis.records import SftRecord
from validators.config import ImagesCheckConfig
from validators.image_ops import coverage, crop_box_from_code, locate_crop, rms_contrast, upright_angle
from validators.verdict import Verdict, fail, ok

__all__ = ["block_images", "check_images"]

CHECK = "images"
NEEDS_IMAGE = ("crop", "multi_round", "rotate", "contrast")


def block_images(record: SftRecord) -> list[tuple[str, list[int]]]:
    """``(code, indices into record.images)`` for every code block, from the ``<image>`` placeholders.

    Example:
        >>> from synthesis.format import render_code
        >>> from synthesis.records import SftRecord
        >>> resp = (
        ...     "<think>a"
        ...     + render_code("c")
        ...     + "<sandbox_output><image></sandbox_output></think> <answer>1</answer>"
        ... )
        >>> block_images(
        ...     SftRecord(
        ...         id="x",
        ...         images=(b"", b""),
        ...         question="q",
        ...         image_size=(1, 1),
        ...         response=resp,
        ...         answer="1",
        ...         answer_type="text",
        ...         family="crop",
        ...     )
        ... )
        [('c', [1])]
    """
    blocks, position, code = [], 1, ""
    for segment in fmt.parse(record.response).segments:
        if isinstance(segment, fmt.Code):
            code = segment.code
        elif isinstance(segment, fmt.SandboxOutput):
            blocks.append((code, list(range(position, position + segment.images))))
            position += segment.images
    return blocks


def _sound(index: int, image: Image.Image, cfg: ImagesCheckConfig) -> Verdict | None:
    w, h = image.size
    if w == 0 or h == 0:
        return fail(CHECK, "empty", f"image {index} has size {w}x{h}")
    if min(w, h) < cfg.min_side:
        return fail(CHECK, "too_small", f"image {index} is {w}x{h}, below {cfg.min_side} px")
    if max(w, h) > cfg.max_side:
        return fail(CHECK, "too_large", f"image {index} is {w}x{h}, above {cfg.max_side} px")
    if max(w, h) / min(w, h) > cfg.max_aspect:
        return fail(CHECK, "bad_aspect", f"image {index} is {w}x{h}")
    low, high = image.convert("L").getextrema()
    if low == high:
        return fail(CHECK, "blank", f"image {index} is a single colour")
    return None


def _crop(
    record: SftRecord, blocks: list[tuple[str, list[int]]], images: list[Image.Image], cfg: ImagesCheckConfig
) -> Verdict:
    width, height = record.image_size
    for i, (code, indices) in enumerate(blocks):
        box = crop_box_from_code(code) if indices else None
        if box and not (0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height):
            return fail(CHECK, "crop_out_of_bounds", f"block {i} crops {box} from a {width}x{height} image")
    target = record.task_params.get("target")
    if not target:
        return fail(CHECK, "no_target", "task_params has no target box") if cfg.require_target else ok(CHECK)
    code, indices = [b for b in blocks if b[1]][-1]
    box = crop_box_from_code(code)
    if box is None:
        box, score = locate_crop(images[0], images[indices[-1]])
        if score < cfg.min_match_score:
            return fail(
                CHECK, "crop_not_found", f"the last crop matches nowhere in the input (score {score:.2f})"
            )
    share = coverage(box, tuple(target))
    if share < cfg.min_target_coverage:
        return fail(CHECK, "crop_misses_target", f"crop {box} holds {share:.0%} of target {tuple(target)}")
    return ok(CHECK)


def _family(
    record: SftRecord, blocks: list[tuple[str, list[int]]], images: list[Image.Image], cfg: ImagesCheckConfig
) -> Verdict:
    params = record.task_params.get("params") or {}
    last = images[[b for b in blocks if b[1]][-1][1][-1]]
    if record.family in ("crop", "multi_round"):
        return _crop(record, blocks, images, cfg)
    if record.family == "rotate" and "correction" in params:
        c = int(params["correction"]) % 360
        candidates = tuple(dict.fromkeys([c, (c + 90) % 360, (c + 180) % 360, (c + 270) % 360, 0]))
        best = upright_angle(images[0], last, candidates)
        if best != c:
            return fail(CHECK, "not_upright", f"the output looks turned by {best} degrees, not {c}")
    if record.family == "contrast":
        before, after = rms_contrast(images[0]), rms_contrast(last)
        if after < before * (1 + cfg.min_contrast_gain):
            return fail(CHECK, "contrast_not_raised", f"RMS contrast {before:.3f} -> {after:.3f}")
    return ok(CHECK)


def check_images(record: SftRecord, cfg: ImagesCheckConfig | None = None) -> Verdict:
    """Images check of a record that passed the format check.

    Args:
        record (`SftRecord`): the trajectory; ``images[0]`` is the input.
        cfg (`ImagesCheckConfig`, *optional*): limits; defaults to ``ImagesCheckConfig()``.

    Example:
        >>> from synthesis.records import SftRecord
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (8, 8)).save(buf, "PNG")
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(buf.getvalue(),),
        ...     question="q",
        ...     image_size=(8, 8),
        ...     response="<think>t</think> <answer>1</answer>",
        ...     answer="1",
        ...     answer_type="number",
        ...     family="no_code",
        ... )
        >>> check_images(r).passed
        True
        >>> check_images(
        ...     SftRecord(
        ...         id="x",
        ...         images=(b"junk",),
        ...         question="q",
        ...         image_size=(8, 8),
        ...         response=r.response,
        ...         answer="1",
        ...         answer_type="number",
        ...         family="no_code",
        ...     )
        ... ).reason
        'images_undecodable'
    """
    cfg = cfg or ImagesCheckConfig()
    images: list[Image.Image] = []
    for index, data in enumerate(record.images):
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            return fail(CHECK, "undecodable", f"image {index}: {type(err).__name__}")
        bad = _sound(index, image, cfg) if index else None
        if bad is not None:
            return bad
        images.append(image)
    blocks = block_images(record)
    if not any(indices for _, indices in blocks):
        if record.family in NEEDS_IMAGE:
            return fail(CHECK, "missing", f"a {record.family} trajectory produced no image")
        return ok(CHECK)
    return _family(record, blocks, images, cfg)
