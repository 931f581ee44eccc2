"""Tool-necessity evidence: measure, from a record's pixels and code, why its tool step was needed.

Much tool-use data teaches a habit, not a capability: the model would have read the answer without the code.
Each accepted record therefore carries a :class:`~synthesis.records.ToolEvidence` computed here, never copied
from the task parameters:

* **zoom**: the input's scale at the model's input resolution (the Qwen2-VL processor's resize rule), the
  crop's box (read from the code, or found by template matching) and the zoom the code applied (the output's
  size over the box's), hence the magnification the model sees. Where the task names its target, the
  target's short side is measured from its ink and compared with ``legible_px`` before and after.
* **rotate**: the angle the code turned the image by, found by comparing rotations of the input with the
  output; where the task's correction is known, how far from upright the output still is.
* **enhance**: RMS contrast of the input and of the output.
* **compute**: the arithmetic operations in the code, and whether the printed result holds the answer while
  the text before the code does not.

What the data cannot tell (an imported record's target size, the input's tilt when no correction is known)
makes the verdict ``unknown``. The block judged is the last one that produced an image, as in the images
check; a record with code but no image output is judged as a computation.
"""

from __future__ import annotations

import ast
import io
import math
import re
from dataclasses import replace
from typing import Any

import numpy as np
from PIL import Image

from synthesis import format as fmt
from synthesis.records import RlPrompt, SftRecord, ToolEvidence
from validators.answer import to_number
from validators.config import EvidenceConfig
from validators.image_ops import coverage, crop_box_from_code, locate_crop, rms_contrast, upright_angle
from validators.images import block_images
from validators.verdict import Verdict, fail, ok

__all__ = [
    "MEASURE_VERSION",
    "arithmetic_ops",
    "check_evidence",
    "code_kind",
    "input_scale",
    "measure_evidence",
    "model_input_size",
    "prompt_evidence",
    "rotation_applied",
    "target_side",
    "with_evidence",
]

