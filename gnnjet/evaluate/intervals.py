"""Is a predicted per-jet resolution right? Coverage of the predicted 16-84% interval of pt_corr, pulls, the
calibration of the predicted resolution against the observed one, and what an analysis gains by it (the
resolution of jets in classes of predicted resolution).

Inputs are a predictions file's columns: pt_gen, pt_corr, pt_corr_q16, pt_corr_q84 and pt_corr_sigma (written by
quantile and Gaussian-NLL regression heads, `tasks.regression`); for another regressed quantity X (`quantity`,
e.g. mass) X_gen, X_corr, X_corr_q16, ... Bins and regions stay those of the jets' pt_gen and eta_gen.
"""

from __future__ import annotations

import numpy as np

from gnnjet import columns as column_names
from gnnjet.evaluate.jec import MIN_JETS, PT_GEN_EDGES, Binned, corrected_response
from gnnjet.evaluate.stats import bootstrap_std, resolution


def has_intervals(columns: dict[str, np.ndarray], quantity: str = "pt") -> bool:
    """True when the predictions carry a per-jet interval of `quantity`_corr."""
    return column_names.has_interval(columns, quantity)


def inside(columns: dict[str, np.ndarray], quantity: str = "pt") -> np.ndarray:
    """[J] bool: pt_gen within [pt_corr_q16, pt_corr_q84] (X_gen within X's interval)."""
    truth = columns[column_names.truth(quantity)]
    return ((truth >= columns[column_names.corrected(quantity, column_names.LOW)])
            & (truth <= columns[column_names.corrected(quantity, column_names.HIGH)]))


def coverage(columns: dict[str, np.ndarray], mask: np.ndarray, edges: np.ndarray = PT_GEN_EDGES,
             quantity: str = "pt") -> Binned:
    """Coverage of the jets `mask` [J] in bins of pt_gen: the fraction of jets whose true `quantity` lies inside
    their interval, binomial errors sqrt(p (1 - p) / N); NaN where fewer than MIN_JETS jets."""
    hit, pt_gen = inside(columns, quantity), columns["pt_gen"]
    values, errors = np.full(len(edges) - 1, np.nan), np.full(len(edges) - 1, np.nan)
    counts = np.zeros(len(edges) - 1, dtype=int)
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        selected = hit[mask & (pt_gen >= lo) & (pt_gen < hi)]
        counts[i] = len(selected)
        if len(selected) >= MIN_JETS:
            values[i] = selected.mean()
            errors[i] = np.sqrt(values[i] * (1 - values[i]) / len(selected))
    return Binned(np.asarray(edges), values, errors, counts)


def pulls(columns: dict[str, np.ndarray], quantity: str = "pt") -> np.ndarray:
    """(pt_gen - pt_corr) / pt_corr_sigma [J]: unit width for a correctly predicted resolution."""
    return ((columns[column_names.truth(quantity)] - columns[column_names.corrected(quantity)])
            / np.maximum(columns[column_names.corrected(quantity, column_names.SIGMA)], 1e-30))


def predicted_resolution(columns: dict[str, np.ndarray], quantity: str = "pt") -> np.ndarray:
    """The predicted relative resolution pt_corr_sigma / pt_corr [J]."""
    sigma = columns[column_names.corrected(quantity, column_names.SIGMA)]
    return sigma / np.maximum(columns[column_names.corrected(quantity)], 1e-30)


def calibration(columns: dict[str, np.ndarray], mask: np.ndarray, bins: int = 10,
                quantity: str = "pt") -> dict[str, np.ndarray]:
    """Observed against predicted relative resolution in `bins` quantile bins of the predicted one: predicted
    (the bin's median) [n], observed ((q84 - q16) / 2 / median of pt_gen / pt_corr) [n] and its bootstrap error [n].
    A calibrated model lies on the diagonal."""
    predicted = predicted_resolution(columns, quantity)[mask]
    ratio = (columns[column_names.truth(quantity)] / columns[column_names.corrected(quantity)])[mask]
    edges = np.unique(np.percentile(predicted, np.linspace(0, 100, bins + 1)))
    which = np.clip(np.digitize(predicted, edges) - 1, 0, len(edges) - 2)
    out = {"predicted": [], "observed": [], "observed_err": []}
    for b in range(len(edges) - 1):
        selected = which == b
        if selected.sum() < MIN_JETS:
            continue
        out["predicted"].append(float(np.median(predicted[selected])))
        out["observed"].append(resolution(ratio[selected], "68"))
        out["observed_err"].append(bootstrap_std(ratio[selected], lambda r: resolution(r, "68"), seed=b))
    return {key: np.asarray(values) for key, values in out.items()}


def resolution_by_category(columns: dict[str, np.ndarray], mask: np.ndarray, categories: int = 3,
                           quantity: str = "pt") -> list[dict[str, float]]:
    """Jets `mask` split into `categories` equal-size classes of predicted resolution (terciles by default): each
    class's predicted resolution range and its observed resolution (IQR / median of pt_corr / pt_gen, with a
    bootstrap error). The spread between the classes is what a per-jet resolution gives an analysis."""
    predicted = predicted_resolution(columns, quantity)[mask]
    response = corrected_response(columns, quantity)[mask]
    edges = np.percentile(predicted, np.linspace(0, 100, categories + 1))
    rows = []
    for c in range(categories):
        selected = (predicted >= edges[c]) & ((predicted < edges[c + 1]) if c < categories - 1 else True)
        rows.append({"predicted_low": float(edges[c]), "predicted_high": float(edges[c + 1]),
                     "jets": int(selected.sum()), "resolution": resolution(response[selected]),
                     "resolution_err": bootstrap_std(response[selected], resolution, seed=c)})
    return rows


def interval_summary(columns: dict[str, np.ndarray], mask: np.ndarray,
                     quantity: str = "pt") -> dict[str, float | list]:
    """Overall coverage (binomial error), the pulls' median and half 16-84% width, and the resolution per tercile
    of predicted resolution, of the jets `mask`."""
    hit = inside(columns, quantity)[mask]
    pull = pulls(columns, quantity)[mask]
    q16, q50, q84 = np.percentile(pull, [16, 50, 84])
    return {"coverage": float(hit.mean()), "coverage_err": float(np.sqrt(hit.mean() * (1 - hit.mean()) / len(hit))),
            "pull_median": float(q50), "pull_width": float((q84 - q16) / 2),
            "terciles": resolution_by_category(columns, mask, quantity=quantity)}
