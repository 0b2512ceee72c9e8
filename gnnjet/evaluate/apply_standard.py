"""Fit the standard correction on ntuples and write its predictions file (bin/standard_correction.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gnnjet.data.reader import open_tree
from gnnjet.data.store import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from gnnjet.evaluate.standard import StandardCorrection

log = logging.getLogger(__name__)
NEEDED = ("pt", "eta", "pt_gen")
OBSERVERS = ("pt", "eta", "phi", "mass", "pt_gen", "eta_gen", "hadron_flavor", "parton_flavor", "weight")


def read_jets(patterns: list[str], tree: str) -> dict[str, np.ndarray]:
    """Jet-level branches (NEEDED, plus the OBSERVERS present) of all files, concatenated."""
    parts: dict[str, list[np.ndarray]] = {}
    for path in expand_files(patterns):
        jets = open_tree(path, tree)
        missing = [b for b in NEEDED if b not in jets.keys()]
        if missing:
            raise DataError(f"{path}: branch {missing[0]!r} (needed by the standard correction) is missing")
        names = [b for b in OBSERVERS if b in jets.keys()]
        for name, values in jets.arrays(names, library="np").items():
            parts.setdefault(name, []).append(values)
    return {k: np.concatenate(v) for k, v in parts.items()}


def fit_and_apply(train: list[str], inputs: list[str], output: str | Path, tree: str = "Jets") -> StandardCorrection:
    """Fit on `train`, save output/standard.json, write output/pred.root for `inputs`."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    fit_jets = read_jets(train, tree)
    valid = (fit_jets["pt"] > 0) & (fit_jets["pt_gen"] > 0)
    correction = StandardCorrection.fit(fit_jets["pt"][valid], fit_jets["eta"][valid], fit_jets["pt_gen"][valid])
    correction.save(output / "standard.json")
    jets = read_jets(inputs, tree)
    log_factor = correction.log_factor(jets["pt"], jets["eta"])
    with np.errstate(divide="ignore"):
        target = np.log(jets["pt_gen"] / jets["pt"])
    columns = {"pred": log_factor.astype(np.float32), "target": target.astype(np.float32),
               "pt_corr": (jets["pt"] * np.exp(log_factor)).astype(np.float32), **jets}
    write_jets(output / "pred.root", columns)
    log.info("standard correction fitted on %d jets, applied to %d jets -> %s", int(valid.sum()), len(jets["pt"]), output)
    return correction
