"""The classical gamma/hadron discriminant of water-Cherenkov arrays, the compactness C = N_hit / CxPE40 (HAWC:
Abeysekara et al., ApJ 843 (2017) 39): CxPE40 is the largest charge (pe) of a hit more than 40 m from the
reconstructed core. Muons and hadronic sub-cores of proton showers put large signals far from the core, so protons
have a small C. `write_compactness` writes it as a predictions file, so that bin/plot.py compares it with networks.
"""

from __future__ import annotations

import logging
from pathlib import Path

import awkward as ak
import numpy as np

from gnnjet import columns as column_names
from gnnjet.data.formats.root import read_branches
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.fileio import make_directory, refuse_to_clobber
from gnnjet.runs.layout import PREDICTIONS

log = logging.getLogger(__name__)
NEEDED = ("hit_charge", "hit_deltar", "label_gamma", "label_proton")
OBSERVERS = ("event", "energy", "nhit", "zenith", "core_x", "core_y", "xc", "yc", "rec_zenith")
FLOOR_PE = 1.0  # CxPE40 of an event without hits beyond the radius: one photoelectron


def compactness(charge: ak.Array, deltar: ak.Array, radius: float = 40.0) -> np.ndarray:
    """C [E] from per-event hit charges and distances to the core (jagged [E, H]): number of hits over the largest
    charge beyond `radius` m (at least FLOOR_PE)."""
    far = ak.max(charge[deltar > radius], axis=1)
    largest = np.maximum(ak.to_numpy(ak.fill_none(far, FLOOR_PE)), FLOOR_PE)
    return ak.to_numpy(ak.num(charge, axis=1)) / largest


def write_compactness(inputs: list[str], output: str | Path, radius: float = 40.0, tree: str = "Jets",
                      overwrite: bool = False) -> Path:
    """Write output/pred.root: score_label_gamma = C / (1 + C) (a monotonic map of C onto [0, 1)),
    score_label_proton = 1 - that, the labels, `compactness` and the observers present; returns its path. Before
    any work, a pred.root that is one of the inputs is refused, and an existing one unless `overwrite` (it may be
    a network's predictions)."""
    files = expand_files(inputs)
    target = Path(output) / PREDICTIONS
    refuse_to_clobber(target, files, overwrite=overwrite, what="compactness predictions file")
    parts: dict[str, list[np.ndarray]] = {}
    for path in files:
        arrays = read_branches(path, tree, NEEDED, OBSERVERS, "the compactness",
                               "is it a bin/generate.py --process shower sample?")
        parts.setdefault("compactness", []).append(compactness(arrays["hit_charge"], arrays["hit_deltar"], radius))
        for name in ("label_gamma", "label_proton", *OBSERVERS):
            if name in arrays.fields:
                parts.setdefault(name, []).append(ak.to_numpy(arrays[name]))
    columns = {name: np.concatenate(values) for name, values in parts.items()}
    score = columns["compactness"] / (1 + columns["compactness"])
    make_directory(target.parent)
    write_jets(target, {"score_label_gamma": score.astype(np.float32),
                        "score_label_proton": (1 - score).astype(np.float32), **columns},
               notes={column_names.TASK: "classification", column_names.SELECTION: "none"})
    log.info("compactness (radius %g m) of %d events -> %s", radius, len(score), target)
    return target
