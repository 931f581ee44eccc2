"""Make the sandbox's text safe to show the model: no protocol tags, no host paths.

Everything a result carries as text (printed output, tracebacks, error messages, and so the feedback that
goes inside ``<sandbox_output>``) passes through `redact` once, in `sandbox.outcome.present`:

* protocol tags (``<code>``, ``</answer>``, ``<image>``, ...) are escaped as ``&lt;code&gt;``, so text the
  code printed or raised can never open a block, close the output early or count as an image;
* host paths (the venv, the interpreter, site-packages, the checkout, the worker's scratch folder) are
  rewritten to fixed sandbox-side spellings, so the model and the dataset see the same text on every machine
  and at every isolation level, and nothing about the host.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import sysconfig
from collections.abc import Iterable

from sandbox.layout import CURRENT, INPUT_DIR, PROTOCOL_TAGS, SCRATCH_MOUNT, SYSTEM_PATHS, VIRTUAL_OUTPUT_DIR

_VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"
SHOWN_PREFIX = "/usr/local"  # how the interpreter's and the venv's prefixes read in sandbox text
SHOWN_STDLIB = f"{SHOWN_PREFIX}/lib/{_VERSION}"
SHOWN_SITE_PACKAGES = f"{SHOWN_STDLIB}/site-packages"
SHOWN_PROJECT = "/opt/thyme"  # the checkout that holds the ``sandbox`` package
_TAG_RE = re.compile("|".join(re.escape(tag) for tag in PROTOCOL_TAGS))
_PATH_END = (
    r"(?![\w.\-])"  # a prefix ends at a separator, not inside a longer name ("/a/b" is not in "/a/bc")
)

Rewrites = tuple[tuple[str, str], ...]  # (host prefix, sandbox-side spelling), longest host prefix first


def escape_tags(text: str) -> str:
    """Escape the protocol tags in ``text``, and nothing else, as HTML entities.

    Example:
        >>> escape_tags("<answer>42</answer> and 1 < 2 <b>")
        '&lt;answer&gt;42&lt;/answer&gt; and 1 < 2 <b>'
    """
    return _TAG_RE.sub(lambda m: "&lt;" + m[0][1:-1] + "&gt;", text)


def rewrites(pairs: Iterable[tuple[str, str]]) -> Rewrites:
    """Order host prefixes longest first (also under their resolved spelling), without "/" or duplicates.

    Example:
        >>> rewrites([("/a", "/x"), ("/a/b/", "/y"), ("/", "/z")])
        (('/a/b', '/y'), ('/a', '/x'))
    """
    found: dict[str, str] = {}
    for host, shown in pairs:
        for spelling in (host, os.path.realpath(host)):
            spelling = spelling.rstrip("/")
            if spelling and spelling not in found:
                found[spelling] = shown.rstrip("/") or "/"
    return tuple(sorted(found.items(), key=lambda pair: -len(pair[0])))


def rewrite_paths(text: str, table: Rewrites) -> str:
    """Replace every host prefix in ``text`` by its sandbox-side spelling, the longest match first.

    Example:
        >>> rewrite_paths("/h/venv/lib/x.py /h/venvs /h/venv", rewrites([("/h/venv", "/usr/local")]))
        '/usr/local/lib/x.py /h/venvs /usr/local'
    """
    if not table:
        return text
    shown = dict(table)
    return _prefix_re(table).sub(lambda m: shown[m[0]], text)


@functools.lru_cache(maxsize=64)
def _prefix_re(table: Rewrites) -> re.Pattern[str]:
    """One alternation of the host prefixes, longest first, so the longest one wins where several match."""
    return re.compile("(?:" + "|".join(re.escape(host) for host, _ in table) + ")" + _PATH_END)


def redact(text: str, table: Rewrites) -> str:
    """The one sanitiser of sandbox text: host paths rewritten, then protocol tags escaped.

    Example:
        >>> redact("<code> /h/venv/lib/PIL/x.py", rewrites([("/h/venv/lib", "/usr/local/lib")]))
        '&lt;code&gt; /usr/local/lib/PIL/x.py'
    """
    return escape_tags(rewrite_paths(text, table)) if text else text


def runtime_rewrites(project: str) -> Rewrites:
    """Host paths of the Python runtime and the checkout: the same for every worker of this process.

    System prefixes (``/usr``) keep their spelling: they are bound at the same path and name nothing of the
    host.
    """
    pairs = []
    for base in ({}, {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}):
        paths = sysconfig.get_paths(vars=base)
        pairs += [(paths["purelib"], SHOWN_SITE_PACKAGES), (paths["platlib"], SHOWN_SITE_PACKAGES)]
        pairs += [(paths["stdlib"], SHOWN_STDLIB), (paths["platstdlib"], SHOWN_STDLIB)]
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    pairs += [(p, SHOWN_PREFIX) for p in prefixes if os.path.realpath(p) not in ("/", *SYSTEM_PATHS)]
    return rewrites([*pairs, (project, SHOWN_PROJECT)])


def scratch_rewrites(host_root: str, view: str) -> Rewrites:
    """A worker's scratch folder, under its host path and as the worker sees it, in the protocol's spelling.

    Example:
        >>> scratch_rewrites("/tmp/r/w0", "/tmp/r/w0/cur")[:2]
        (('/tmp/r/w0/cur/out', '/mnt/data/temp_processed_images'), ('/tmp/r/w0/cur/in', '/mnt/data/input'))
    """
    pairs = []
    for current in (f"{host_root}/{CURRENT}", view):
        pairs += [(f"{current}/in", INPUT_DIR), (f"{current}/out", VIRTUAL_OUTPUT_DIR)]
    pairs += [(f"{host_root}/{CURRENT}", f"{SCRATCH_MOUNT}/{CURRENT}"), (host_root, SCRATCH_MOUNT)]
    return rewrites(pairs)