MEASURE_VERSION = "1"  # part of the accepted-record key: a new way of measuring recomputes the evidence
CHECK = "evidence"
_ROTATE = re.compile(r"\.rotate\(|rot90|\.transpose\(|warpAffine|getRotationMatrix2D|cv2\.rotate\b")
_ENHANCE = re.compile(
    r"ImageEnhance|convertScaleAbs|equalizeHist|createCLAHE|autocontrast|ImageOps\.equalize|cv2\.normalize"
)
_ZOOM = re.compile(r"\.crop\(|\[[^\[\]]*:[^\[\]]*,[^\[\]]*:[^\[\]]*\]|\.resize\(")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FUNCTIONS = {"sum", "len", "mean", "round", "abs", "max", "min", "sqrt", "pow", "prod", "average", "median"}
_MIN_MATCH = 0.6


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def model_input_size(width: int, height: int, cfg: EvidenceConfig) -> tuple[int, int]:
    """``(width, height)`` the model sees: the Qwen2-VL/Qwen2.5-VL processor's ``smart_resize`` rule.

    The same rule as ``transformers``' ``smart_resize`` (a test holds them equal); importing that one pulls
    in torch, seconds per worker for ten lines of arithmetic.

    Example:
        >>> model_input_size(3584, 2048, EvidenceConfig())
        (2352, 1344)
    """
    factor = cfg.patch_factor
    h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
    if h_bar * w_bar > cfg.max_pixels:
        beta = math.sqrt(height * width / cfg.max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < cfg.min_pixels:
        beta = math.sqrt(cfg.min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return w_bar, h_bar


def input_scale(width: int, height: int, cfg: EvidenceConfig) -> float:
    """Model-input pixels per original pixel (geometric mean of the two sides' ratios).

    Example:
        >>> round(input_scale(3584, 2048, EvidenceConfig()), 3)
        0.656
    """
    w, h = model_input_size(width, height, cfg)
    return math.sqrt(w / width * h / height)


def target_side(image: Image.Image, box: tuple[int, int, int, int] | list[int]) -> int | None:
    """Short side, in pixels, of the ink inside ``box``: pixels that differ from the background around it.

    The background is the median colour of a ring just outside the box, so a tight box and a loose one give
    the same answer; None when nothing in the box stands out.

    Example:
        >>> img = Image.new("RGB", (200, 100), "white")
        >>> img.paste((0, 0, 0), (50, 40, 110, 52))  # a 60x12 word-like bar
        >>> target_side(img, (30, 20, 130, 80))
        12
    """
    x1, y1, x2, y2 = (int(v) for v in box)
    margin = max(4, (x2 - x1 + y2 - y1) // 8)
    X1, Y1 = max(0, x1 - margin), max(0, y1 - margin)
    X2, Y2 = min(image.width, x2 + margin), min(image.height, y2 + margin)
    if X2 - X1 < 3 or Y2 - Y1 < 3:
        return None
    area = np.asarray(image.convert("RGB").crop((X1, Y1, X2, Y2)), np.int16)
    ring = np.concatenate([area[0], area[-1], area[:, 0], area[:, -1]])
    background = np.median(ring, axis=0)
    inside = area[y1 - Y1 : y2 - Y1, x1 - X1 : x2 - X1]
    ink = np.abs(inside - background).max(axis=2) > 48
    if not ink.any():
        return None
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return int(min(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))


def arithmetic_ops(code: str) -> int:
    """Arithmetic operations in ``code``: binary operators on values and calls such as ``sum`` or ``sqrt``.

    Example:
        >>> arithmetic_ops("values = [3, 5]\\nprint(sum(values) / len(values))")
        3
        >>> arithmetic_ops("print('a' + 'b')"), arithmetic_ops("not python (")
        (0, 0)
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return 0
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp | ast.AugAssign) and not _is_text(node):
            count += 1
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            count += name in _FUNCTIONS
    return count


def _is_text(node: ast.BinOp | ast.AugAssign) -> bool:
    """A ``+`` or ``%`` joining or formatting strings is not arithmetic."""
    parts = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.value,)
    return any(
        isinstance(p, ast.Constant) and isinstance(p.value, str) or isinstance(p, ast.JoinedStr)
        for p in parts
    )


def _literals(code: str) -> set[float]:
    """The numeric literals of ``code``: the values a computation starts from."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return {
        float(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, int | float) and not isinstance(n.value, bool)
    }


def code_kind(code: str) -> str:
    """The operation a block's code performs, from what it calls: rotate, enhance, zoom or unknown.

    Example:
        >>> code_kind("img.rotate(90, expand=True)"), code_kind("roi = image[10:50, 20:80]")
        ('rotate', 'zoom')
    """
    if _ROTATE.search(code):
        return "rotate"
    if _ENHANCE.search(code):
        return "enhance"
    if _ZOOM.search(code):
        return "zoom"
    return "unknown"


def rotation_applied(original: Image.Image, produced: Image.Image) -> float:
    """Counter-clockwise degrees (0-359) that turn ``original`` into ``produced``, found by comparing
    rotations of a small copy: every 3 degrees, then each degree around the best.

    Example:
        >>> img = Image.new("RGB", (160, 100), "white")
        >>> img.paste((0, 0, 0), (10, 10, 90, 30))
        >>> rotation_applied(img, img.rotate(37, expand=True, fillcolor="white"))
        37.0
    """
    coarse = upright_angle(original, produced, tuple(range(0, 360, 3)))
    fine = tuple(dict.fromkeys((coarse + d) % 360 for d in (0, -1, 1, -2, 2)))
    return float(upright_angle(original, produced, fine))


def _fold(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def _open(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
        return image
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _explains(box: tuple[int, int, int, int], original: Image.Image, produced: Image.Image) -> bool:
    """Whether the code's literal ``box`` is the region ``produced`` shows: inside the input and alike in
    pixels (normalised correlation of small grey copies). A box in another image's coordinates, e.g. the
    second crop of a crop, is not.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> img = Image.fromarray(rng.integers(0, 255, (300, 400), dtype=np.uint8))
        >>> crop = img.crop((10, 10, 110, 60)).resize((200, 100))
        >>> _explains((10, 10, 110, 60), img, crop), _explains((200, 100, 300, 150), img, crop)
        (True, False)
    """
    if not (0 <= box[0] < box[2] <= original.width and 0 <= box[1] < box[3] <= original.height):
        return False
    side = (32, 32)
    a = np.asarray(original.crop(box).convert("L").resize(side, Image.Resampling.BILINEAR), np.float32)
    b = np.asarray(produced.convert("L").resize(side, Image.Resampling.BILINEAR), np.float32)
    a, b = a - a.mean(), b - b.mean()
    norm = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return norm > 0 and float((a * b).sum()) / norm >= _MIN_MATCH


def _zoom(
    original: Image.Image, produced: Image.Image, code: str, target: Any, cfg: EvidenceConfig
) -> ToolEvidence:
    scale = input_scale(*original.size, cfg)
    box = crop_box_from_code(code)
    if box is None or not _explains(box, original, produced):
        box, score = locate_crop(original, produced)
        if score < _MIN_MATCH:
            return ToolEvidence(
                kind="zoom",
                needed="unknown",
                reason=f"the zoomed image matches nowhere in the input (score {score:.2f})",
                input_scale=_round(scale),
            )
    zoom = math.sqrt(produced.width / (box[2] - box[0]) * produced.height / (box[3] - box[1]))
    shown = input_scale(*produced.size, cfg) * zoom  # model-input px per original px of the region
    magnification = shown / scale
    evidence = ToolEvidence(
        kind="zoom",
        needed="unknown",
        reason="",
        input_scale=_round(scale),
        magnification=_round(magnification),
    )
    side = target_side(original, target) if target else None
    if side is None:
        if magnification < cfg.min_magnification:
            return replace(
                evidence,
                needed="no",
                reason=f"the zoom shows its region at {magnification:.2f}x the input's detail",
            )
        why = "the target's size is unknown" if not target else "no ink found in the target box"
        return replace(evidence, reason=f"the zoom shows its region at {magnification:.2f}x; {why}")
    before, after = side * scale, side * shown
    evidence = replace(evidence, target_px_before=_round(before, 1), target_px_after=_round(after, 1))
    held = coverage(box, tuple(target))
    if held < 0.5:
        return replace(evidence, needed="no", reason=f"the crop holds {held:.0%} of the target")
    if before >= cfg.legible_px:
        return replace(
            evidence,
            needed="no",
            reason=f"the target is {before:.1f} px at input (scale {scale:.2f}): legible without the zoom",
        )
    if after < cfg.legible_px:
        return replace(evidence, needed="no", reason=f"the target is still {after:.1f} px after the zoom")
    return replace(
        evidence,
        needed="yes",
        reason=f"the target is {before:.1f} px at input (scale {scale:.2f}), {after:.1f} px after the "
        f"{magnification:.1f}x zoom",
    )


def _rotate(
    original: Image.Image, produced: Image.Image, correction: Any, cfg: EvidenceConfig
) -> ToolEvidence:
    applied = rotation_applied(original, produced)
    evidence = ToolEvidence(
        kind="rotate",
        needed="unknown",
        reason="",
        input_scale=_round(input_scale(*original.size, cfg)),
        angle_applied=applied,
    )
    if abs(_fold(applied)) < cfg.min_angle:
        return replace(evidence, needed="no", reason=f"the code turned the image by {applied:.0f} degrees")
    if correction is None:
        return replace(
            evidence,
            reason=f"the code turned the image by {applied:.0f} degrees; the input's tilt is unknown",
        )
    residual = _fold(float(correction) - applied)
    evidence = replace(evidence, angle_residual=residual)
    if abs(residual) > cfg.angle_tolerance:
        return replace(
            evidence, needed="no", reason=f"the output is still {residual:+.0f} degrees from upright"
        )
    return replace(
        evidence,
        needed="yes",
        reason=f"the content was {_fold(-float(correction)):+.0f} degrees off upright; the code turned it by "
        f"{applied:.0f} (residual {residual:+.0f})",
    )


def _contrast(before: float, after: float | None, scale: float, cfg: EvidenceConfig) -> ToolEvidence:
    evidence = ToolEvidence(
        kind="enhance",
        needed="no",
        reason="",
        input_scale=_round(scale),
        contrast_before=_round(before, 4),
        contrast_after=_round(after, 4),
    )
    if before >= cfg.low_contrast:
        return replace(evidence, reason=f"the input's RMS contrast {before:.3f} is readable as it is")
    if after is None:
        return replace(evidence, needed="yes", reason=f"the input's RMS contrast is {before:.3f}")
    if after < before * (1 + cfg.min_contrast_gain):
        return replace(evidence, reason=f"the code took RMS contrast only from {before:.3f} to {after:.3f}")
    return replace(
        evidence,
        needed="yes",
        reason=f"the input's RMS contrast {before:.3f} is below {cfg.low_contrast}; the code raised it to "
        f"{after:.3f} ({after / before:.1f}x)",
    )


def _printed(record: SftRecord) -> list[str]:
    texts = [e.stdout for e in record.executions]
    texts += [s.text for s in fmt.parse(record.response).segments if isinstance(s, fmt.SandboxOutput)]
    return texts


def _compute(record: SftRecord, codes: list[str], scale: float) -> ToolEvidence:
    ops = sum(arithmetic_ops(code) for code in codes)
    evidence = ToolEvidence(
        kind="compute", needed="no", reason="", input_scale=_round(scale), arithmetic_ops=ops
    )
    truth = to_number(record.answer)
    if ops == 0:
        return replace(evidence, reason="the code does no arithmetic")
    if truth is None:
        return replace(
            evidence, needed="unknown", reason=f"{ops} arithmetic operations; the answer is not a number"
        )
    printed = [float(n) for text in _printed(record) for n in _NUMBER.findall(text)]
    if not any(math.isclose(n, truth, rel_tol=1e-6, abs_tol=1e-6) for n in printed):
        return replace(evidence, reason="the code's output does not hold the answer")
    segments = fmt.parse(record.response).segments
    first = next(i for i, s in enumerate(segments) if isinstance(s, fmt.Code))
    before = record.question + " ".join(s.text for s in segments[:first] if isinstance(s, fmt.Text))
    operands = {v for code in codes for v in _literals(code)}  # values read off the image, not results
    stated = {float(n) for n in _NUMBER.findall(before)} - operands
    if any(math.isclose(n, truth, abs_tol=1e-9) for n in stated):
        return replace(evidence, reason=f"the answer {record.answer} is already in the text before the code")
    return replace(
        evidence,
        needed="yes",
        reason=f"the code's {ops} arithmetic operations printed {record.answer}; no text before it holds it",
    )


def measure_evidence(record: SftRecord, cfg: EvidenceConfig | None = None) -> ToolEvidence:
    """The tool-necessity evidence of ``record`` (which must be well formed; see the module docstring).

    Args:
        record (`SftRecord`): the trajectory; ``images[0]`` is the input.
        cfg (`EvidenceConfig`, *optional*): the model's input resolution and the thresholds.
    """
    cfg = cfg or EvidenceConfig()
    original = _open(record.images[0]) if record.images else None
    scale = input_scale(*original.size, cfg) if original else None
    try:
        blocks = block_images(record)
    except fmt.FormatError as err:
        return ToolEvidence(kind="unknown", needed="unknown", reason=f"malformed trajectory: {err}")
    if not blocks:
        return ToolEvidence(kind="none", needed="no", reason="no code block", input_scale=_round(scale))
    with_images = [(code, indices) for code, indices in blocks if indices]
    if not with_images:
        return _compute(record, [code for code, _ in blocks], scale or 0.0)
    code, indices = with_images[-1]
    produced = _open(record.images[indices[-1]]) if indices[-1] < len(record.images) else None
    if original is None or produced is None:
        return ToolEvidence(kind="unknown", needed="unknown", reason="an image does not decode")
    params = record.task_params.get("params") or {}
    kind = code_kind(code)
    if kind == "zoom" or kind == "unknown" and locate_crop(original, produced)[1] >= _MIN_MATCH:
        return _zoom(original, produced, code, record.task_params.get("target"), cfg)
    if kind == "rotate":
        return _rotate(original, produced, params.get("correction"), cfg)
    if kind == "enhance":
        return _contrast(rms_contrast(original), rms_contrast(produced), scale or 0.0, cfg)
    return ToolEvidence(
        kind="unknown",
        needed="unknown",
        reason="the code's image operation is not recognised",
        input_scale=_round(scale),
    )


def prompt_evidence(prompt: RlPrompt, cfg: EvidenceConfig | None = None) -> ToolEvidence:
    """The evidence of an RL prompt: what its pixels say about the step its task needs.

    A prompt has no trajectory, so the step measured is the task's reference one (its crop box and zoom, its
    correction, its expression); sizes and contrast are still measured from the image.
    """
    cfg = cfg or EvidenceConfig()
    image = _open(prompt.image)
    if image is None:
        return ToolEvidence(kind="unknown", needed="unknown", reason="the image does not decode")
    scale = input_scale(*image.size, cfg)
    params = prompt.task_params.get("params") or {}
    target = prompt.task_params.get("target")
    if prompt.family in ("crop", "multi_round") and target and params.get("crop_box"):
        box = params["crop_box"]
        zoom = float(params.get("zoom", 1))
        size = (max(1, round((box[2] - box[0]) * zoom)), max(1, round((box[3] - box[1]) * zoom)))
        zoomed = image.crop(tuple(box)).resize(size)
        return _zoom(image, zoomed, f"x1, y1, x2, y2 = {', '.join(str(int(v)) for v in box)}", target, cfg)
    if prompt.family == "rotate" and "correction" in params:
        upright = image.rotate(float(params["correction"]), expand=True, fillcolor=(255, 255, 255))
        return _rotate(image, upright, params["correction"], cfg)
    if prompt.family == "contrast":
        return _contrast(rms_contrast(image), None, scale, cfg)
    if prompt.family == "compute" and params.get("expression"):
        ops = arithmetic_ops(str(params["expression"]))
        needed = "yes" if ops and prompt.answer not in _NUMBER.findall(prompt.question) else "no"
        return ToolEvidence(
            kind="compute",
            needed=needed,
            reason=f"the answer takes {ops} arithmetic operations over values read from the image",
            input_scale=_round(scale),
            arithmetic_ops=ops,
        )
    if prompt.family == "no_code":
        return ToolEvidence(
            kind="none", needed="no", reason="answered without code", input_scale=_round(scale)
        )
    return ToolEvidence(
        kind="unknown", needed="unknown", reason="no reference step is known", input_scale=_round(scale)
    )


def with_evidence(record: SftRecord, cfg: EvidenceConfig | None = None) -> SftRecord:
    """``record`` with ``tool_evidence`` measured (unchanged when the measurement is off)."""
    cfg = cfg or EvidenceConfig()
    return replace(record, tool_evidence=measure_evidence(record, cfg)) if cfg.enabled else record


def check_evidence(record: SftRecord, cfg: EvidenceConfig | None = None) -> Verdict:
    """Fails a record whose evidence says its tool step was not needed (with ``reject_unneeded``; never for
    ``exempt_families``).

    Example:
        >>> from synthesis.records import SftRecord, ToolEvidence
        >>> r = SftRecord(
        ...     id="x",
        ...     images=(),
        ...     question="q",
        ...     image_size=(1, 1),
        ...     response="<think>t</think> <answer>1</answer>",
        ...     answer="1",
        ...     answer_type="number",
        ...     family="crop",
        ...     tool_evidence=ToolEvidence(kind="zoom", needed="no", reason="legible at input"),
        ... )
        >>> check_evidence(r, EvidenceConfig(reject_unneeded=True)).reason
        'evidence_tool_not_needed'
    """
    cfg = cfg or EvidenceConfig()
    evidence = record.tool_evidence or measure_evidence(record, cfg)
    if cfg.reject_unneeded and evidence.needed == "no" and record.family not in cfg.exempt_families:
        return fail(CHECK, "tool_not_needed", f"{evidence.kind}: {evidence.reason}")
    return ok(CHECK)
