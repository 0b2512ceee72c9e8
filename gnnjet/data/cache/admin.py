"""Listing and cleaning a cache directory (bin/cache.py): each entry's status, jets and size.

Only what is recognisably gnnjet's is ever touched: an entry is a directory named by a cache key
(`key.KEY_LENGTH` hex digits; ``.KEY.<suffix>`` while it is built, or left by a killed build or set aside as
damaged) holding nothing but the files a cache entry has (meta.json, the store's npy files, preprocessed arrays,
temporaries of atomic writes); a lock is ``.KEY.lock``. Everything else under the root (a run directory, a
home directory's dot files) is reported as foreign and left alone, and a root that holds nothing gnnjet wrote
is refused as a whole.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnnjet.data.arrays import STORE_FILES
from gnnjet.data.cache.key import CACHE_TAG, KEY_LENGTH, file_stamp
from gnnjet.data.cache.store import DamagedCache, check_entry
from gnnjet.errors import GnnjetError
from gnnjet.fileio import is_locked, remove_if_unlocked

_KEY = f"[0-9a-f]{{{KEY_LENGTH}}}"
ENTRY_NAME = re.compile(_KEY)
WORK_NAME = re.compile(rf"\.({_KEY})\.[A-Za-z0-9_.]+")  # mkdtemp's ".KEY.random", or ".KEY.damaged.PID"
LOCK_NAME = re.compile(rf"\.{_KEY}\.lock")
_STORE = "|".join(re.escape(name) for name in STORE_FILES)
# meta.json, a store array, a preprocessed array (nodes.TAG.npy, u.TAG.npy; x.TAG.npy of earlier versions), or an
# atomic write's temporary of either
ENTRY_FILE = re.compile(rf"meta\.json|(?:{_STORE})\.npy|(?:x|u|nodes)\.[0-9a-f]+\.npy|"
                        rf"\.(?:meta\.json|[\w.]+\.npy)\.\d+\.tmp.*")


class NotACache(GnnjetError):
    """A cache root holds files but nothing gnnjet wrote: it is refused rather than cleaned."""


@dataclass
class CacheEntry:
    """One entry of a cache directory."""

    path: Path
    # "ok", "stale" (an input file changed or is gone), "damaged", "building" (a process is filling it) or
    # "unfinished" (left by a build that was killed)
    status: str
    num_jets: int
    megabytes: float
    files: list[str]


@dataclass
class CacheListing:
    """What a cache root holds: gnnjet's entries (largest first) and the foreign paths it leaves alone."""

    root: Path
    entries: list[CacheEntry]
    foreign: list[Path]


def is_entry_layout(path: Path) -> bool:
    """Whether the directory `path` holds only files a cache entry has (no subdirectory, no link, no other
    name): the layout test that stands between `--clean` and a directory that merely has an entry-like name."""
    try:
        return all(child.is_file() and not child.is_symlink() and ENTRY_FILE.fullmatch(child.name)
                   for child in path.iterdir())
    except OSError:
        return False


def scan(cache_root: Path) -> CacheListing:
    """Sort the children of `cache_root` into gnnjet's entries and foreign paths; a root that holds something
    but nothing of gnnjet's (no entry, no lock, no CACHEDIR.TAG of gnnjet) is a NotACache error."""
    cache_root = Path(cache_root)
    if not cache_root.is_dir():
        if cache_root.exists():
            raise NotACache(f"cache root {cache_root} is not a directory (it is a file): check --root, "
                            "data.cache_dir or $GNNJET_CACHE")
        return CacheListing(cache_root, [], [])
    found, foreign, locks = [], [], 0
    for path in sorted(cache_root.iterdir()):
        if path.name == CACHE_TAG and is_gnnjet_tag(path):
            continue
        if LOCK_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
            locks += 1
            continue
        named = ENTRY_NAME.fullmatch(path.name) or WORK_NAME.fullmatch(path.name)
        if named and path.is_dir() and not path.is_symlink() and is_entry_layout(path):
            found.append(_entry(path))
        else:
            foreign.append(path)
    if foreign and not found and not locks and not is_gnnjet_tag(cache_root / CACHE_TAG):
        raise NotACache(f"{cache_root} is not a gnnjet cache (none of its {len(foreign)} entries is a cache "
                        "entry, and it has no gnnjet CACHEDIR.TAG): nothing was touched; check --root, "
                        "data.cache_dir or $GNNJET_CACHE")
    return CacheListing(cache_root, sorted(found, key=lambda e: -e.megabytes), foreign)


def is_gnnjet_tag(path: Path) -> bool:
    """Whether `path` is the CACHEDIR.TAG that gnnjet writes into a cache root it creates."""
    try:
        return path.is_file() and path.read_text(errors="replace").startswith(TAG_TEXT)
    except OSError:
        return False


TAG_TEXT = ("Signature: 8a477f597d28d172789f06886806bc55\n"  # the Cache Directory Tagging Specification's line
            "# This file is a cache directory tag created by gnnjet (jet cache, bin/cache.py).\n")


def write_tag(cache_root: Path) -> None:
    """Mark `cache_root` as gnnjet's cache (and as a cache to backup tools) if it has no tag yet."""
    tag = Path(cache_root) / CACHE_TAG
    if not tag.exists():
        try:
            tag.write_text(TAG_TEXT)
        except OSError:  # a read-only or full file system: the tag is a courtesy, the entries stay recognisable
            pass


def _entry(path: Path) -> CacheEntry:
    size = sum(f.stat().st_size for f in path.iterdir()) / 1e6
    work = WORK_NAME.fullmatch(path.name)
    if work:  # .KEY.RANDOM: an entry being built, or the leftover of a killed build
        building = is_locked(path.parent / f".{work.group(1)}.lock")
        return CacheEntry(path, "building" if building else "unfinished", 0, size, [])
    try:
        meta = check_entry(path)
    except DamagedCache:
        return CacheEntry(path, "damaged", 0, size, [])
    stale = any(not os.path.exists(f) or file_stamp(f) != stamp
                for f, stamp in zip(meta["files"], meta.get("stamps", [None] * len(meta["files"]))))
    num_jets = int(np.load(path / "ptr.npy", mmap_mode="r").shape[0]) - 1
    return CacheEntry(path, "stale" if stale else "ok", num_jets, size, meta["files"])


def clean(listing: CacheListing, everything: bool = False) -> list[CacheEntry]:
    """Delete the stale, damaged and unfinished entries of `listing` (with `everything`, the ok ones too; never
    one a process is building) and the idle locks; returns the entries removed. Each entry's layout is checked
    again just before it goes: nothing but a cache entry is ever removed."""
    removed = [e for e in listing.entries if e.status != "building" and (everything or e.status != "ok")]
    for entry in removed:
        if is_entry_layout(entry.path):
            shutil.rmtree(entry.path, ignore_errors=True)
    for lock in listing.root.glob(".*.lock"):
        if LOCK_NAME.fullmatch(lock.name):
            remove_if_unlocked(lock)
    return removed
