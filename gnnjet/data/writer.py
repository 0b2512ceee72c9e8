"""Write jet ntuples in the gnnjet ROOT schema (tree `Jets`), atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import awkward as ak
import numpy as np
import uproot

from gnnjet.fileio import atomic_path


def write_jets(path: str | Path, branches: Mapping[str, np.ndarray | ak.Array], tree: str = "Jets") -> None:
    """Write one row per jet to `path`.

    Args:
        branches: jet-level name -> [J] numpy array, or collection prefix -> jagged awkward record
            array (``{"ch": ak.zip({"pt": ..., "eta": ...})}`` becomes branches ``ch_pt ch_eta`` with
            one shared counter ``nch``).
    """
    types = {}
    for name, values in branches.items():
        if isinstance(values, ak.Array) and values.ndim > 1:
            types[name] = values.type.content
        else:
            types[name] = np.asarray(values).dtype
    with atomic_path(path) as tmp:
        with uproot.recreate(tmp) as file:
            out = file.mktree(tree, types, field_name=lambda outer, inner: f"{outer}_{inner}",
                              counter_name=lambda counted: f"n{counted}")
            if len(next(iter(branches.values()), [])):
                out.extend(dict(branches))
