"""The on-disk cache of columnar jets: npy files written once, memory-mapped on load.

A cache entry is a directory ``<cache_root>/<key>/`` where the key hashes the compiled data spec
and the input files' paths, sizes and modification times: a changed config or input file gives a
new key, so a stale cache is never read. Input chunks are read in parallel processes (`parallel`) and
streamed to disk in input order, chunk by chunk (data larger than RAM never has to fit in memory; the
entry is the same whatever the number of processes); the entry is renamed into place only when complete,
and a lock file beside it makes concurrent builders (DDP ranks, nodes sharing the cache) build it once.
meta.json records every array file's size; an entry whose files are missing, truncated or whose
meta.json is unreadable is damaged, and `build_store` rebuilds it and swaps it in atomically.
`entries` / `remove_entry` list and clean a cache (bin/cache.py).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gnnjet.progress import progress_bar

from gnnjet.data.parallel import fill, parallel_chunk_jets, workers_for
from gnnjet.data.parquet import SUFFIXES as PARQUET_SUFFIXES
from gnnjet.data.reader import ChunkRef, ReadStats, plan_chunks
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError
from gnnjet.fileio import exclusive_lock, remove_if_unlocked

log = logging.getLogger(__name__)

ARRAYS = ("x", "node_type", "pos", "p4", "ptr", "u", "y", "obs")
_HEADER_BYTES = 128  # fixed npy header size so that the shape can be patched in at the end


def default_cache_root() -> Path:
    """``$GNNJET_CACHE`` if set, else ``~/.cache/gnnjet``."""
    return Path(os.environ.get("GNNJET_CACHE", Path.home() / ".cache" / "gnnjet"))


def expand_files(patterns: list[str]) -> list[str]:
    """Expand globs in order; a pattern matching nothing is an error naming it."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern))) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise DataError(f"no input file matches {pattern!r}")
        for match in matches:
            if os.path.isdir(match):
                found = sorted(f for suffix in ("*.root", *(f"*{s}" for s in PARQUET_SUFFIXES))
                               for f in glob.glob(os.path.join(match, suffix)))
                if not found:
                    raise DataError(f"input directory {match} contains no .root or .parquet files")
                files += found
            else:
                files.append(match)
    return files


def _stamp(path: str) -> list[Any]:
    """[absolute path, size, mtime_ns] of an input file: what the cache key hashes, and meta.json records."""
    st = os.stat(path)
    return [os.path.abspath(path), st.st_size, st.st_mtime_ns]


def cache_key(spec: DataSpec, files: list[str]) -> str:
    """Hash of the data spec and each input file's absolute path, size and mtime."""
    stamps = []
    for path in files:
        try:
            stamps.append(_stamp(path))
        except FileNotFoundError:
            raise DataError(f"input file {path} does not exist") from None
    payload = json.dumps({"spec": spec.fingerprint(), "files": stamps}).encode()
    return hashlib.sha256(payload).hexdigest()[:20]


NODE_ARRAYS, JET_ARRAYS = ("x", "node_type", "pos", "p4"), ("u", "y", "obs")


