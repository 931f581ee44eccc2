"""Code blocks in the styles real model code takes: PIL crop and zoom, cv2 slicing with bicubic resize,
contrast, rotation, numpy slicing, two crops at once, a refinement of the previous crop.

Every function returns the source of one block with the placeholder :data:`PATH` where the input's path goes;
the builder puts the in-sandbox path there to run it and the authors' path to write the record. Comments are
part of the style (the released code keeps them), so each writer has its own voice.
"""

from __future__ import annotations

__all__ = [
    "PATH", "cv2_cubic", "cv2_literal_slice", "np_pil", "pil_contrast", "pil_crop_box", "pil_refine",
    "pil_rotate", "pil_terse", "pil_two_crops", "pil_zoom",
]  # fmt: skip

PATH = "@IMAGE_PATH@"
OUT = "/mnt/data/temp_processed_images/"
Box = tuple[int, int, int, int]


def _suffix(kind: str) -> str:
    return {
        "randint": "random.randint(1000, 9999)",
        "uuid": "uuid.uuid4().hex[:8]",
        "nprand": "np.random.randint(100000, 999999)",
    }[kind]


def pil_zoom(
    box: Box,
    what: str,
    zoom: int = 2,
    suffix: str = "randint",
    convert: bool = False,
    ext: str = ".jpg",
    resample: str = "LANCZOS",
) -> str:
    """The README's style: load, crop the region of interest, zoom, save under the virtual folder, print."""
    imports = {"randint": "import random", "uuid": "import uuid", "nprand": "import numpy as np"}[suffix]
    mode = '.convert("RGB")' if convert else ""
    return f'''from PIL import Image
import os
{imports}

# Load the original image
image_path = "{PATH}"
image = Image.open(image_path){mode}

# Crop the region containing {what}
x1, y1, x2, y2 = {box[0]}, {box[1]}, {box[2]}, {box[3]}
cropped_image = image.crop((x1, y1, x2, y2))

# Zoom in so the details are easier to read
zoom_factor = {zoom}
new_size = (cropped_image.width * zoom_factor, cropped_image.height * zoom_factor)
zoomed_image = cropped_image.resize(new_size, Image.{resample})

# Save the processed image with a random suffix
base_name = os.path.splitext(os.path.basename(image_path))[0]
processed_path = f"{OUT}{{base_name}}_{{{_suffix(suffix)}}}{ext}"
zoomed_image.save(processed_path)
print(processed_path)'''


def pil_terse(box: Box, zoom: int = 3, ext: str = ".jpg") -> str:
    """A terse writer: the preset ``image_path``, one comment, an integer resize."""
    # the backslash-newline in the template is eaten by this literal: the written code has one long line
    return f'''from PIL import Image
import random, os
img = Image.open(image_path)
# zoom on the area of interest
crop = img.crop(({box[0]}, {box[1]}, {box[2]}, {box[3]}))
crop = crop.resize((crop.size[0] * {zoom}, crop.size[1] * {zoom}))
processed_path = "{OUT}" + os.path.basename(image_path).split(".")[0] + "_" \
+ str(random.randint(10000, 99999)) + "{ext}"
crop.save(processed_path)
print(processed_path)'''


def cv2_cubic(box: Box, what: str, scale: int = 3, ext: str = ".jpg") -> str:
    """OpenCV: ``cv2.imread``, numpy slicing with named bounds, ``cv2.resize`` with ``INTER_CUBIC``."""
    return f'''import cv2
import numpy as np
import os

image_path = "{PATH}"
img = cv2.imread(image_path)

# Region of interest around {what} (x1, y1, x2, y2)
x1, y1, x2, y2 = {box[0]}, {box[1]}, {box[2]}, {box[3]}
roi = img[y1:y2, x1:x2]

# Upscale with bicubic interpolation to make the small details legible
scale = {scale}
roi_zoomed = cv2.resize(roi, (roi.shape[1] * scale, roi.shape[0] * scale), interpolation=cv2.INTER_CUBIC)

name = os.path.basename(image_path).rsplit(".", 1)[0]
processed_path = f"{OUT}{{name}}_{{np.random.randint(100000, 999999)}}{ext}"
cv2.imwrite(processed_path, roi_zoomed)
print(processed_path)'''


def cv2_literal_slice(box: Box, what: str, scale: int = 2) -> str:
    """OpenCV with the bounds written straight into the slice (``img[y1:y2, x1:x2]`` as literals)."""
    return f'''import cv2
import os
import random

img = cv2.imread("{PATH}")
# crop {what}: rows {box[1]} to {box[3]}, columns {box[0]} to {box[2]}
crop = img[{box[1]}:{box[3]}, {box[0]}:{box[2]}]
h, w = crop.shape[:2]
crop = cv2.resize(crop, (w * {scale}, h * {scale}), interpolation=cv2.INTER_CUBIC)
processed_path = "{OUT}crop_" + str(random.randint(1000, 9999)) + ".jpg"
cv2.imwrite(processed_path, crop)
print(processed_path)'''


