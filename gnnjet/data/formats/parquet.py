"""Parquet ntuples (one row per jet, list columns per constituent collection), read by awkward row group by row
group.

The same schema as the ROOT files (branch = column); Parquet has no trees, so ``data.tree`` is ignored.
Missing columns and unreadable files raise DataError naming the column and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak

from gnnjet.data.formats.chunk import ChunkRef
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError

SUFFIXES = (".parquet", ".pq")


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith(SUFFIXES)


def _metadata(path: str | Path) -> dict[str, Any]:
    """awkward's metadata of a Parquet file: ``form.fields`` (columns), ``col_counts`` (rows per row group)."""
    try:
        return ak.metadata_from_parquet(str(path))
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except Exception as err:  # noqa: BLE001 - pyarrow raises several kinds for files that are not Parquet
        raise DataError(f"cannot read Parquet file {path}: {type(err).__name__}: {err}") from None


def plan_chunks(spec: DataSpec, path: str, jets_per_chunk: int) -> list[ChunkRef]:
    """Consecutive runs of row groups of about `jets_per_chunk` jets (one group if it is larger), after checking
    that every column of `spec` is in the file."""
    meta = _metadata(path)
    for branch, key in spec.branches.items():
        if branch not in meta["form"].fields:
            raise DataError(f"{path}: column {branch!r} (needed by {key}) is not in the Parquet file")
    chunks: list[ChunkRef] = []
    groups: list[int] = []
    first = rows = 0
    for group, count in enumerate(meta["col_counts"]):
        groups.append(group)
        rows += count
        if rows >= jets_per_chunk or group == len(meta["col_counts"]) - 1:
            if rows:
                chunks.append(ChunkRef(path, first, first + rows, tuple(groups)))
            first, groups, rows = first + rows, [], 0
    return chunks


def read_chunk(spec: DataSpec, chunk: ChunkRef) -> ak.Array:
    """The columns of `spec` in the row groups of `chunk`."""
    try:
        return ak.from_parquet(str(chunk.path), columns=sorted(spec.branches), row_groups=list(chunk.parts))
    except Exception as err:  # noqa: BLE001 - pyarrow raises several kinds for damaged files
        raise DataError(f"cannot read Parquet file {chunk.path}: {type(err).__name__}: {err}") from None