@dataclass(frozen=True)
class ArrayFiles:
    """The npy files of an entry being built, written at given row offsets by any process (`parallel.fill`);
    `finish` writes the headers once the row counts are known. Picklable: it holds only names and layouts."""

    directory: Path
    dtypes: dict[str, str]
    row_shapes: dict[str, tuple[int, ...]]

    @classmethod
    def create(cls, directory: Path, spec: DataSpec) -> "ArrayFiles":
        """Empty files for the arrays of `spec` in `directory`."""
        row_shapes = {"x": (len(spec.columns),), "node_type": (), "pos": (spec.num_coordinates,), "p4": (4,),
                      "ptr": (), "u": (len(spec.jet_features),), "y": (), "obs": (len(spec.observers),)}
        dtypes = {"x": "<f4", "node_type": "|i1", "pos": "<f4", "p4": "<f4", "ptr": "<i8", "u": "<f4",
                  "y": "<i8" if spec.task_type == "classification" else "<f4", "obs": "<f8"}
        for name in ARRAYS:
            (directory / f"{name}.npy").write_bytes(b"")
        return cls(directory, dtypes, row_shapes)

    def _row_bytes(self, name: str) -> int:
        return np.dtype(self.dtypes[name]).itemsize * int(np.prod(self.row_shapes[name], dtype=np.int64))

    def __call__(self, arrays: dict[str, np.ndarray], node_start: int, jet_start: int) -> None:
        """Write one chunk (`reader.columnarise`'s arrays) whose first node is `node_start`, first jet `jet_start`."""
        blocks = {"ptr": (jet_start + 1, node_start + np.cumsum(arrays["counts"], dtype=np.int64)),
                  **{name: (node_start, arrays[name]) for name in NODE_ARRAYS},
                  **{name: (jet_start, arrays[name]) for name in JET_ARRAYS}}
        for name, (first_row, block) in blocks.items():
            self._write(name, first_row, block)

    def _write(self, name: str, first_row: int, block: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(block, dtype=self.dtypes[name]).reshape(-1).view(np.uint8))
        offset = _HEADER_BYTES + first_row * self._row_bytes(name)
        fd = os.open(self.directory / f"{name}.npy", os.O_WRONLY)
        try:
            while data:  # pwrite may write less than asked
                written = os.pwrite(fd, data, offset)
                data, offset = data[written:], offset + written
        finally:
            os.close(fd)

    def finish(self, num_nodes: int, num_jets: int) -> None:
        """Headers with the final shapes, ptr[0] = 0, and every file cut to exactly its rows."""
        self._write("ptr", 0, np.zeros(1, np.int64))
        for name in ARRAYS:
            rows = num_jets + 1 if name == "ptr" else num_nodes if name in NODE_ARRAYS else num_jets
            path = self.directory / f"{name}.npy"
            os.truncate(path, _HEADER_BYTES + rows * self._row_bytes(name))
            header = {"descr": self.dtypes[name], "fortran_order": False, "shape": (rows, *self.row_shapes[name])}
            text = repr(header).encode("latin1")
            prefix = b"\x93NUMPY\x01\x00"
            pad = _HEADER_BYTES - len(prefix) - 2 - len(text) - 1
            assert pad >= 0, f"npy header of {path} does not fit {_HEADER_BYTES} bytes"
            with open(path, "r+b") as file:
                file.write(prefix + np.uint16(_HEADER_BYTES - len(prefix) - 2).tobytes() + text + b" " * pad + b"\n")


@dataclass
class ColumnarStore:
    """Memory-mapped columnar jets of one cache entry (shapes as in `reader.columnarise`).

    ptr is [num_jets + 1] int64 CSR offsets into the node arrays.
    """

    path: Path
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    @property
    def num_jets(self) -> int:
        return len(self.arrays["ptr"]) - 1

    @classmethod
    def open(cls, path: Path) -> "ColumnarStore":
        """Memory-map an entry after checking it (`check_entry`); DamagedCache if it fails."""
        meta = check_entry(path)
        # mmap_mode "c" (copy-on-write) gives writable views, so torch.from_numpy does not warn.
        arrays = {name: np.load(path / f"{name}.npy", mmap_mode="c") for name in ARRAYS}
        return cls(path, arrays, meta)


class DamagedCache(DataError):
    """A cache entry that cannot be used as it is (rebuilt by `build_store`)."""


