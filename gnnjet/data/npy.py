"""npy files written in place, the one npy writer: rows land at their byte offsets (from any process, in any
order), then a header of fixed size records the final shape.

Plain writes rather than a writable memory map: written pages of a map would count in the process's memory.
numpy reads the result like any npy file (`np.load(..., mmap_mode=...)`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnnjet.fileio import DiskFull, disk_full, mount_point

HEADER_BYTES = 128  # fixed npy header size, so that rows can be written before the shape is known
_MAGIC = b"\x93NUMPY\x01\x00"


@dataclass(frozen=True)
class NpyFile:
    """An npy file of rows of `row_shape` and `dtype` (a numpy dtype string such as "<f4"). Picklable."""

    path: Path
    dtype: str
    row_shape: tuple[int, ...]

    @property
    def row_bytes(self) -> int:
        return np.dtype(self.dtype).itemsize * int(np.prod(self.row_shape, dtype=np.int64))

    def create(self) -> None:
        """An empty file (any previous content is cut)."""
        self.path.write_bytes(b"")

    def write_rows(self, first_row: int, block: np.ndarray) -> None:
        """Write `block` [rows, *row_shape] (converted to the dtype) as rows first_row, first_row + 1, ..."""
        data = memoryview(np.ascontiguousarray(block, dtype=self.dtype).reshape(-1).view(np.uint8))
        offset = HEADER_BYTES + first_row * self.row_bytes
        fd = os.open(self.path, os.O_WRONLY)
        try:
            while data:  # pwrite may write less than asked
                written = os.pwrite(fd, data, offset)
                data, offset = data[written:], offset + written
        except OSError as err:
            if disk_full(err, self.path.parent):
                raise DiskFull(f"no space left on {mount_point(self.path.parent)} while writing {self.path}") \
                    from None
            raise
        finally:
            os.close(fd)

    def finish(self, rows: int) -> None:
        """Cut the file to exactly `rows` rows and write the header that records them."""
        os.truncate(self.path, HEADER_BYTES + rows * self.row_bytes)
        header = {"descr": self.dtype, "fortran_order": False, "shape": (rows, *self.row_shape)}
        text = repr(header).encode("latin1")
        pad = HEADER_BYTES - len(_MAGIC) - 2 - len(text) - 1
        assert pad >= 0, f"npy header of {self.path} does not fit {HEADER_BYTES} bytes"
        with open(self.path, "r+b") as file:
            file.write(_MAGIC + np.uint16(HEADER_BYTES - len(_MAGIC) - 2).tobytes() + text + b" " * pad + b"\n")
