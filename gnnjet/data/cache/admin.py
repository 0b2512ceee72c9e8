"""Listing and cleaning a cache directory (bin/cache.py): each entry's status, jets and size."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnnjet.data.cache.key import file_stamp
from gnnjet.data.cache.store import DamagedCache, check_entry
from gnnjet.fileio import is_locked, remove_if_unlocked


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


def entries(cache_root: Path) -> list[CacheEntry]:
    """Every entry (and leftover of a killed build) under `cache_root`, largest first."""
    found = []
    for path in sorted(p for p in Path(cache_root).iterdir() if p.is_dir()) if Path(cache_root).is_dir() else []:
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        if path.name.startswith("."):  # .KEY.RANDOM: an entry being built, or the leftover of a killed build
            building = is_locked(path.parent / f".{path.name[1:].split('.')[0]}.lock")
            found.append(CacheEntry(path, "building" if building else "unfinished", 0, size, []))
            continue
        try:
            meta = check_entry(path)
        except DamagedCache:
            found.append(CacheEntry(path, "damaged", 0, size, []))
            continue
        stale = any(not os.path.exists(f) or file_stamp(f) != stamp
                    for f, stamp in zip(meta["files"], meta.get("stamps", [None] * len(meta["files"]))))
        num_jets = int(np.load(path / "ptr.npy", mmap_mode="r").shape[0]) - 1
        found.append(CacheEntry(path, "stale" if stale else "ok", num_jets, size, meta["files"]))
    return sorted(found, key=lambda e: -e.megabytes)


def remove_entry(entry: CacheEntry) -> None:
    shutil.rmtree(entry.path, ignore_errors=True)


def remove_idle_locks(cache_root: Path) -> int:
    """Delete the lock files of entries no process is building; returns how many."""
    return sum(remove_if_unlocked(lock) for lock in Path(cache_root).glob(".*.lock"))
