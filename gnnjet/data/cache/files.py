"""The npy files of a cache entry being built: each chunk's arrays written at its first node and jet row, by
any process (`parallel.fill`), and the headers once the row counts are known."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnnjet.data.arrays import ARRAYS, JET_ARRAYS, NODE_ARRAYS, STORE_ARRAYS
from gnnjet.data.npy import NpyFile
from gnnjet.data.spec import DataSpec


@dataclass(frozen=True)
class ArrayFiles:
    """One `NpyFile` per store array (`arrays.STORE_ARRAYS`) in `directory`. Picklable: names and layouts only."""

    files: dict[str, NpyFile]

    @classmethod
    def create(cls, directory: Path, spec: DataSpec) -> "ArrayFiles":
        """Empty files for the arrays of `spec` in `directory`."""
        files = {name: NpyFile(directory / f"{name}.npy", *array.layout(spec)) for name, array in STORE_ARRAYS.items()}
        for file in files.values():
            file.create()
        return cls(files)

    def __call__(self, arrays: dict[str, np.ndarray], node_start: int, jet_start: int) -> None:
        """Write one chunk (`columnar.columnarise`'s arrays) whose first node is `node_start`, first jet
        `jet_start`."""
        self.files["ptr"].write_rows(jet_start + 1, node_start + np.cumsum(arrays["counts"], dtype=np.int64))
        for name in NODE_ARRAYS:
            self.files[name].write_rows(node_start, arrays[name])
        for name in JET_ARRAYS:
            self.files[name].write_rows(jet_start, arrays[name])

    def finish(self, num_nodes: int, num_jets: int) -> None:
        """ptr[0] = 0, and every file cut to exactly its rows, with its header."""
        self.files["ptr"].write_rows(0, np.zeros(1, np.int64))
        rows = {"node": num_nodes, "jet": num_jets, "ptr": num_jets + 1}
        for name in ARRAYS:
            self.files[name].finish(rows[STORE_ARRAYS[name].rows])
