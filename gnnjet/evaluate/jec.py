"""Binned jet-energy-response statistics (definitions of REFERENCE.md, jec-gnn section).

Response R = pt_corr / pt_gen, binned in pt_gen (19 log bins 20..3000 GeV) and |eta_gen| regions.
Resolution = IQR(R) / median(R). Flavour dependence = median R per flavour; the flavour
improvement of a model over the standard correction is 100 * (1 - S_model / S_standard) with
S = sum over pt bins (FLAVOUR_EDGES) and the flavours filled in each bin of |m_f - mean_f m_f|. Errors are
bootstrap standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnnjet import columns as column_names
from gnnjet.evaluate.stats import bootstrap_std, median, resolution

PT_GEN_EDGES = np.geomspace(20.0, 3000.0, 20)
ETA_REGIONS = {"central": (0.0, 2.5), "forward": (2.5, 5.0)}
ETA_LABELS = {"central": r"$|\eta^{gen}| < 2.5$", "forward": r"$2.5 < |\eta^{gen}| < 5$"}
FLAVOUR_EDGES = np.array([30.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 3000.0])  # coarser: b and c jets are rare
MIN_JETS = 20  # bins with fewer jets are left empty (not plotted as zeros)
# pt_gen ranges of the summary tables (GeV)
SUMMARY_RANGES = {"pt>30": (30.0, 1e9), "30-100": (30.0, 100.0), "100-300": (100.0, 300.0), "300-1000": (300.0, 1000.0)}


@dataclass
class Binned:
    """A statistic per bin: centres [n], values [n], errors [n], counts [n]; NaN where too few jets."""

    edges: np.ndarray
    values: np.ndarray
    errors: np.ndarray
    counts: np.ndarray

    @property
    def centres(self) -> np.ndarray:
        return np.sqrt(self.edges[:-1] * self.edges[1:])

    @property
    def filled(self) -> np.ndarray:
        return np.isfinite(self.values)


def corrected_response(columns: dict[str, np.ndarray], quantity: str = "pt") -> np.ndarray:
    """pt_corr / pt_gen (or pt / pt_gen for files without pt_corr); for another regressed quantity X (mass),
    X_corr / X_gen (X / X_gen without X_corr)."""
    corrected = column_names.corrected(quantity)
    return (columns[corrected] if corrected in columns else columns[quantity]) / columns[column_names.truth(quantity)]


def corrected_quantities(columns: dict[str, np.ndarray]) -> list[str]:
    """The quantities X besides pt that a regression corrected: columns X_corr with X and X_gen (the jet mass of
    a pt + mass model)."""
    quantities = [q for q in column_names.corrected_quantities(columns) if q != "pt"]
    return [q for q in quantities if q in columns and column_names.truth(q) in columns]


def eta_mask(columns: dict[str, np.ndarray], region: str) -> np.ndarray:
    lo, hi = ETA_REGIONS[region]
    abs_eta = np.abs(columns["eta_gen"])
    return (abs_eta >= lo) & (abs_eta < hi)


def binned(values: np.ndarray, x: np.ndarray, mask: np.ndarray, statistic: str, edges: np.ndarray = PT_GEN_EDGES,
           bootstrap: int = 30) -> Binned:
    """`statistic` ("median" or "resolution") of values[mask] in bins of x[mask]."""
    function = {"median": median, "resolution": resolution}[statistic]
    out = np.full(len(edges) - 1, np.nan)
    errors, counts = np.full_like(out, np.nan), np.zeros(len(out), dtype=int)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        selected = values[mask & (x >= lo) & (x < hi)]
        counts[i] = len(selected)
        if len(selected) >= MIN_JETS:
            out[i] = function(selected)
            errors[i] = bootstrap_std(selected, function, bootstrap, seed=i) if bootstrap else 0.0
    return Binned(np.asarray(edges), out, errors, counts)


def flavour_medians(columns: dict[str, np.ndarray], groups: dict[str, np.ndarray], mask: np.ndarray,
                    bootstrap: int = 30, edges: np.ndarray = PT_GEN_EDGES) -> dict[str, Binned]:
    """Median response per flavour group in pt_gen bins."""
    response = corrected_response(columns)
    return {name: binned(response, columns["pt_gen"], mask & group, "median", edges, bootstrap)
            for name, group in groups.items()}


def flavour_spread(medians: dict[str, Binned], usable: np.ndarray | None = None) -> float:
    """S = sum over bins of sum_f |m_f - mean_f m_f|, over the flavours filled in each bin (>= 2)."""
    stacked = np.stack([m.values for m in medians.values()])  # [flavours, bins]
    usable = np.isfinite(stacked) if usable is None else usable
    total, used = 0.0, 0
    for b in range(stacked.shape[1]):
        values = stacked[usable[:, b], b]
        if len(values) >= 2:
            total += float(np.abs(values - values.mean()).sum())
            used += 1
    return total if used else float("nan")


def flavour_improvement(columns: dict[str, np.ndarray], reference: dict[str, np.ndarray],
                        groups: dict[str, np.ndarray], mask: np.ndarray) -> float:
    """100 * (1 - S_model / S_reference), both on FLAVOUR_EDGES bins where a flavour is filled for both."""
    model = flavour_medians(columns, groups, mask, bootstrap=0, edges=FLAVOUR_EDGES)
    standard = flavour_medians(reference, groups, mask, bootstrap=0, edges=FLAVOUR_EDGES)
    usable = np.isfinite(np.stack([m.values for m in model.values()])) & \
        np.isfinite(np.stack([m.values for m in standard.values()]))
    s_model, s_standard = flavour_spread(model, usable), flavour_spread(standard, usable)
    return 100.0 * (1.0 - s_model / s_standard) if s_standard > 0 else float("nan")


def resolution_in_range(columns: dict[str, np.ndarray], mask: np.ndarray, pt_range: tuple[float, float],
                        response: np.ndarray | None = None) -> float:
    """Resolution of the corrected response (or of `response` [J]) for pt_gen in pt_range."""
    lo, hi = pt_range
    selected = mask & (columns["pt_gen"] >= lo) & (columns["pt_gen"] < hi)
    response = corrected_response(columns) if response is None else response
    return resolution(response[selected]) if selected.sum() >= MIN_JETS else float("nan")
