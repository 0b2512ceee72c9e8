"""The sample types: quark/gluon (qg), jet flavour (flavour), jet energy correction (jec) and top vs QCD (top).

A process is a set of jet classes with equal quotas and Pythia sources that fill them: e.g. qg
runs the Z+quark and Z+gluon processes as separate generators (a mixed sample would be 85%
quarks), flavour runs QCD, bb and cc production to get enough b and c jets. `select` applies the
process's jet selection to a `JetTable` and returns, per class it fills, the passing jets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from gnnjet.generate.pipeline import JetTable
from gnnjet.generate.pythia import LONG_LIVED_DECAYS

LHC_13TEV = "Beams:eCM = 13000."


def _flat_pt(pt_hat_min: float, pt_hat_max: float = -1.0) -> list[str]:
    """Bias the hard scattering to a flat-ish pT spectrum (events carry weights that undo it)."""
    return [f"PhaseSpace:pTHatMin = {pt_hat_min}", f"PhaseSpace:pTHatMax = {pt_hat_max}",
            "PhaseSpace:bias2Selection = on", "PhaseSpace:bias2SelectionPow = 4.",
            f"PhaseSpace:bias2SelectionRef = {pt_hat_min}"]


@dataclass(frozen=True)
class Source:
    """One Pythia configuration and the classes its jets may fill."""

    name: str
    settings: tuple[str, ...]
    classes: tuple[str, ...]
    batch_events: int = 200


@dataclass(frozen=True)
class Process:
    """A sample type: its classes (written as one-hot ``label_<class>``) and sources."""

    name: str
    classes: tuple[str, ...]
    sources: tuple[Source, ...]
    selector: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    write_labels: bool = True
    jet_radius: float = 0.4
    description: str = field(default="", compare=False)

    def select(self, table: JetTable, source: Source) -> dict[str, np.ndarray]:
        """Indices into `table` of the jets of each class `source` fills."""
        masks = self.selector(table.jets)
        return {c: np.flatnonzero(masks[c]) for c in source.classes}


def _select_qg(jets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """EnergyFlow recipe: leading jet, 500 < pt < 550 GeV, |y| < 1.7, light quark or gluon."""
    base = (jets["rank"] == 0) & (jets["pt_gen"] > 500) & (jets["pt_gen"] < 550) & (np.abs(jets["y_gen"]) < 1.7)
    hard = np.abs(jets["hard_id"])
    return {"q": base & (hard >= 1) & (hard <= 3), "g": base & (hard == 21)}


def _select_flavour(jets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Jets 30-1000 GeV, |eta| < 2.5, classified by hadron flavour, then parton flavour."""
    base = (jets["pt_gen"] > 30) & (jets["pt_gen"] < 1000) & (np.abs(jets["eta_gen"]) < 2.5)
    hadron, parton = jets["hadron_flavor"], np.abs(jets["parton_flavor"])
    return {"b": base & (hadron == 5), "c": base & (hadron == 4),
            "uds": base & (hadron == 0) & (parton >= 1) & (parton <= 3), "g": base & (hadron == 0) & (parton == 21)}


def _select_top(jets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Top Tagging Reference Dataset recipe: detector-level jets 550 < pt < 650 GeV, |eta| < 2; a top jet contains
    the top quark and its three decay quarks within Delta R < 0.8 of the jet axis; QCD jets come from QCD events."""
    base = (jets["pt"] > 550) & (jets["pt"] < 650) & (np.abs(jets["eta"]) < 2)
    return {"top": base & (jets["top_dr"] < 0.8) & (jets["hard_quarks"] >= 3), "qcd": base}


def _select_jec(jets: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every matched jet above 15 GeV within the calorimeter acceptance |eta| < 4.7."""
    return {"all": (jets["pt_gen"] > 15) & (np.abs(jets["eta_gen"]) < 4.7)}


_QG_COMMON = ("Beams:eCM = 14000.", "WeakZ0:gmZmode = 2", "23:onMode = off", "23:onIfAny = 12 14 16",
              "PhaseSpace:pTHatMin = 450", *LONG_LIVED_DECAYS)

_TOP_COMMON = ("Beams:eCM = 14000.", "PhaseSpace:pTHatMin = 500", "PhaseSpace:pTHatMax = 700", *LONG_LIVED_DECAYS)

PROCESSES: dict[str, Process] = {
    "qg": Process(
        "qg", ("q", "g"),
        (Source("z_quark", (*_QG_COMMON, "WeakBosonAndParton:qg2gmZq = on"), ("q",)),
         Source("z_gluon", (*_QG_COMMON, "WeakBosonAndParton:qqbar2gmZg = on"), ("g",))),
        _select_qg,
        description="Z(->nunu)+jet at 14 TeV, leading jet 500-550 GeV, |y|<1.7 (EnergyFlow q/g recipe)",
    ),
    "flavour": Process(
        "flavour", ("b", "c", "uds", "g"),
        (Source("qcd", (LHC_13TEV, "HardQCD:all = on", *_flat_pt(20, 1200), *LONG_LIVED_DECAYS), ("uds", "g")),
         Source("bbbar", (LHC_13TEV, "HardQCD:hardbbbar = on", *_flat_pt(20, 1200), *LONG_LIVED_DECAYS), ("b",)),
         Source("ccbar", (LHC_13TEV, "HardQCD:hardccbar = on", *_flat_pt(20, 1200), *LONG_LIVED_DECAYS), ("c",))),
        _select_flavour,
        description="QCD, bb and cc at 13 TeV, jets 30-1000 GeV, |eta|<2.5, equal b/c/uds/g by hadron flavour",
    ),
    "jec": Process(
        "jec", ("all",),
        (Source("qcd", (LHC_13TEV, "HardQCD:all = on", *_flat_pt(15), *LONG_LIVED_DECAYS), ("all",), 250),),
        _select_jec,
        write_labels=False,
        description="QCD multijets at 13 TeV with a flattened pT spectrum (weights kept), all matched jets",
    ),
    "top": Process(
        "top", ("top", "qcd"),
        (Source("ttbar", (*_TOP_COMMON, "Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off",
                          "24:onIfAny = 1 2 3 4 5"), ("top",)),
         Source("qcd", (*_TOP_COMMON, "HardQCD:all = on"), ("qcd",))),
        _select_top,
        jet_radius=0.8,
        description="hadronic ttbar vs QCD dijets at 14 TeV, anti-kT R = 0.8, jets 550-650 GeV, |eta| < 2, "
                    "top jets containing t -> bqq' (Top Tagging Reference Dataset recipe)",
    ),
}
