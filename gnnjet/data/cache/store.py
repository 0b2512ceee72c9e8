"""Opening a cache entry: check that meta.json records every array file at its size, then memory-map them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet.data.arrays import ARRAYS, DROPPED, JET_ARRAYS, NODE_ARRAYS, STORE_FILES
from gnnjet.errors import DataError


class DamagedCache(DataError):
    """A cache entry that cannot be used as it is (rebuilt by `build.build_store`)."""


def check_entry(path: Path) -> dict[str, Any]:
    """meta.json of a cache entry, after checking that every array file exists with its recorded size."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError) as err:
        raise DamagedCache(f"cache entry {path}: meta.json unreadable ({type(err).__name__})") from None
    sizes = meta.get("sizes")
    if not isinstance(sizes, dict) or set(sizes) != {f"{name}.npy" for name in STORE_FILES}:
        raise DamagedCache(f"cache entry {path}: meta.json records no file sizes (written by an older gnnjet)")
    for name, size in sizes.items():
        actual = (path / name).stat().st_size if (path / name).exists() else None
        if actual != size:
            raise DamagedCache(f"cache entry {path}: {name} is {'missing' if actual is None else f'{actual} bytes'}, "
                               f"expected {size} bytes")
    rows = {name: _rows(path / f"{name}.npy") for name in STORE_FILES}
    node_rows, jet_rows = {rows[name] for name in NODE_ARRAYS}, {rows[name] for name in JET_ARRAYS}
    if len(node_rows) != 1 or len(jet_rows) != 1 or rows["ptr"] != jet_rows.pop() + 1:
        raise DamagedCache(f"cache entry {path}: the arrays' row counts disagree ({rows})")
    return meta


def _rows(path: Path) -> int:
    """Rows of an npy file after checking its header: it parses, and its shape and dtype account for the file's
    size exactly (a header overwritten in place is caught here, not by a traceback in numpy later)."""
    try:
        with open(path, "rb") as file:
            version = np.lib.format.read_magic(file)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(file)
            data_start = file.tell()
    except (OSError, ValueError, SyntaxError, TypeError) as err:
        raise DamagedCache(f"cache entry {path.parent}: {path.name} has a damaged header ({type(err).__name__})") \
            from None
    expected = data_start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if fortran_order or not shape or expected != path.stat().st_size:
        raise DamagedCache(f"cache entry {path.parent}: {path.name}'s header (shape {shape}, {dtype}) does not "
                           "match the file")
    return int(shape[0])


@dataclass
class ColumnarStore:
    """Memory-mapped columnar jets of one cache entry (`arrays.STORE_ARRAYS`; ptr is [num_jets + 1] int64 CSR
    offsets into the node arrays) and `dropped` [D] int64, the entries of the selected jets that were dropped."""

    path: Path
    arrays: dict[str, np.ndarray]
    dropped: np.ndarray
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
        return cls(path, arrays, np.load(path / f"{DROPPED}.npy"), meta)
