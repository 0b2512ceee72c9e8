"""Fit the standard correction on ntuples and write its predictions file (bin/standard_correction.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gnnjet.data.formats.root import open_tree
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from gnnjet.evaluate.standard import StandardCorrection
from gnnjet.fileio import make_directory, refuse_to_clobber
from gnnjet.runs.layout import PREDICTIONS

log = logging.getLogger(__name__)
NEEDED = ("pt", "eta", "pt_gen")
OBSERVERS = ("pt", "eta", "phi", "mass", "pt_gen", "eta_gen", "hadron_flavor", "parton_flavor", "weight", "rho", "npv")


def read_jets(files: list[str], tree: str) -> dict[str, np.ndarray]:
    """Jet-level branches (NEEDED, plus the OBSERVERS present) of all files, concatenated."""
    parts: dict[str, list[np.ndarray]] = {}
    for path in files:
        jets = open_tree(path, tree)
        missing = [b for b in NEEDED if b not in jets.keys()]
        if missing:
            raise DataError(f"{path}: branch {missing[0]!r} (needed by the standard correction) is missing")
        names = [b for b in OBSERVERS if b in jets.keys()]
        for name, values in jets.arrays(names, library="np").items():
            parts.setdefault(name, []).append(values)
    return {k: np.concatenate(v) for k, v in parts.items()}


def fit_and_apply(train: list[str], inputs: list[str], output: str | Path, tree: str = "Jets",
                  overwrite: bool = False) -> StandardCorrection:
    """Fit on `train`, save output/standard.json, write output/pred.root for `inputs`. With pile-up (a `rho`
    branch that varies) the correction starts with an offset step in rho. Before any work, an output that is one
    of the input files is refused, and existing outputs unless `overwrite`; both are written only once everything
    is computed (an earlier pair stays whole if this one fails)."""
    output = Path(output)
    fit_files, input_files = expand_files(train), expand_files(inputs)
    for name, what in (("standard.json", "standard correction file"), (PREDICTIONS, "predictions file")):
        refuse_to_clobber(output / name, [*fit_files, *input_files], overwrite=overwrite, what=what)
    fit_jets = read_jets(fit_files, tree)
    valid = (fit_jets["pt"] > 0) & (fit_jets["pt_gen"] > 0)
    rho = fit_jets["rho"][valid] if "rho" in fit_jets else None
    correction = StandardCorrection.fit(fit_jets["pt"][valid], fit_jets["eta"][valid], fit_jets["pt_gen"][valid], rho)
    jets = read_jets(input_files, tree)
    if correction.has_offset and "rho" not in jets:
        raise DataError(f"the standard correction fitted on {train} subtracts a pile-up offset in rho, but {inputs} "
                        "have no rho branch")
    log_factor = correction.log_factor(jets["pt"], jets["eta"], jets.get("rho"))
    with np.errstate(divide="ignore"):
        target = np.log(jets["pt_gen"] / jets["pt"])
    columns = {"pred": log_factor.astype(np.float32), "target": target.astype(np.float32),
               "pt_corr": (jets["pt"] * np.exp(log_factor)).astype(np.float32), **jets}
    make_directory(output)
    correction.save(output / "standard.json")
    write_jets(output / PREDICTIONS, columns)
    log.info("standard correction%s fitted on %d jets, applied to %d jets -> %s",
             " (with a pile-up offset step)" if correction.has_offset else "", int(valid.sum()), len(jets["pt"]),
             output)
    return correction
