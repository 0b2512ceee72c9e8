"""How much a score cut sculpts the background distribution of a variable (the jet mass): the distributions after
cuts at fixed signal efficiencies and the decorrelation figure of merit of the literature, 1/JSD between the
background distribution passing the cut at 50% signal efficiency and the inclusive one (Jensen-Shannon divergence
with base-2 logarithms, in a given binning; larger is better, infinite for a perfectly decorrelated tagger)."""

from __future__ import annotations

import numpy as np

from gnnjet.evaluate.stats import bootstrap_std

EFFICIENCIES = (1.0, 0.8, 0.5, 0.3)  # signal efficiencies of the cuts drawn


def score_cut(score: np.ndarray, weights: np.ndarray, efficiency: float) -> float:
    """The threshold that keeps the fraction `efficiency` of the (weighted) jets `score` [J] with score >= it."""
    if efficiency >= 1.0:
        return -np.inf
    order = np.argsort(-score, kind="stable")
    kept = np.cumsum(weights[order]) / weights.sum()
    return float(score[order][min(np.searchsorted(kept, efficiency), len(score) - 1)])


def background_histograms(score: np.ndarray, is_signal: np.ndarray, variable: np.ndarray, weights: np.ndarray | None,
                          edges: np.ndarray, efficiencies: tuple[float, ...] = EFFICIENCIES) -> dict[float, np.ndarray]:
    """For each signal efficiency, the background jets' distribution of `variable` [J] passing the score cut
    that keeps that fraction of the signal, normalised to unit sum over the bins `edges` (zeros if none pass)."""
    weights = np.ones(len(score)) if weights is None else np.asarray(weights, dtype=np.float64)
    background = ~is_signal
    out = {}
    for efficiency in efficiencies:
        cut = score_cut(score[is_signal], weights[is_signal], efficiency)
        passed = background & (score >= cut)
        hist, _ = np.histogram(variable[passed], bins=edges, weights=weights[passed])
        out[efficiency] = hist / hist.sum() if hist.sum() > 0 else hist
    return out


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """JSD(p, q) with base-2 logarithms of two histograms (normalised here): 0 for equal shapes, at most 1."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kullback_leibler(a: np.ndarray) -> float:
        filled = a > 0
        return float(np.sum(a[filled] * np.log2(a[filled] / m[filled])))

    return 0.5 * kullback_leibler(p) + 0.5 * kullback_leibler(q)


def inverse_jsd(score: np.ndarray, is_signal: np.ndarray, variable: np.ndarray, weights: np.ndarray | None,
                edges: np.ndarray, efficiency: float = 0.5, resamples: int = 30) -> tuple[float, float]:
    """1/JSD between the background distribution passing the cut at `efficiency` and the inclusive one, and its
    bootstrap standard deviation (jets resampled)."""
    def statistic(index: np.ndarray) -> float:
        hists = background_histograms(score[index], is_signal[index], variable[index],
                                      None if weights is None else weights[index], edges, (1.0, efficiency))
        if not hists[efficiency].sum() > 0:  # no background jet passes: no distribution to compare
            return np.nan
        divergence = jensen_shannon(hists[efficiency], hists[1.0])
        return 1.0 / divergence if divergence > 0 else np.inf

    index = np.arange(len(score))
    return statistic(index), bootstrap_std(index, statistic, resamples)


def default_edges(variable: np.ndarray, is_signal: np.ndarray, bins: int = 40) -> np.ndarray:
    """`bins` equal bins between the 0.5% and 99.5% quantiles of the background's values."""
    low, high = np.percentile(variable[~is_signal], [0.5, 99.5])
    return np.linspace(low, high if high > low else low + 1.0, bins + 1)
