"""Blocks that exercise what real image-processing blocks use: CPython's stdlib, Pillow, numpy and OpenCV.

Shared by the seccomp allowlist test (every block must succeed under the policy, at both isolation
levels) and by ``measure_syscalls.py``, which derives the allowlist from the syscalls these blocks make.
Each block prints ``DONE`` last (the exception block raises instead).
"""

from __future__ import annotations

PIL_BLOCK = """
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps
import os, random
img = Image.open(image_path)
img.load()
print(img.size, img.mode, img.format)
crop = img.crop((10, 10, 200, 150)).resize((400, 300), Image.LANCZOS)
rot = crop.rotate(33, expand=True, resample=Image.BICUBIC)
enh = ImageEnhance.Sharpness(ImageEnhance.Brightness(ImageEnhance.Contrast(rot).enhance(1.5)).enhance(1.2))\
.enhance(2.0)
enh = ImageOps.autocontrast(enh.filter(ImageFilter.GaussianBlur(2)))
gray = ImageOps.grayscale(enh).point(lambda v: 255 if v > 100 else 0)
draw = ImageDraw.Draw(enh)
draw.rectangle((1, 1, 40, 40), outline="red", width=2)
draw.text((5, 5), "label", fill="blue")
enh.thumbnail((128, 128))
path = os.path.join(temp_output_dir, f"crop_{random.randint(1000, 9999)}.png")
enh.save(path)
enh.convert("RGB").save(os.path.join(temp_output_dir, "photo.jpg"), quality=90)
gray.save("gray.bmp")
enh.save("anim.gif")
enh.save("page.tiff")
enh.save("pic.webp")
for name in ("gray.bmp", "anim.gif", "page.tiff", "pic.webp"):
    with Image.open(name) as again:
        again.load()
print(path)
print("DONE")
"""

NUMPY_BLOCK = """
import numpy as np
a = np.random.rand(256, 256).astype(np.float32)
b = a @ a.T
u, s, vt = np.linalg.svd(a[:64, :64])
f = np.fft.fft2(a)
print(round(float(b.mean()), 3) > 0, s.shape, f.dtype, np.sort(a, axis=None)[:2].shape)
print(np.percentile(a, [5, 50, 95]).round(2), np.argmax(a), np.unique((a * 4).astype(int)))
np.save("arr.npy", a)
print(np.load("arr.npy").shape, np.load("arr.npy", mmap_mode="r")[0, :2].shape)
np.savetxt("arr.txt", a[:3, :3])
print(np.loadtxt("arr.txt").shape)
img = np.asarray(__import__("PIL.Image").Image.open(image_path))
print(img.shape, img.dtype, img[..., 0].std() >= 0)
print("DONE")
"""

CV2_BLOCK = """
import cv2, numpy as np, os
im = cv2.imread(image_path)
h, w = im.shape[:2]
small = cv2.resize(im, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
M = cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0)
rot = cv2.warpAffine(im, M, (w, h))
gray = cv2.cvtColor(rot, cv2.COLOR_BGR2GRAY)
blur = cv2.GaussianBlur(gray, (5, 5), 0)
edges = cv2.Canny(blur, 50, 150)
_, th = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
contours, _ = cv2.findContours(th, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
cv2.rectangle(rot, (5, 5), (50, 50), (0, 0, 255), 2)
cv2.putText(rot, "hi", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 0, 0), 2)
persp = cv2.warpPerspective(im, np.eye(3), (w, h))
hist = cv2.calcHist([gray], [0], None, [16], [0, 256])
eq = cv2.equalizeHist(gray)
clahe = cv2.createCLAHE(2.0, (8, 8)).apply(gray)
ok, buf = cv2.imencode(".png", small)
back = cv2.imdecode(buf, cv2.IMREAD_COLOR)
out = os.path.join(temp_output_dir, "rotated.png")
cv2.imwrite(out, rot)
cv2.imwrite(os.path.join(temp_output_dir, "edges.jpg"), edges, [cv2.IMWRITE_JPEG_QUALITY, 85])
print(small.shape, edges.dtype, len(contours) >= 0, hist.shape, eq.shape, clahe.shape, back.shape, ok)
print(out)
print("DONE")
"""

