"""One filesystem seam for everything a run reads or writes: a local path or an object-store URI.

A *location* is a plain local path (``out``, ``/data/tasks.parquet``) or an object-store URI
(``s3://bucket/run``, ``gs://bucket/run``). :func:`location_problem` says, in one line, why a location
cannot be used, and is what the config sections call, so ``run.output_dir=s3:/x`` (a typo), an unknown scheme
(``hdfs://``, ``az://``) or an object store that build_sft/build_rl do not yet support end to end is refused
before any work starts, never written as a local folder named ``s3:``. :data:`END_TO_END` lists the
object-store schemes build_sft and build_rl may write their run to (``s3``), :data:`INPUTS_END_TO_END` those
their source files and dedupe reference set may be read from (``s3``), :data:`CACHES_END_TO_END` those the
teacher's request cache may live on (``s3``); the README's cluster section says what is left. On the seam: the
source readers (``synthesis.importers.common``), the record store (``pipelines.record_store``), the shard
writer and promotion (``pipelines.shards``), progress, JSON outputs, and the launcher's finishing
(``pipelines.run_folder``).

The I/O functions (:func:`read_bytes`, :func:`write_bytes`, :func:`open_for_publish`, :func:`exists`,
:func:`list_files`, :func:`delete`) take either kind of location. Local paths keep today's behaviour: write
to a temporary file in the same folder, then ``os.replace``. An object store has no rename, and a failed
write must never leave a partial object under the final key, so :func:`open_for_publish` writes to a
temporary key ``<key>.tmp-<uuid>`` and publishes by one server-side copy (S3 CopyObject: the destination
appears whole or not at all), then deletes the temporary key; a set of objects is committed by writing its
marker (``manifest.json``, ``shards.json``) last.

Library: ``pyarrow.fs`` (chosen by measurement, apache-beam 2.77.0 / pyarrow 25.0.1, moto 5.2.6 S3 server on
127.0.0.1, a busy 2-core machine):

* Every Beam worker already carries it: apache-beam's core depends on pyarrow, and pyarrow's wheel has the S3
  and GCS filesystems built in. fsspec+s3fs would add s3fs, aiobotocore and botocore to every worker; Beam's
  own ``FileSystems`` needs ``apache-beam[aws]`` (boto3) or ``[gcp]`` on every worker, and importing it took
  1.72 s against 0.29 s for ``pyarrow.fs`` with ``S3FileSystem``.
* It is what writes the Parquet shards already: ``pyarrow.parquet`` writes straight into its streams.
* 50 PUTs of 200 KB took 1.9 s (boto3: 1.1 s), 50 GETs 0.67 s, one server-side copy 5 ms: the copy that
  publishes a key costs nothing next to the write.
* The trap it has (measured): an exception inside ``with fs.open_output_stream(key)`` still completes the
  upload, so a partial object appears under ``key``. Hence the temporary key and the copy.

Credentials and endpoints come only from each store's standard environment variables and files, read by
the library itself (S3: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` for an S3-compatible store, ``~/.aws/``; GCS: application
default credentials), never from ``pipeline.yaml``: a location holds no secret, so one in a manifest is safe.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = [
    "CACHES_END_TO_END",
    "END_TO_END",
    "INPUTS_END_TO_END",
    "OBJECT_STORES",
    "copy",
    "delete",
    "delete_tree",
    "download_tree",
    "exists",
    "filesystem",
    "is_remote",
    "join",
    "list_files",
    "list_folders",
    "list_tree",
    "location_problem",
    "open_for_publish",
    "open_input",
    "read_bytes",
    "scheme",
    "split",
    "upload_file",
    "upload_tree",
    "write_bytes",
]

# Object-store schemes this module reads and writes (pyarrow.fs gives both for free).
OBJECT_STORES = {"s3": "S3 or an S3-compatible store (AWS_ENDPOINT_URL)", "gs": "Google Cloud Storage"}
# The ones a pipeline run may use today, every stage included; the rest are refused at config time. Outputs
# (run.output_dir of build_sft and build_rl; not replay, which merges into a local folder): S3. Inputs read
# through this module (sources.task_files, sources.thyme_files, validators.duplicates.reference): S3. Both
# tested against a real S3-compatible server; GCS has no local server to test against here, so it stays
# refused.
END_TO_END: frozenset[str] = frozenset({"s3"})
INPUTS_END_TO_END: frozenset[str] = frozenset({"s3"})
# The teacher's request cache (teacher.openai.cache_path): one object per request under a prefix, so workers
# that share no disk share it (synthesis.endpoint.cache.ObjectStoreCache); tested against an S3 server.
CACHES_END_TO_END: frozenset[str] = frozenset({"s3"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):(.*)$", re.DOTALL)
_ALIASES = {"gcs": "gs"}
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def scheme(location: str) -> str:
    """The URI scheme of ``location`` in lower case (``gcs`` read as ``gs``), or ``""`` for a local path.

    Example:
        >>> [scheme(x) for x in ("out", "/abs/out", "s3://b/k", "GS://b", "gcs://b", "s3:/typo")]
        ['', '', 's3', 'gs', 'gs', 's3']
    """
    match = _SCHEME.match(location)
    if not match or "/" in match.group(1):
        return ""
    name = match.group(1).lower()
    return _ALIASES.get(name, name)


def is_remote(location: str) -> bool:
    """Whether ``location`` is an object-store URI (not a local path)."""
    return scheme(location) != ""


def location_problem(location: str, allowed: frozenset[str] | set[str] = END_TO_END) -> str:
    """Why ``location`` cannot be used ('' when it can): a malformed or unknown URI, or an object store not in
    ``allowed``.

    Args:
        location (`str`): a local path or an object-store URI.
        allowed (`set[str]`, *optional*): the object-store schemes accepted; defaults to :data:`END_TO_END`.

    Example:
        >>> location_problem("out"), location_problem("s3://bucket/run", {"s3"})
        ('', '')
        >>> print(location_problem("s3:/bucket/run"))
        is not a local path nor a well-formed URI: write s3://bucket/key (two slashes), or a path
        >>> print(location_problem("hdfs://nn/run"))
        has an unsupported scheme 'hdfs://': use a local path, s3://bucket/key or gs://bucket/key
    """
    if "\0" in location:
        return "contains a NUL byte"
    name = scheme(location)
    if not name:
        return ""
    rest = location.split(":", 1)[1]
    if name not in OBJECT_STORES:
        return f"has an unsupported scheme '{name}://': use a local path, s3://bucket/key or gs://bucket/key"
    if not rest.startswith("//") or rest.startswith("///"):
        return (
            f"is not a local path nor a well-formed URI: write {name}://bucket/key (two slashes), or a path"
        )
    if not rest[2:].split("/", 1)[0]:
        return f"names no bucket: write {name}://bucket/key"
    if name not in allowed:
        return (
            f"is on {OBJECT_STORES[name]}, which a run does not yet support end to end (only local paths "
            "today; README 'Running on a cluster' says what is tested)"
        )
    return ""


def join(base: str, *parts: str) -> str:
    """``base`` and ``parts`` joined with ``/`` (a local path keeps ``os.path`` rules).

    Example:
        >>> join("s3://b/run/", "data", "x.parquet"), join("out", "run")
        ('s3://b/run/data/x.parquet', 'out/run')
    """
    if not is_remote(base):
        return os.path.join(base, *parts)
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def split(location: str) -> tuple[str, str]:
    """``(parent, name)`` of ``location``.

    Example:
        >>> split("s3://b/run/data/"), split("out/run/data")
        (('s3://b/run', 'data'), ('out/run', 'data'))
    """
    if not is_remote(location):
        return os.path.dirname(location), os.path.basename(location)
    parent, _, name = location.rstrip("/").rpartition("/")
    return parent, name


def filesystem(location: str) -> tuple[Any, str]:
    """The ``pyarrow.fs`` filesystem of ``location`` and the path inside it (``bucket/key`` for a store)."""
    from pyarrow import fs as pafs

    if not is_remote(location):
        return pafs.LocalFileSystem(), os.path.abspath(location)
    problem = location_problem(location, set(OBJECT_STORES))
    if problem:
        raise ValueError(f"{location!r} {problem}")
    name, rest = scheme(location), location.split(":", 1)[1]
    store, path = pafs.FileSystem.from_uri(f"{name}:{rest}")
    return store, path.rstrip("/")


def read_bytes(location: str) -> bytes:
    """The whole content of the file or object at ``location``."""
    if not is_remote(location):
        return Path(location).read_bytes()
    store, path = filesystem(location)
    with store.open_input_stream(path) as stream:
        return stream.read()


def open_input(location: str) -> Any:
    """A random-access file at ``location`` for ``pyarrow.parquet`` (a footer read, then the columns asked
    for): the path itself when local, a ``pyarrow`` input file on a store. Raises ``FileNotFoundError`` when
    there is none."""
    if not is_remote(location):
        return location
    store, path = filesystem(location)
    return store.open_input_file(path)


def exists(location: str) -> bool:
    """Whether a file or object is at ``location``."""
    if not is_remote(location):
        return os.path.isfile(location)
    from pyarrow import fs as pafs

    store, path = filesystem(location)
    return store.get_file_info(path).type == pafs.FileType.File


def list_files(location: str, suffix: str = "") -> list[str]:
    """The files directly in the folder (or key prefix) ``location`` whose names end in ``suffix``, sorted, as
    locations of the same kind; [] when there is none."""
    if not is_remote(location):
        if not os.path.isdir(location):
            return []
        return sorted(os.path.join(location, n) for n in os.listdir(location) if n.endswith(suffix))
    from pyarrow import fs as pafs

    store, path = filesystem(location)
    infos = store.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    names = sorted(
        i.base_name for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(suffix)
    )
    return [join(location, n) for n in names if ".tmp-" not in n]


def list_folders(location: str) -> list[str]:
    """The names of the folders (common key prefixes on a store) directly in ``location``, sorted."""
    if not is_remote(location):
        return sorted(e.name for e in os.scandir(location) if e.is_dir()) if os.path.isdir(location) else []
    from pyarrow import fs as pafs

    store, path = filesystem(location)
    infos = store.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=False))
    return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)


def list_tree(location: str, suffix: str = "") -> list[str]:
    """Every file under the folder (or key prefix) ``location``, at any depth, whose name ends in ``suffix``,
    as paths relative to it, sorted; [] when there is none. Temporary keys of unfinished writes are left
    out."""
    if not is_remote(location):
        root = Path(location)
        if not root.is_dir():
            return []
        return sorted(
            str(p.relative_to(root)) for p in root.rglob(f"*{suffix}") if p.is_file() and ".tmp" not in p.name
        )
    from pyarrow import fs as pafs

    store, path = filesystem(location)
    infos = store.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=True))
    return sorted(
        i.path[len(path) + 1 :]
        for i in infos
        if i.type == pafs.FileType.File and i.base_name.endswith(suffix) and ".tmp-" not in i.base_name
    )


def copy(source: str, target: str) -> None:
    """Copy the file or object ``source`` to ``target`` (both local or both on one store): a server-side
    copy on a store, which publishes ``target`` whole or not at all."""
    if is_remote(source) != is_remote(target):
        raise ValueError(f"copy needs two locations of one kind, got {source!r} and {target!r}")
    if not is_remote(source):
        with open(source, "rb") as handle, open_for_publish(target) as sink:
            while data := handle.read(1 << 22):
                sink.write(data)
        return
    store, path = filesystem(source)
    _, target_path = filesystem(target)
    store.copy_file(path, target_path)


def download_tree(location: str, local: str | os.PathLike) -> list[str]:
    """Copy every file under ``location`` (a folder or key prefix) into the local folder ``local``, keeping
    relative paths; returns them."""
    names = list_tree(location)
    for name in names:
        target = Path(local) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_remote(location):
            store, path = filesystem(join(location, name))
            with store.open_input_stream(path) as stream, open(target, "wb") as sink:
                while data := stream.read(1 << 22):
                    sink.write(data)
        else:
            import shutil

            shutil.copyfile(os.path.join(location, name), target)
    return names


def upload_tree(local: str | os.PathLike, location: str) -> list[str]:
    """Publish every file under the local folder ``local`` at ``location`` with the same relative paths
    (each atomically, see :func:`open_for_publish`); returns them."""
    names = list_tree(str(local))
    for name in names:
        upload_file(Path(local) / name, join(location, name))
    return names


def delete(location: str) -> None:
    """Remove the file or object at ``location`` (nothing when there is none)."""
    if not is_remote(location):
        Path(location).unlink(missing_ok=True)
        return
    store, path = filesystem(location)
    try:
        store.delete_file(path)
    except FileNotFoundError:
        pass


def delete_tree(location: str) -> None:
    """Remove the folder (or every key under the prefix) ``location``; nothing when there is none."""
    if not is_remote(location):
        import shutil

        shutil.rmtree(location, ignore_errors=True)
        return
    store, path = filesystem(location)
    try:
        store.delete_dir(path)
    except (FileNotFoundError, OSError):
        pass


@contextmanager
def open_for_publish(location: str) -> Iterator[IO[bytes]]:
    """A binary stream whose content appears at ``location`` whole when the block ends without an exception,
    and never in part.

    Local: a temporary file in the same folder, then ``os.replace``. Object store: a temporary key beside
    ``location``, published by one server-side copy, then deleted (an object store has no rename, and a
    failed upload stream still publishes what it had).
    """
    if not is_remote(location):
        folder = os.path.dirname(os.path.abspath(location))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(location)}.tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make every output private to its writer
            os.replace(tmp, location)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return
    store, path = filesystem(location)
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        with store.open_output_stream(tmp) as stream:
            yield stream
        store.copy_file(tmp, path)
    finally:
        try:
            store.delete_file(tmp)
        except (FileNotFoundError, OSError):
            pass


def write_bytes(location: str, data: bytes) -> None:
    """Write ``data`` to ``location`` atomically (see :func:`open_for_publish`)."""
    with open_for_publish(location) as stream:
        stream.write(data)


def upload_file(local: str | os.PathLike, location: str, chunk: int = 1 << 22) -> None:
    """Publish the local file ``local`` at ``location`` (atomically, see :func:`open_for_publish`)."""
    with open(local, "rb") as source, open_for_publish(location) as sink:
        while data := source.read(chunk):
            sink.write(data)
