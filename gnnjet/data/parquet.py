"""Parquet ntuples (one row per jet, list columns per constituent collection), read by awkward row group by row group.

The same schema as the ROOT files (branch = column); Parquet has no trees, so ``data.tree`` is
ignored. Missing columns and unreadable files raise DataError naming the column and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import awkward as ak

from gnnjet.errors import DataError

SUFFIXES = (".parquet", ".pq")


def is_parquet(path: str | Path) -> bool:
    return str(path).lower().endswith(SUFFIXES)


def parquet_metadata(path: str | Path) -> dict[str, Any]:
    """awkward's metadata of a Parquet file: ``form.fields`` (columns), ``col_counts`` (rows per row group)."""
    try:
        return ak.metadata_from_parquet(str(path))
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except Exception as err:  # pyarrow raises several kinds for files that are not Parquet
        raise DataError(f"cannot read Parquet file {path}: {type(err).__name__}: {err}") from None


def parquet_chunks(path: str | Path, branches: Mapping[str, str], step_size: int) -> list[tuple[int, ...]]:
    """Row groups of `path` in consecutive runs of about `step_size` jets (one group if it is larger), after
    checking that the columns `branches` (name -> config key that needs it) exist."""
    meta = parquet_metadata(path)
    group_rows = meta["col_counts"]
    for branch, key in branches.items():
        if branch not in meta["form"].fields:
            raise DataError(f"{path}: column {branch!r} (needed by {key}) is not in the Parquet file")
    chunks: list[tuple[int, ...]] = []
    pending: list[int] = []
    rows = 0
    for group, count in enumerate(group_rows):
        pending.append(group)
        rows += count
        if rows >= step_size or group == len(group_rows) - 1:
            if rows:
                chunks.append(tuple(pending))
            pending, rows = [], 0
    return chunks


def read_parquet(path: str | Path, columns: list[str], row_groups: tuple[int, ...]) -> ak.Array:
    """The `columns` of the rows in `row_groups` of `path`."""
    try:
        return ak.from_parquet(str(path), columns=columns, row_groups=list(row_groups))
    except Exception as err:
        raise DataError(f"cannot read Parquet file {path}: {type(err).__name__}: {err}") from None