def pil_contrast(box: Box, what: str, factor: float = 2.5, zoom: int = 2) -> str:
    """Crop, then ``ImageEnhance.Contrast`` for faint text, then zoom."""
    return f'''from PIL import Image, ImageEnhance
import os
import random

image_path = "{PATH}"
image = Image.open(image_path)

# The text of {what} is faint, so crop it first
left, top, right, bottom = {box[0]}, {box[1]}, {box[2]}, {box[3]}
region = image.crop((left, top, right, bottom))

# Raise the contrast to separate the text from the background
enhancer = ImageEnhance.Contrast(region)
region = enhancer.enhance({factor})

# Enlarge for readability
region = region.resize((region.width * {zoom}, region.height * {zoom}), Image.BICUBIC)

processed_path = os.path.join("{OUT}", f"contrast_{{random.randint(1000, 9999)}}.png")
region.save(processed_path)
print(processed_path)'''


def pil_rotate(box: Box, what: str, angle: int, zoom: int = 2) -> str:
    """Crop turned text and rotate it upright (``expand=True``), then zoom."""
    return f'''from PIL import Image
import os
import random

image_path = "{PATH}"
img = Image.open(image_path)

# {what} is written sideways; crop it and rotate it upright
x1, y1, x2, y2 = {box[0]}, {box[1]}, {box[2]}, {box[3]}
patch = img.crop((x1, y1, x2, y2))
patch = patch.rotate({angle}, expand=True)

# enlarge
patch = patch.resize((patch.width * {zoom}, patch.height * {zoom}), Image.LANCZOS)

base = os.path.splitext(os.path.basename(image_path))[0]
processed_path = f"{OUT}{{base}}_rot_{{random.randint(1000, 9999)}}.jpg"
patch.save(processed_path)
print(processed_path)'''


def np_pil(box: Box, what: str, zoom: int = 2) -> str:
    """numpy slicing of a PIL image turned into an array, then back to PIL (the author's Chinese comments)."""
    return f'''import numpy as np
from PIL import Image
import os
import uuid

image_path = "{PATH}"
arr = np.array(Image.open(image_path).convert("RGB"))

# 裁剪{what}所在区域
r0, r1, c0, c1 = {box[1]}, {box[3]}, {box[0]}, {box[2]}
sub = arr[r0:r1, c0:c1]

# 放大 {zoom} 倍
out = Image.fromarray(sub).resize(((c1 - c0) * {zoom}, (r1 - r0) * {zoom}), Image.BICUBIC)
processed_path = f"{OUT}{{uuid.uuid4().hex[:8]}}.jpg"
out.save(processed_path)
print(processed_path)'''


def pil_two_crops(box_a: Box, box_b: Box, what_a: str, what_b: str, zoom: int = 2) -> str:
    """Two regions in one block, both saved and both printed."""
    return f'''from PIL import Image
import os
import random

image_path = "{PATH}"
image = Image.open(image_path)
base = os.path.splitext(os.path.basename(image_path))[0]

# First region: {what_a}
left_crop_coords = ({box_a[0]}, {box_a[1]}, {box_a[2]}, {box_a[3]})
left = image.crop(left_crop_coords)
left = left.resize((left.width * {zoom}, left.height * {zoom}))
left_path = f"{OUT}{{base}}_left_{{random.randint(1000, 9999)}}.jpg"
left.save(left_path)

# Second region: {what_b}
right_crop_coords = ({box_b[0]}, {box_b[1]}, {box_b[2]}, {box_b[3]})
right = image.crop(right_crop_coords)
right = right.resize((right.width * {zoom}, right.height * {zoom}))
right_path = f"{OUT}{{base}}_right_{{random.randint(1000, 9999)}}.jpg"
right.save(right_path)

print(left_path)
print(right_path)'''


def pil_crop_box(box: Box, what: str, zoom: float = 2.5, var: str = "crop_box") -> str:
    """A ``crop_box``/``bbox`` variable and a float zoom rounded to int sizes."""
    return f'''from PIL import Image
import random

image_path = "{PATH}"
img = Image.open(image_path)

# bounding box of {what}
{var} = ({box[0]}, {box[1]}, {box[2]}, {box[3]})
roi = img.crop({var})

# enlarge by {zoom}x
w, h = roi.size
roi = roi.resize((int(w * {zoom}), int(h * {zoom})), Image.LANCZOS)

processed_path = "{OUT}roi_%d.jpg" % random.randint(1000, 9999)
roi.save(processed_path)
print(processed_path)'''


def pil_refine(rel_box: Box, what: str, zoom: int = 2) -> str:
    """A second round that zooms further into the previous block's saved crop (``processed_path``)."""
    return f'''from PIL import Image
import random

# The previous crop still shows too much; zoom further into {what}
prev = Image.open(processed_path)
x1, y1, x2, y2 = {rel_box[0]}, {rel_box[1]}, {rel_box[2]}, {rel_box[3]}
detail = prev.crop((x1, y1, x2, y2))
detail = detail.resize((detail.width * {zoom}, detail.height * {zoom}), Image.BICUBIC)

processed_path = f"{OUT}detail_{{random.randint(1000, 9999)}}.jpg"
detail.save(processed_path)
print(processed_path)'''
