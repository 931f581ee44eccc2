"""Code blocks the programmatic teacher writes: commented PIL and OpenCV variants of each operation.

Each function returns the Python source of one block (no tags, no fence). The code loads the input through
``image_path``, saves under Thyme's virtual folder with the input's base name plus a random suffix and prints
the path last, exactly as the original's data teaches (thyme.md §2.4). The suffix comes from ``random``, which
the sandbox seeds per trajectory, so reruns print the same names.
"""

from __future__ import annotations

import random

from sandbox.layout import VIRTUAL_OUTPUT_DIR

__all__ = ["compute_code", "contrast_code", "crop_code", "rotate_code"]

Box = tuple[int, int, int, int]


def _save_pil(var: str, tag: str) -> str:
    return (
        f"base, ext = os.path.splitext(os.path.basename(image_path))\n"
        f'processed_path = f"{VIRTUAL_OUTPUT_DIR}{{base}}_{tag}_{{random.randint(1000, 9999)}}{{ext}}"\n'
        f"{var}.save(processed_path)\n"
        f"print(processed_path)"
    )


def _save_cv2(var: str, tag: str) -> str:
    return (
        f"stem = os.path.splitext(os.path.basename(image_path))[0]\n"
        f'processed_path = "{VIRTUAL_OUTPUT_DIR}" + stem + "_{tag}_"'
        ' + str(random.randint(100000, 999999)) + ".png"\n'
        f"cv2.imwrite(processed_path, {var})\n"
        f"print(processed_path)"
    )


def _box_guard(size: str) -> str:
    """Lines that order ``x1, y1, x2, y2`` and clip them to the image, keeping at least 1 px each way.

    Thyme repairs crop boxes in its sandbox (thyme.md §3.5, step 6). The teacher writes the repair into the
    code instead, so a student that gets the four numbers wrong still writes a block that runs in the strict
    sandbox. ``size`` is the line that sets ``width`` and ``height``; a true box passes through unchanged.

    Example:
        >>> env = {"x1": 90, "y1": -5, "x2": 10, "y2": -1}
        >>> exec(_box_guard("width, height = 64, 48"), env)
        >>> env["x1"], env["y1"], env["x2"], env["y2"]
        (10, 0, 64, 1)
    """
    return (
        f"{size}\n# Keep the box ordered, inside the image and at least one pixel wide and tall\n"
        "x1, x2 = sorted((x1, x2))\ny1, y2 = sorted((y1, y2))\n"
        "x1, y1 = min(max(x1, 0), width - 1), min(max(y1, 0), height - 1)\n"
        "x2, y2 = min(max(x2, x1 + 1), width), min(max(y2, y1 + 1), height)\n"
    )


def crop_code(rng: random.Random, image_path: str, box: Box, zoom: int, comment: str) -> str:
    """Crop ``box`` (x1, y1, x2, y2 in original pixels) and enlarge it ``zoom`` times.

    The box goes through :func:`_box_guard` first, so the block runs whatever numbers a student writes there.

    Example:
        >>> "x1, y1, x2, y2 = 10, 20, 110, 120" in crop_code(
        ...     random.Random(0), "/in/a.png", (10, 20, 110, 120), 2, "c"
        ... )
        True
    """
    x1, y1, x2, y2 = box
    if rng.random() < 0.5:
        return (
            f"from PIL import Image\nimport os\nimport random\n\n"
            f'image_path = "{image_path}"\nimg = Image.open(image_path)\n'
            f"# {comment}\nx1, y1, x2, y2 = {x1}, {y1}, {x2}, {y2}\n"
            + _box_guard("width, height = img.size")
            + "crop = img.crop((x1, y1, x2, y2))\n"
            f"# Enlarge the region so the small details become legible\nzoom_factor = {zoom}\n"
            f"crop = crop.resize((crop.width * zoom_factor, crop.height * zoom_factor), Image.LANCZOS)\n"
            + _save_pil("crop", "crop")
        )
    return (
        f"import cv2\nimport os\nimport random\n\n"
        f'image_path = "{image_path}"\nimage = cv2.imread(image_path)\n'
        f"# {comment}\nx1, y1, x2, y2 = {x1}, {y1}, {x2}, {y2}\n"
        + _box_guard("height, width = image.shape[:2]")
        + "roi = image[y1:y2, x1:x2]\n"
        f"# Upscale with cubic interpolation to make the details easier to read\n"
        f"roi = cv2.resize(roi, None, fx={zoom}, fy={zoom}, interpolation=cv2.INTER_CUBIC)\n"
        + _save_cv2("roi", "roi")
    )


