"""The standard jet energy correction every GNN is compared with ("Standard" in the figures).

Like an L2L3 correction it depends only on reco pt and |eta|: in bins of |eta| and log(pt) the
median of log(pt_gen / pt) is taken on the training jets (direct numerical inversion: binning in
reco pt avoids the bias of inverting a response binned in pt_gen), smoothed over neighbouring pt
bins, and interpolated linearly in log(pt) (constant beyond the outermost bins).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnnjet.errors import DataError
from gnnjet.fileio import atomic_write_text

ETA_EDGES = (0.0, 1.3, 2.5, 3.0, 5.0)
PT_EDGES = tuple(np.geomspace(10.0, 3000.0, 25).round(2))
MIN_JETS = 20


@dataclass
class StandardCorrection:
    """Per |eta| bin: log(pt) nodes and log correction values (both 1-D, same length)."""

    eta_edges: list[float]
    log_pt: list[list[float]]
    log_correction: list[list[float]]

    @classmethod
    def fit(cls, pt: np.ndarray, eta: np.ndarray, pt_gen: np.ndarray) -> "StandardCorrection":
        """Fit on reco pt [J], eta [J] and pt_gen [J] (GeV) of training jets."""
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
        if not len(pt):
            raise DataError("cannot fit the standard correction on zero jets")
        return cls(list(ETA_EDGES), nodes, values)

    def log_factor(self, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
        """log of the correction factor for reco jets pt [J], eta [J]."""
        out = np.zeros(len(pt))
        abs_eta = np.minimum(np.abs(eta), self.eta_edges[-1] - 1e-9)
        which = np.clip(np.searchsorted(self.eta_edges, abs_eta, side="right") - 1, 0, len(self.log_pt) - 1)
        for b, (x, y) in enumerate(zip(self.log_pt, self.log_correction)):
            selected = which == b
            out[selected] = np.interp(np.log(pt[selected]), x, y)
        return out

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps({"eta_edges": self.eta_edges, "log_pt": self.log_pt,
                                            "log_correction": self.log_correction}, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "StandardCorrection":
        values = json.loads(Path(path).read_text())
        return cls(values["eta_edges"], values["log_pt"], values["log_correction"])


def _smooth(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Count-weighted average over each bin and its neighbours (3-bin window)."""
    if len(values) < 3:
        return values
    out = np.empty_like(values)
    for i in range(len(values)):
        lo, hi = max(0, i - 1), min(len(values), i + 2)
        out[i] = np.average(values[lo:hi], weights=counts[lo:hi])
    return out
