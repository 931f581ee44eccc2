"""Protocol paths: the few absolute paths the model and the sandbox agree on, defined once.

Inside a fully isolated worker the model sees a small fixed tree. The supervisor prepares one
execution folder per block on the host; the worker sees it at ``SCRATCH_MOUNT/CURRENT``:

* ``in/``   the input images, read-only (``image_path`` points at the first one);
* ``out/``  the block's output folder, also reachable as ``VIRTUAL_OUTPUT_DIR`` (Thyme's convention);
* ``work/`` the working directory and ``TMPDIR``.
"""

from __future__ import annotations

VIRTUAL_OUTPUT_DIR = "/mnt/data/temp_processed_images/"  # Thyme's virtual output folder (prompt protocol)
INPUT_DIR = "/mnt/data/input/"  # where input images appear inside a fully isolated worker
SCRATCH_MOUNT = "/scratch"  # the worker's scratch root inside the mount namespace
CURRENT = "cur"  # name of the execution folder under the scratch root
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tiff", ".tif", ".webp")

# The host system a worker needs, bound read-only at the same paths (besides the interpreter, the venv
# and this package, which are derived from the running interpreter).
SYSTEM_PATHS = ("/usr", "/etc/ld.so.cache")
ROOT_LINKS = ("/lib", "/lib64", "/bin", "/sbin")  # merged-/usr symlinks recreated inside the sandbox
DEVICE_PATHS = ("/dev/null", "/dev/zero", "/dev/urandom")  # devices a block may read and write
WORKER_PATH_ENV = "/usr/bin:/bin"

# The trajectory format's tags (the same strings as synthesis.format.TAGS): no text the sandbox returns may
# hold one, or printed or raised text would read as protocol (sandbox.redact escapes them).
PROTOCOL_TAGS = (
    "<think>", "</think>", "<code>", "</code>", "<sandbox_output>", "</sandbox_output>", "<answer>",
    "</answer>", "<image>",
)  # fmt: skip