STDLIB_BLOCK = """
import math, json, re, random, os, sys, io, time, threading, collections, itertools, functools
import datetime, base64, hashlib, struct, tempfile, shutil, pathlib, string, copy, fractions, decimal
import textwrap, bisect, zlib, gzip, pickle, typing, enum, operator, traceback
print(math.sqrt(2), math.hypot(3, 4), json.dumps({"a": [1, 2.5, None]}), json.loads('{"b": 1}'))
print(re.findall(r"\\d+", "a1b22c333"), random.random() < 1, random.choice("xyz") in "xyz")
print(fractions.Fraction(1, 3) * 3, decimal.Decimal("1.1") + 1)
print(datetime.datetime.now().year > 2000, datetime.date.today().isoformat() > "2000", time.time() > 0)
print(hashlib.sha256(b"x").hexdigest()[:8], base64.b64encode(b"xy"), zlib.crc32(b"x"), os.urandom(4) != b"")
time.sleep(0.01)
results = []
threads = [threading.Thread(target=lambda i=i: results.append(i * i)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sorted(results), threading.active_count())
os.makedirs("sub/dir", exist_ok=True)
pathlib.Path("sub/dir/a.txt").write_text("hello")
shutil.copy("sub/dir/a.txt", "sub/b.txt")
os.rename("sub/b.txt", "sub/c.txt")
print(sorted(str(p) for p in pathlib.Path("sub").rglob("*")), os.path.getsize("sub/c.txt"), \
os.stat("sub").st_mode > 0)
print(sorted(os.listdir(".")), os.getcwd() != "", os.path.exists(image_path), os.access("sub", os.W_OK))
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as tmp:
    tmp.write("t")
with gzip.open("z.gz", "wt") as gz:
    gz.write("zip")
with open("rows.txt", "w") as handle:
    handle.writelines(["1,2\\n", "3,4\\n"])
print(open("rows.txt").read().split(), pickle.loads(pickle.dumps({"k": (1, 2)})))
shutil.rmtree("sub")
os.remove(tmp.name)
print(os.getpid() > 0, os.cpu_count() is None or os.cpu_count() > 0, len(os.sched_getaffinity(0)) >= 1)
print(os.getpriority(os.PRIO_PROCESS, 0), os.times().elapsed >= 0, sys.getrecursionlimit() > 0)
sys.stdout.write("x" * 5000 + "\\n")
sys.stderr.write("warning text\\n")
print(textwrap.shorten("a b c d e f", 5), bisect.bisect([1, 3], 2))
try:
    open("/nonexistent/file")
except FileNotFoundError:
    print("no such file")
try:
    {}["k"]
except KeyError:
    traceback.print_exc()
print(string.ascii_letters[:3], copy.deepcopy([[1]]), list(itertools.islice(itertools.count(), 3)))
print("DONE")
"""

POSIX_BLOCK = """
import os, shutil, signal, select, time, resource, numpy as np
os.makedirs("sub/dir")
open("sub/dir/a.txt", "w").write("hello")
shutil.copy2("sub/dir/a.txt", "sub/d.txt")
os.symlink("a.txt", "sub/dir/link")
shutil.copytree("sub/dir", "sub/tree", symlinks=True)
os.utime("sub/d.txt", (1, 1))
os.chmod("sub/d.txt", 0o600)
os.truncate("sub/d.txt", 2)
print(os.readlink("sub/dir/link"), os.path.realpath("sub/dir/link") != "", os.lstat("sub/dir/link").st_size)
r, w = os.pipe()
os.write(w, b"x")
print(select.select([r], [], [], 0)[0] == [r], os.read(r, 1))
fired = []
signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
signal.setitimer(signal.ITIMER_REAL, 0.01)
time.sleep(0.1)
signal.signal(signal.SIGUSR1, lambda *_: fired.append(2))
signal.raise_signal(signal.SIGUSR1)
print(fired, signal.alarm(0))
print(os.statvfs(".").f_bsize > 0, shutil.disk_usage(".").total > 0, \
resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0)
mm = np.memmap("mm.dat", dtype="uint8", mode="w+", shape=(4096,))
mm[:] = 7
mm.flush()
del mm
print(np.fromfile("mm.dat", dtype="uint8")[:2], os.uname().sysname, len(os.getloadavg()))
fd = os.dup(1)
os.fsync(os.open("sub/d.txt", os.O_RDWR))
os.close(fd)
shutil.rmtree("sub")
print("DONE")
"""

# Stdlib modules that neither the zygote nor Pillow, numpy or cv2 import: at the reduced level they are
# importable only where the interpreter's files are readable by the sandbox uid (not under a mode-700 /root),
# so a ModuleNotFoundError there is the environment's, not the policy's.
IMPORT_BLOCK = """
import statistics, glob, csv, heapq, dataclasses, zipfile, sqlite3, colorsys, secrets, fcntl, platform
import numpy as np
np.savez_compressed("arrs.npz", a=np.arange(6))
print(sorted(np.load("arrs.npz").files), statistics.mean([1, 2, 3]), heapq.nsmallest(1, [2, 1]), \
glob.glob("*.npz"))
with open("rows.csv", "w", newline="") as handle:
    csv.writer(handle).writerows([[1, 2], [3, 4]])
con = sqlite3.connect(":memory:")
print(con.execute("select 1 + 1").fetchone(), colorsys.rgb_to_hsv(1, 0, 0), len(secrets.token_hex(4)))
with open("lock", "w") as handle:
    fcntl.flock(handle, fcntl.LOCK_EX)
print(platform.system(), platform.machine())
print("DONE")
"""

RAISE_BLOCK = """
import numpy as np
from PIL import Image
def helper(x):
    return np.asarray(x).reshape(7, 11)
helper(Image.open(image_path))
"""

BLOCKS = {
    "pil": PIL_BLOCK,
    "numpy": NUMPY_BLOCK,
    "cv2": CV2_BLOCK,
    "stdlib": STDLIB_BLOCK,
    "posix": POSIX_BLOCK,
    "imports": IMPORT_BLOCK,
}
