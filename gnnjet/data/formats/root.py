"""ROOT ntuples (a TTree, one entry per jet, jagged branches per constituent collection), read by uproot in
entry ranges. Unreadable files, missing trees and missing branches raise DataError naming them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import awkward as ak
import uproot

from gnnjet.data.formats.chunk import ChunkRef
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError

SUFFIXES = (".root",)


def open_tree(path: str | Path, tree: str | None) -> Any:
    """Open `tree` (None: the file's only tree) in a ROOT file; unreadable files and missing trees raise DataError
    naming the file."""
    try:
        file = uproot.open(path)
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except Exception as err:  # noqa: BLE001 - uproot raises many kinds for corrupt files
        raise DataError(f"cannot read ROOT file {path}: {type(err).__name__}: {err}") from None
    trees = sorted({k.split(";")[0] for k, v in file.classnames().items() if v.startswith("TTree")})
    if tree is None:
        if len(trees) != 1:
            raise DataError(f"{path}: data.tree is null but the file holds {len(trees)} trees "
                            f"({', '.join(trees) or 'none'}); set data.tree")
        tree = trees[0]
    try:
        return file[tree]
    except Exception:  # noqa: BLE001 - uproot's error for a missing key differs between versions
        raise DataError(f"{path}: no tree {tree!r} (trees in the file: {', '.join(trees) or 'none'}); "
                        "set data.tree") from None


def read_branches(path: str | Path, tree: str | None, needed: tuple[str, ...], optional: tuple[str, ...],
                  needed_by: str, hint: str) -> ak.Array:
    """The `needed` branches of a ROOT file's tree and those of `optional` it has; a missing needed branch is a
    DataError naming the file, the branch, what needs it (`needed_by`) and `hint`."""
    events = open_tree(path, tree)
    available = set(events.keys())
    missing = [b for b in needed if b not in available]
    if missing:
        raise DataError(f"{path}: branch {missing[0]!r} (needed by {needed_by}) is missing: {hint}")
    return events.arrays([*needed, *(b for b in optional if b in available)])


def plan_chunks(spec: DataSpec, path: str, jets_per_chunk: int) -> list[ChunkRef]:
    """Entry ranges of `jets_per_chunk` jets, after checking that every branch of `spec` is in the tree."""
    tree = open_tree(path, spec.tree)
    available = set(tree.keys())
    for branch, key in spec.branches.items():
        if branch not in available:
            raise DataError(f"{path}: branch {branch!r} (needed by {key}) is not in tree {spec.tree!r}")
    return [ChunkRef(path, lo, min(lo + jets_per_chunk, tree.num_entries))
            for lo in range(0, tree.num_entries, jets_per_chunk)]


def read_chunk(spec: DataSpec, chunk: ChunkRef) -> ak.Array:
    """The branches of `spec` for the entries of `chunk`."""
    tree = open_tree(chunk.path, spec.tree)
    try:
        return tree.arrays(sorted(spec.branches), entry_start=chunk.start, entry_stop=chunk.stop, library="ak")
    except Exception as err:  # noqa: BLE001 - uproot raises many kinds for damaged baskets
        raise DataError(f"cannot read ROOT file {chunk.path}: {type(err).__name__}: {err}") from None