def check_entry(path: Path) -> dict[str, Any]:
    """meta.json of a cache entry, after checking that every array file exists with its recorded size."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as err:
        raise DamagedCache(f"cache entry {path}: meta.json unreadable ({type(err).__name__})") from None
    sizes = meta.get("sizes")
    if not isinstance(sizes, dict) or set(sizes) != {f"{name}.npy" for name in ARRAYS}:
        raise DamagedCache(f"cache entry {path}: meta.json records no file sizes (written by an older gnnjet)")
    for name, size in sizes.items():
        actual = (path / name).stat().st_size if (path / name).exists() else None
        if actual != size:
            raise DamagedCache(f"cache entry {path}: {name} is {'missing' if actual is None else f'{actual} bytes'}, "
                               f"expected {size} bytes")
    return meta


def _report(stats: ReadStats, spec: DataSpec, files: list[str]) -> None:
    where = f"{len(files)} file(s) starting {files[0]}" if files else "no files"
    for what, count in (("failed the selection", stats.failed_selection),
                        ("had no valid target/label", stats.invalid_target),
                        ("had no constituents (or none with finite kinematics)", stats.no_nodes)):
        if count:
            log.warning("dropped %d of %d jets that %s (%s)", count, stats.jets_read, what, where)
    if stats.nonfinite_kinematics:
        log.warning("dropped %d constituents with NaN/inf kinematics or graph coordinates (%s)",
                    stats.nonfinite_kinematics, where)
    for features, counts in ((spec.columns, stats.nonfinite_x), (spec.jet_features, stats.nonfinite_u)):
        for feature, count in zip(features, counts):
            if count:
                log.warning("feature %r (%s): %d NaN/inf values, replaced by the clip bounds (or 0) "
                            "when preprocessed", feature.name, feature.path, count)


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
    cache_root.mkdir(parents=True, exist_ok=True)
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
    workers = workers_for(requested_workers, num_jets)
    if workers > 1:
        chunks = plan_chunks(spec, files, parallel_chunk_jets(spec.step_size, num_jets, workers))
        log.info("reading %d jets in %d processes", num_jets, workers)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        stats = _write_arrays(spec, chunks, workers, tmp, progress)
        _report(stats, spec, files)
        if stats.jets_read and stats.jets_read == stats.failed_selection + stats.invalid_target + stats.no_nodes:
            raise DataError(f"no jets left after selection/cleaning in {files}")
        meta = {"files": files, "stamps": [_stamp(f) for f in files], "columns": [f.name for f in spec.columns],
                "jet_features": [f.name for f in spec.jet_features], "labels": spec.labels,
                "observers": spec.observer_names, "task": spec.task_type, "stats": stats.as_dict(),
                "sizes": {f"{name}.npy": (tmp / f"{name}.npy").stat().st_size for name in ARRAYS}}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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


@dataclass
class CacheEntry:
    """One entry of a cache directory, for listing and cleaning."""

    path: Path
    status: str  # "ok", "stale" (an input file changed or is gone), "damaged" or "unfinished" (a killed build)
    num_jets: int
    megabytes: float
    files: list[str]


def entries(cache_root: Path) -> list[CacheEntry]:
    """Every entry (and leftover of a killed build) under `cache_root`, largest first."""
    found = []
    for path in sorted(p for p in Path(cache_root).iterdir() if p.is_dir()) if Path(cache_root).is_dir() else []:
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6
        if path.name.startswith("."):
            found.append(CacheEntry(path, "unfinished", 0, size, []))
            continue
        try:
            meta = check_entry(path)
        except DamagedCache:
            found.append(CacheEntry(path, "damaged", 0, size, []))
            continue
        stale = any(not os.path.exists(f) or _stamp(f) != stamp
                    for f, stamp in zip(meta["files"], meta.get("stamps", [None] * len(meta["files"]))))
        num_jets = int(np.load(path / "ptr.npy", mmap_mode="r").shape[0]) - 1
        found.append(CacheEntry(path, "stale" if stale else "ok", num_jets, size, meta["files"]))
    return sorted(found, key=lambda e: -e.megabytes)


def remove_entry(entry: CacheEntry) -> None:
    shutil.rmtree(entry.path, ignore_errors=True)


def remove_idle_locks(cache_root: Path) -> int:
    """Delete the lock files of entries no process is building; returns how many."""
    return sum(remove_if_unlocked(lock) for lock in Path(cache_root).glob(".*.lock"))


def _write_arrays(spec: DataSpec, chunks: list[ChunkRef], workers: int, directory: Path,
                  progress: bool) -> ReadStats:
    stats, nodes, jets = ReadStats(), 0, 0
    files = ArrayFiles.create(directory, spec)
    with progress_bar(None, progress, total=sum(c.num_jets for c in chunks), desc="reading jets", unit=" jets",
                      leave=False) as bar:
        for written in fill(spec, chunks, workers, files):
            stats.add(written.stats)
            nodes, jets = nodes + written.nodes, jets + written.jets
            bar.update(written.stats.jets_read)
    files.finish(nodes, jets)
    return stats
