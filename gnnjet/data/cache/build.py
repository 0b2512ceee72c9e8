"""Filling a cache entry once: input chunks are read in parallel processes (`parallel`) and streamed to disk in
input order (data larger than RAM never has to fit in memory; the entry is the same whatever the number of
processes); the entry is renamed into place only when complete, and a lock file beside it makes concurrent
builders (DDP ranks, nodes sharing the cache) build it once. A damaged entry is rebuilt and swapped in
atomically."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from gnnjet.data.arrays import DROPPED, STORE_FILES
from gnnjet.data.cache.admin import write_tag
from gnnjet.data.cache.files import ArrayFiles
from gnnjet.data.cache.key import cache_key, default_cache_root, file_stamp
from gnnjet.data.cache.store import ColumnarStore, DamagedCache, check_entry
from gnnjet.data.formats import memory
from gnnjet.data.npy import NpyFile
from gnnjet.data.parallel import fill, parallel_chunk_jets, workers_for
from gnnjet.data.read_stats import ReadStats
from gnnjet.data.reader import ChunkRef, plan_chunks
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError
from gnnjet.fileio import exclusive_lock, make_directory
from gnnjet.progress import progress_bar

log = logging.getLogger(__name__)


def build_store(spec: DataSpec, files: list[str], cache_root: Path | None = None,
                progress: bool = True, workers: int | None = None) -> ColumnarStore:
    """Return the cached store for `files`, reading them only if no valid cache exists.

    Reading uses `workers` processes (None: every available core; fewer for small samples, see
    `parallel.workers_for`). Builds of one entry are serialised by a lock file beside it, so processes (DDP
    ranks, or nodes sharing the cache's file system) that ask for it together build it once.
    """
    cache_root = Path(cache_root) if cache_root else default_cache_root()
    target = cache_root / cache_key(spec, files)
    store = _open_valid(target)
    if store is not None:
        return store
    make_directory(cache_root, "cache directory (data.cache_dir or $GNNJET_CACHE)")
    write_tag(cache_root)
    with exclusive_lock(cache_root / f".{target.name}.lock"):
        store = _open_valid(target)  # built by another process while this one waited for the lock
        if store is None:
            _build(spec, files, target, progress, workers)
            store = ColumnarStore.open(target)
    return store


def _open_valid(target: Path) -> ColumnarStore | None:
    """The store at `target` if it exists and is intact (a damaged one is logged and left to be rebuilt)."""
    if not target.exists():
        return None
    try:
        store = ColumnarStore.open(target)
    except DamagedCache as err:
        log.warning("%s: rebuilding it", err)
        return None
    log.info("using cached jets in %s", target)
    return store


def _build(spec: DataSpec, files: list[str], target: Path, progress: bool, requested_workers: int | None) -> None:
    """Read `files` into a new entry beside `target` and swap it in."""
    chunks = plan_chunks(spec, files, spec.step_size)
    num_jets = sum(c.num_jets for c in chunks)
    workers = 1 if any(memory.is_memory(f) for f in files) else workers_for(requested_workers, num_jets)
    if workers > 1:
        chunks = plan_chunks(spec, files, parallel_chunk_jets(spec.step_size, num_jets, workers))
        log.info("reading %d jets in %d processes", num_jets, workers)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        stats = _write_arrays(spec, chunks, workers, tmp, progress)
        stats.report(spec, files)
        if stats.jets_read and stats.jets_read == stats.jets_dropped:
            raise DataError(f"no jets left after selection/cleaning in {files}")
        meta = {"files": files, "stamps": [file_stamp(f) for f in files], "columns": [f.name for f in spec.columns],
                "jet_features": [f.name for f in spec.jet_features], "labels": spec.labels,
                "observers": spec.observer_names, "task": spec.task_type, "stats": stats.as_dict(),
                "sizes": {f"{name}.npy": (tmp / f"{name}.npy").stat().st_size for name in STORE_FILES}}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_arrays(spec: DataSpec, chunks: list[ChunkRef], workers: int, directory: Path,
                  progress: bool) -> ReadStats:
    stats, nodes, jets, dropped = ReadStats(), 0, 0, []
    files = ArrayFiles.create(directory, spec)
    with progress_bar(None, progress, total=sum(c.num_jets for c in chunks), desc="reading jets", unit=" jets",
                      leave=False) as bar:
        for written in fill(spec, chunks, workers, files):
            stats.add(written.stats)
            nodes, jets = nodes + written.nodes, jets + written.jets
            dropped.append(written.dropped)
            bar.update(written.stats.jets_read)
    files.finish(nodes, jets)
    dropped_entries = np.concatenate([np.zeros(0, np.int64), *dropped])
    entries = NpyFile(directory / f"{DROPPED}.npy", "<i8", ())
    entries.create()
    entries.write_rows(0, dropped_entries)
    entries.finish(len(dropped_entries))
    return stats


def _swap_in(new: Path, target: Path) -> None:
    """Rename the complete entry `new` to `target`. A damaged `target` is first renamed aside (so readers see
    the old entry or the new one, never a mix) and then removed; a valid `target` that another process finished
    meanwhile is kept and `new` dropped."""
    if target.exists():
        try:
            check_entry(target)
            shutil.rmtree(new, ignore_errors=True)  # another process finished the same entry first: use theirs
            return
        except DamagedCache:
            aside = target.with_name(f".{target.name}.damaged.{os.getpid()}")
            try:
                os.rename(target, aside)
            except FileNotFoundError:
                aside = None
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)
    try:
        os.rename(new, target)
    except OSError:  # created by another process between the check and the rename
        shutil.rmtree(new, ignore_errors=True)
