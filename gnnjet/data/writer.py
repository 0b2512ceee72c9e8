"""Write jet ntuples in the gnnjet schema (ROOT tree `Jets`, or Parquet), atomically and chunk by chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Mapping, Union

import awkward as ak
import numpy as np
import uproot

from gnnjet.data.formats.parquet import SUFFIXES as PARQUET_SUFFIXES
from gnnjet.data.formats.parquet import is_parquet
from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path

Branches = Mapping[str, Union[np.ndarray, ak.Array]]


OUTPUT_SUFFIXES = (".root", *PARQUET_SUFFIXES)


def check_output_suffix(path: str | Path) -> None:
    """An output file's format follows its suffix: ROOT (.root) or Parquet (.parquet, .pq); any other is a
    GnnjetError."""
    if not str(path).lower().endswith(OUTPUT_SUFFIXES):
        raise GnnjetError(f"{path}: the output format follows the suffix; use {', '.join(OUTPUT_SUFFIXES)}")


def branch_name(collection: str, field: str) -> str:
    """The branch of a collection's field: ``ch`` + ``pt`` -> ``ch_pt``."""
    return f"{collection}_{field}"


def counter_name(collection: str) -> str:
    """The branch counting a collection's constituents per jet: ``ch`` -> ``nch``."""
    return f"n{collection}"


def collections_in(fields: Iterable[str]) -> list[str]:
    """The constituent collections of a file written in this layout (from its branch names), in file order: every
    prefix with a counter branch and field branches (``nch``, ``ch_pt`` -> ``ch``)."""
    fields = list(fields)
    return [name[1:] for name in fields if name.startswith("n")
            and any(f.startswith(branch_name(name[1:], "")) for f in fields)]


def write_jets(path: str | Path, branches: Branches, tree: str = "Jets", notes: Mapping[str, str] | None = None
               ) -> None:
    """Write one row per jet to `path` (ROOT, or Parquet for a ``.parquet`` suffix).

    Args:
        branches: jet-level name -> [J] numpy array, or collection prefix -> jagged awkward record
            array (``{"ch": ak.zip({"pt": ..., "eta": ...})}`` becomes branches ``ch_pt ch_eta`` with
            one shared counter ``nch``).
        notes: name -> text written beside the tree (ROOT: TObjStrings; Parquet: the file's key-value metadata).
    """
    write_jet_chunks(path, [branches], tree, notes)


def write_jet_chunks(path: str | Path, chunks: Iterable[Branches], tree: str = "Jets",
                     notes: Mapping[str, str] | None = None) -> int:
    """Write chunks of jets (each as in `write_jets`, all with the same branches) to one file; returns the jets written.

    Memory stays bounded by one chunk. Parquet gets one row group per chunk and the same column
    names as the ROOT branches (``ch_pt``, counter ``nch``), so one config reads either format.
    """
    with atomic_path(path) as tmp:
        if is_parquet(path):
            counter = _Counter(chunks)
            ak.to_parquet_row_groups((_flat_record(c) for c in counter), str(tmp))
            if notes:
                _add_parquet_metadata(tmp, notes)
            return counter.total
        with uproot.recreate(tmp) as file:
            for name, text in (notes or {}).items():
                file[name] = text
            out, total = None, 0
            for branches in chunks:
                if out is None:
                    out = file.mktree(tree, _types(branches), field_name=branch_name, counter_name=counter_name)
                if len(next(iter(branches.values()), [])):
                    out.extend(dict(branches))
                    total += len(next(iter(branches.values())))
            return total


def _types(branches: Branches) -> dict[str, object]:
    types: dict[str, object] = {}
    for name, values in branches.items():
        if isinstance(values, ak.Array) and values.ndim > 1:
            types[name] = values.type.content
        else:
            types[name] = np.asarray(values).dtype
    return types


def _flat_record(branches: Branches) -> ak.Array:
    """One chunk as a flat record array: collections become ``prefix_field`` columns plus ``nprefix`` counts."""
    columns: dict[str, object] = {}
    for name, values in branches.items():
        if isinstance(values, ak.Array) and values.ndim > 1:
            columns[counter_name(name)] = ak.to_numpy(ak.num(values, axis=1)).astype(np.int32)
            for field in values.fields:
                columns[branch_name(name, field)] = values[field]
        else:
            columns[name] = np.ascontiguousarray(values)  # pyarrow refuses strided views
    return ak.zip(columns, depth_limit=1)


def _add_parquet_metadata(path: Path, notes: Mapping[str, str]) -> None:
    """Rewrite the Parquet file at `path` with `notes` added to its key-value metadata (row groups kept)."""
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    schema = file.schema_arrow.with_metadata({**(file.schema_arrow.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in notes.items()}})
    groups = [file.read_row_group(i) for i in range(file.num_row_groups)]
    with pq.ParquetWriter(path, schema) as writer:
        for group in groups:
            writer.write_table(group.replace_schema_metadata(schema.metadata))


class _Counter:
    """Iterates chunks and counts their jets."""

    def __init__(self, chunks: Iterable[Branches]):
        self.chunks, self.total = chunks, 0

    def __iter__(self) -> Iterator[Branches]:
        for chunk in self.chunks:
            self.total += len(next(iter(chunk.values()), []))
            yield chunk
