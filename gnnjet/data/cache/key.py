"""Which cache entry a data spec and its input files map to: a hash of the spec and each file's path, size and
modification time, so that a changed config or input file gives a new entry and a stale one is never read."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from gnnjet.data.formats import memory
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError

KEY_LENGTH = 20  # hex digits of an entry's name (the cache key)
CACHE_TAG = "CACHEDIR.TAG"  # the marker of a cache root (the Cache Directory Tagging Specification)


def default_cache_root() -> Path:
    """``$GNNJET_CACHE`` if set and not empty, else ``~/.cache/gnnjet`` (an empty value is not the current
    directory: caches must not land wherever a program happens to run)."""
    return Path(os.environ.get("GNNJET_CACHE") or Path.home() / ".cache" / "gnnjet")


def file_stamp(path: str) -> list[Any]:
    """[absolute path, size, mtime_ns] of an input file: what the cache key hashes, and meta.json records (for
    in-memory jets: their pseudo path, number and content hash, `formats.memory.stamp`)."""
    if memory.is_memory(path):
        return memory.stamp(path)
    st = os.stat(path)
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def cache_key(spec: DataSpec, files: list[str]) -> str:
    """Hash of the data spec and each input file's absolute path, size and mtime; a missing file is a DataError."""
    stamps = []
    for path in files:
        try:
            stamps.append(file_stamp(path))
        except FileNotFoundError:
            raise DataError(f"input file {path} does not exist") from None
        except OSError as err:  # a symlink loop, a permission problem, ...
            raise DataError(f"input file {path}: {err.strerror}") from None
    payload = json.dumps({"spec": spec.fingerprint(), "files": stamps}).encode()
    return hashlib.sha256(payload).hexdigest()[:KEY_LENGTH]
