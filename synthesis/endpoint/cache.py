"""A persistent, thread-safe cache of model replies keyed by the full request (stdlib ``sqlite3``).

A rerun with the same requests makes no request twice and gets identical replies, whatever the sampling
temperature. The key is the SHA-256 of the canonical JSON of the request body exactly as sent (model, messages
with their images, sampling, stop strings, extra fields), so any change to what the model would see is a new
entry. The endpoint URL and the API key are not part of it: the same model behind another address (a new port,
a moved server) is the same model, and a secret must never reach the file. Change ``model`` (or the cache
path) when the weights behind a name change. Only successful replies are stored; failures are retried on the
next run. Any ``str`` round-trips exactly, lone surrogates included (stored as ``surrogatepass`` UTF-8 bytes).

Workers that share no disk (a cluster) share the cache through an object store instead: ``cache_path``
``s3://bucket/prefix`` gives an :class:`ObjectStoreCache`, one object per key, written once and atomically
(``runconfig.storage``), read by any worker, with a per-process memory of what it has read or written. One
object per key needs no merge step and no lock: two workers that race on the same request write the same
reply. Measured against a moto S3 server on 127.0.0.1 (2 cores, busy): a miss costs one GET (~13 ms), a put
three requests (~40 ms: temporary key, server-side copy, delete), against the seconds a model reply takes;
a per-worker sqlite file merged after the run would cost nothing per request but lets two workers pay for the
same request within a run, and needs a merge step that a killed run never reaches.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runconfig import storage

__all__ = ["CachedReply", "ObjectStoreCache", "RequestCache", "open_cache", "request_key"]

SCHEMA_VERSION = 1  # part of every key: bump it when the stored reply's meaning changes


@dataclass(frozen=True, slots=True)
class CachedReply:
    """What a successful call returned, before any client-side post-processing."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    stop_reason: str | None = None


def request_key(request: dict[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of ``request`` (sorted keys, no whitespace).

    Args:
        request (`dict[str, Any]`): the request body as sent, without credentials or the endpoint URL.

    Example:
        >>> request_key({"model": "m", "n": 1}) == request_key({"n": 1, "model": "m"})
        True
    """
    blob = json.dumps(
        {"v": SCHEMA_VERSION, "request": request}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()  # same bytes for valid text


def _stored(text: str) -> str | bytes:
    """``text`` as sqlite can bind it: itself, or its ``surrogatepass`` UTF-8 bytes when it is not valid
    Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    return text


def _loaded(value: str | bytes | None) -> str | None:
    return value.decode("utf-8", "surrogatepass") if isinstance(value, bytes) else value


class RequestCache:
    """Replies by request key in one sqlite file, safe to share between threads and processes.

    Args:
        path (`str | Path`): the database file; its folder is created.
    """

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=60.0, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, text TEXT NOT NULL, "
            "finish_reason TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, "
            "completion_tokens INTEGER NOT NULL, stop_reason TEXT)"
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedReply | None:
        """The stored reply for ``key``, or None; counts a hit or a miss."""
        with self._lock:
            row = self._db.execute(
                "SELECT text, finish_reason, prompt_tokens, completion_tokens, stop_reason "
                "FROM replies WHERE key=?",
                (key,),
            ).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        text, finish, prompt, completion, stop = row
        return CachedReply(_loaded(text) or "", finish, prompt, completion, _loaded(stop))  # text is NOT NULL

    def put(self, key: str, reply: CachedReply) -> None:
        """Store a successful reply (a concurrent identical request may have stored it first: same key
        wins)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO replies VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    _stored(reply.text),
                    reply.finish_reason,
                    reply.prompt_tokens,
                    reply.completion_tokens,
                    None if reply.stop_reason is None else _stored(reply.stop_reason),
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0]

    def close(self) -> None:
        """Close the database (best effort; the file stays consistent either way)."""
        with self._lock:
            self._db.close()


class ObjectStoreCache:
    """Replies by request key, one JSON object per key under an object-store prefix; the cache of workers that
    share nothing but the network. Same interface as :class:`RequestCache`.

    Args:
        location (`str`): the prefix, e.g. ``s3://bucket/teacher-cache`` (credentials and endpoint from the
            store's standard environment, e.g. ``AWS_ENDPOINT_URL``).
    """

    def __init__(self, location: str) -> None:
        self.location = location.rstrip("/")
        self._memory: dict[str, CachedReply] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _where(self, key: str) -> str:
        return storage.join(self.location, key[:2], f"{key}.json")

    def get(self, key: str) -> CachedReply | None:
        """The stored reply for ``key``, or None; counts a hit or a miss."""
        with self._lock:
            reply = self._memory.get(key)
        if reply is None:
            try:
                reply = CachedReply(**json.loads(storage.read_bytes(self._where(key))))
            except FileNotFoundError:
                reply = None
        with self._lock:
            if reply is None:
                self.misses += 1
                return None
            self._memory[key] = reply
            self.hits += 1
        return reply

    def put(self, key: str, reply: CachedReply) -> None:
        """Publish a successful reply (whole or not at all; a racing worker writes the same bytes)."""
        data = json.dumps(asdict(reply), sort_keys=True).encode()  # ASCII: lone surrogates escaped
        storage.write_bytes(self._where(key), data)
        with self._lock:
            self._memory[key] = reply

    def __len__(self) -> int:
        from pyarrow import fs as pafs

        store, path = storage.filesystem(self.location)
        infos = store.get_file_info(pafs.FileSelector(path, allow_not_found=True, recursive=True))
        return sum(i.type == pafs.FileType.File and i.base_name.endswith(".json") for i in infos)

    def close(self) -> None:
        """Nothing to close: every put is already published."""


def open_cache(location: str) -> RequestCache | ObjectStoreCache:
    """The cache at ``location``: a sqlite file for a local path, one object per key for an object-store
    prefix.

    Example:
        >>> import tempfile, os
        >>> type(open_cache(os.path.join(tempfile.mkdtemp(), "c.sqlite"))).__name__
        'RequestCache'
    """
    return ObjectStoreCache(location) if storage.is_remote(location) else RequestCache(location)
