"""The standard jet energy correction every GNN is compared with ("Standard" in the figures).

Like an L2L3 correction it depends only on reco pt and |eta|: in bins of |eta| and log(pt) the
median of log(pt_gen / pt) is taken on the training jets (direct numerical inversion: binning in
reco pt avoids the bias of inverting a response binned in pt_gen), smoothed over neighbouring pt
bins, and interpolated linearly in log(pt) (constant beyond the outermost bins).

With pile-up (the event's median pt density `rho` varies from jet to jet) an L1-like offset step comes
first, as in CMS's L1FastJet: pt_L1 = pt - rho x slope(|eta|, pt), where slope (GeV of jet pt per GeV of
rho, i.e. an effective jet area) is the least-squares slope of pt - pt_gen against rho among jets of
similar pt_gen (there the response part does not depend on rho), per |eta| and pt_gen bin, interpolated in
log(pt). The binned L2L3 step is then fitted on pt_L1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gnnjet.errors import DataError
from gnnjet.fileio import atomic_write_text

ETA_EDGES = (0.0, 1.3, 2.5, 3.0, 5.0)
PT_EDGES = tuple(np.geomspace(10.0, 3000.0, 25).round(2))
MIN_JETS = 20
MIN_RHO_SPREAD = 0.5  # GeV: below this standard deviation of rho there is no pile-up to correct
MIN_L1_FRACTION = 0.05  # pt_L1 is kept above this fraction of pt


@dataclass
class StandardCorrection:
    """Per |eta| bin: log(pt) nodes and log correction values (both 1-D, same length); the L1 offset step's
    log(pt) nodes and slopes per |eta| bin (empty lists: no offset step)."""

    eta_edges: list[float]
    log_pt: list[list[float]]
    log_correction: list[list[float]]
    l1_log_pt: list[list[float]] = field(default_factory=list)
    l1_slope: list[list[float]] = field(default_factory=list)

    @classmethod
    def fit(cls, pt: np.ndarray, eta: np.ndarray, pt_gen: np.ndarray,
            rho: np.ndarray | None = None) -> "StandardCorrection":
        """Fit on reco pt [J], eta [J], pt_gen [J] (GeV) and, with pile-up, rho [J] (GeV) of training jets."""
        if not len(pt):
            raise DataError("cannot fit the standard correction on zero jets")
        l1_nodes: list[list[float]] = []
        l1_slopes: list[list[float]] = []
        if rho is not None and np.std(rho) > MIN_RHO_SPREAD:
            l1_nodes, l1_slopes = _fit_offset(pt, np.abs(eta), pt_gen, rho)
            pt = _subtract_offset(pt, eta, rho, l1_nodes, l1_slopes)
        target = np.log(pt_gen / pt)
        abs_eta, log_pt = np.abs(eta), np.log(pt)
        nodes, values = [], []
        for lo, hi in zip(ETA_EDGES[:-1], ETA_EDGES[1:]):
            in_eta = (abs_eta >= lo) & (abs_eta < hi)
            x, y, n = [], [], []
            for pt_lo, pt_hi in zip(PT_EDGES[:-1], PT_EDGES[1:]):
                selected = in_eta & (pt >= pt_lo) & (pt < pt_hi)
                if selected.sum() >= MIN_JETS:
                    x.append(float(np.median(log_pt[selected])))
                    y.append(float(np.median(target[selected])))
                    n.append(int(selected.sum()))
            if not x:  # too few jets in this |eta| bin: use the inclusive median
                x, y, n = [float(np.median(log_pt))], [float(np.median(target))], [1]
            nodes.append(x)
            values.append(_smooth(np.array(y), np.array(n)).tolist())
        return cls(list(ETA_EDGES), nodes, values, l1_nodes, l1_slopes)

    @property
    def has_offset(self) -> bool:
        return bool(self.l1_log_pt)

    def log_factor(self, pt: np.ndarray, eta: np.ndarray, rho: np.ndarray | None = None) -> np.ndarray:
        """log of the full correction factor (offset, then L2L3) for reco jets pt [J], eta [J] and rho [J]
        (needed when the correction has an offset step)."""
        corrected = pt
        if self.has_offset:
            if rho is None:
                raise DataError("this standard correction subtracts a pile-up offset: it needs the jets' rho")
            corrected = _subtract_offset(pt, eta, rho, self.l1_log_pt, self.l1_slope)
        return np.log(corrected / pt) + _interpolate(corrected, eta, self.eta_edges, self.log_pt, self.log_correction)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps({"eta_edges": self.eta_edges, "log_pt": self.log_pt,
                                            "log_correction": self.log_correction, "l1_log_pt": self.l1_log_pt,
                                            "l1_slope": self.l1_slope}, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "StandardCorrection":
        values = json.loads(Path(path).read_text())
        return cls(values["eta_edges"], values["log_pt"], values["log_correction"], values.get("l1_log_pt", []),
                   values.get("l1_slope", []))


def _interpolate(pt: np.ndarray, eta: np.ndarray, eta_edges: list[float], nodes: list[list[float]],
                 values: list[list[float]]) -> np.ndarray:
    """Per |eta| bin, `values` interpolated linearly in log(pt) between `nodes` (constant beyond them)."""
    out = np.zeros(len(pt))
    abs_eta = np.minimum(np.abs(eta), eta_edges[-1] - 1e-9)
    which = np.clip(np.searchsorted(eta_edges, abs_eta, side="right") - 1, 0, len(nodes) - 1)
    for b, (x, y) in enumerate(zip(nodes, values)):
        selected = which == b
        out[selected] = np.interp(np.log(pt[selected]), x, y)
    return out


def _fit_offset(pt: np.ndarray, abs_eta: np.ndarray, pt_gen: np.ndarray,
                rho: np.ndarray) -> tuple[list[list[float]], list[list[float]]]:
    """Per |eta| bin: log(pt_gen) nodes and the slope d(pt - pt_gen)/d(rho) within each pt_gen bin."""
    nodes, slopes = [], []
    for lo, hi in zip(ETA_EDGES[:-1], ETA_EDGES[1:]):
        x, y = [], []
        for pt_lo, pt_hi in zip(PT_EDGES[:-1], PT_EDGES[1:]):
            selected = (abs_eta >= lo) & (abs_eta < hi) & (pt_gen >= pt_lo) & (pt_gen < pt_hi)
            if selected.sum() >= MIN_JETS and np.std(rho[selected]) > MIN_RHO_SPREAD:
                r, offset = rho[selected], pt[selected] - pt_gen[selected]
                x.append(float(np.median(np.log(pt_gen[selected]))))
                y.append(float(np.cov(offset, r)[0, 1] / np.var(r, ddof=1)))
        nodes.append(x or [0.0])
        slopes.append(y or [0.0])
    return nodes, slopes


def _subtract_offset(pt: np.ndarray, eta: np.ndarray, rho: np.ndarray, nodes: list[list[float]],
                     slopes: list[list[float]]) -> np.ndarray:
    """pt - rho x slope(|eta|, pt), kept above MIN_L1_FRACTION x pt."""
    offset = rho * _interpolate(pt, eta, list(ETA_EDGES), nodes, slopes)
    return np.maximum(pt - offset, MIN_L1_FRACTION * pt)


def _smooth(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Count-weighted average over each bin and its neighbours (3-bin window)."""
    if len(values) < 3:
        return values
    out = np.empty_like(values)
    for i in range(len(values)):
        lo, hi = max(0, i - 1), min(len(values), i + 2)
        out[i] = np.average(values[lo:hi], weights=counts[lo:hi])
    return out