def rotate_code(rng: random.Random, image_path: str, correction: int) -> str:
    """Rotate the image ``correction`` degrees counter-clockwise (expanding the canvas) to make it upright.

    Example:
        >>> "90" in rotate_code(random.Random(1), "/in/a.png", 90)
        True
    """
    if rng.random() < 0.5:
        return (
            f"from PIL import Image\nimport os\nimport random\n\n"
            f'image_path = "{image_path}"\nimg = Image.open(image_path).convert("RGB")\n'
            f"# Rotate counter-clockwise by {correction} degrees so the content reads upright\n"
            f"angle = {correction}\nupright = img.rotate(angle, expand=True, fillcolor=(255, 255, 255))\n"
            + _save_pil("upright", "rotated")
        )
    return (
        f"import cv2\nimport os\nimport random\n\n"
        f'image_path = "{image_path}"\nimage = cv2.imread(image_path)\nh, w = image.shape[:2]\n'
        f"# Rotate counter-clockwise by {correction} degrees about the centre, enlarging the canvas\n"
        f"angle = {correction}\nm = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)\n"
        f"cos, sin = abs(m[0, 0]), abs(m[0, 1])\n"
        f"new_w, new_h = int(h * sin + w * cos), int(h * cos + w * sin)\n"
        f"m[0, 2] += new_w / 2 - w / 2\nm[1, 2] += new_h / 2 - h / 2\n"
        f"upright = cv2.warpAffine(image, m, (new_w, new_h), borderValue=(255, 255, 255))\n"
        + _save_cv2("upright", "rotated")
    )


def contrast_code(rng: random.Random, image_path: str, enhancer: str, factor: float) -> str:
    """Raise contrast or brightness by ``factor`` (PIL ``ImageEnhance``; brightness also via OpenCV).

    Example:
        >>> "ImageEnhance.Contrast" in contrast_code(random.Random(0), "/in/a.png", "contrast", 8.0)
        True
    """
    if enhancer == "brightness" and rng.random() < 0.5:
        return (
            f"import cv2\nimport os\nimport random\n\n"
            f'image_path = "{image_path}"\nimage = cv2.imread(image_path)\n'
            f"# The photo is under-exposed: scale the pixel values up by {factor}\n"
            f"brighter = cv2.convertScaleAbs(image, alpha={factor}, beta=0)\n"
            + _save_cv2("brighter", "bright")
        )
    name = "Contrast" if enhancer == "contrast" else "Brightness"
    why = (
        "The text is faint against its background: stretch the contrast"
        if enhancer == "contrast"
        else "The image is too dark: brighten it"
    )
    return (
        f"from PIL import Image, ImageEnhance\nimport os\nimport random\n\n"
        f'image_path = "{image_path}"\nimg = Image.open(image_path).convert("RGB")\n'
        f"# {why} by a factor of {factor}\nenhanced = ImageEnhance.{name}(img).enhance({factor})\n"
        + _save_pil("enhanced", "enhanced")
    )


def compute_code(variables: dict[str, int | list[int]], formula: str, comment: str) -> str:
    """Name the values read from the image, evaluate ``formula`` over them and print it the way answers
    are written.

    The numbers appear once, on the line that names them; the formula line is the same for every task of its
    kind, so a student copies the formula and only has to read the numbers.

    Example:
        >>> print(compute_code({"width": 3, "height": 4}, "2 * (width + height)", "perimeter"))
        import math
        <BLANKLINE>
        # perimeter (values read from the image)
        width, height = 3, 4
        result = 2 * (width + height)
        # Integers print as integers; otherwise round to 2 decimals
        print(int(result) if float(result).is_integer() else round(result, 2))
    """
    names = ", ".join(variables)
    values = ", ".join(str(v) for v in variables.values())
    return (
        f"import math\n\n# {comment} (values read from the image)\n{names} = {values}\nresult = {formula}\n"
        f"# Integers print as integers; otherwise round to 2 decimals\n"
        f"print(int(result) if float(result).is_integer() else round(result, 2))"
    )
