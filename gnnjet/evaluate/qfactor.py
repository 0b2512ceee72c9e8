"""The gamma/hadron figure of merit of ground-based gamma-ray arrays: the Q-factor Q = eps_gamma / sqrt(eps_hadron),
the gain in significance of a point source from a cut on the classifier's score, at a fixed gamma efficiency and at
the best cut, per bin of a shower-size proxy (number of hits or energy)."""

from __future__ import annotations

from typing import Callable

import numpy as np

from gnnjet.evaluate.stats import auc, roc_curve

MIN_BACKGROUND = 10  # the best cut keeps at least this many background events (else 1/sqrt(0) wins)


def q_factor(scores: np.ndarray, is_signal: np.ndarray, efficiency: float | None = None,
             weights: np.ndarray | None = None, min_background: int = MIN_BACKGROUND) -> float:
    """Q of the tightest cut keeping at least `efficiency` of the signal (inf when no background passes it), or
    with None the largest Q over the cuts that keep at least `min_background` background events (NaN with fewer
    background events in all)."""
    fpr, tpr = roc_curve(scores, is_signal, weights)
    if efficiency is not None:
        cut = min(int(np.searchsorted(tpr, efficiency - 1e-12)), len(tpr) - 1)
        return float("inf") if fpr[cut] <= 0 else float(tpr[cut] / np.sqrt(fpr[cut]))
    best = _best_cut(fpr, tpr, is_signal, min_background)
    return float("nan") if best is None else float(tpr[best] / np.sqrt(fpr[best]))


def best_efficiency(scores: np.ndarray, is_signal: np.ndarray, weights: np.ndarray | None = None,
                    min_background: int = MIN_BACKGROUND) -> float:
    """The signal efficiency of the best cut of `q_factor`."""
    fpr, tpr = roc_curve(scores, is_signal, weights)
    best = _best_cut(fpr, tpr, is_signal, min_background)
    return float("nan") if best is None else float(tpr[best])


def _best_cut(fpr: np.ndarray, tpr: np.ndarray, is_signal: np.ndarray, min_background: int) -> int | None:
    """The ROC point of the largest tpr / sqrt(fpr) among the cuts keeping at least `min_background` background
    events (counted unweighted), or None when no cut does."""
    usable = fpr * int((~np.asarray(is_signal, bool)).sum()) >= min_background - 1e-9
    if not usable.any():
        return None
    q = np.where(usable, tpr / np.sqrt(np.where(usable, fpr, 1.0)), -np.inf)
    return int(np.argmax(q))


def q_factor_bins(scores: np.ndarray, is_signal: np.ndarray, proxy: np.ndarray, edges: np.ndarray,
                  weights: np.ndarray | None = None, efficiency: float = 0.5) -> list[dict[str, float]]:
    """Per bin [edges[i], edges[i + 1]) of `proxy`: events of each class, AUC, Q at `efficiency` and at the best
    cut (with its efficiency), each Q with a bootstrap error (30 resamples of the bin's events)."""
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        index = np.flatnonzero((proxy >= lo) & (proxy < hi))
        signal = np.asarray(is_signal, bool)[index]
        row: dict[str, float] = {"low": float(lo), "high": float(hi), "signal": int(signal.sum()),
                                 "background": int((~signal).sum())}
        if signal.all() or not signal.any():
            rows.append(row)
            continue
        w = None if weights is None else weights[index]

        def fixed(i: np.ndarray) -> float:
            return q_factor(scores[i], is_signal[i], efficiency, None if weights is None else weights[i])

        def best(i: np.ndarray) -> float:
            return q_factor(scores[i], is_signal[i], None, None if weights is None else weights[i])

        row.update(auc=auc(scores[index], signal, w), q_fixed=fixed(index), q_fixed_err=_finite_std(index, fixed),
                   q_best=best(index), q_best_err=_finite_std(index, best),
                   best_efficiency=best_efficiency(scores[index], signal, w))
        rows.append(row)
    return rows


def _finite_std(index: np.ndarray, statistic: Callable[[np.ndarray], float], resamples: int = 30) -> float:
    """Bootstrap standard deviation of a Q over resamples of the events `index`, leaving out resamples where it is
    infinite or undefined (no background passing)."""
    rng = np.random.default_rng(7)
    values = [statistic(index[rng.integers(0, len(index), len(index))]) for _ in range(resamples)]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.std(finite)) if len(finite) > 1 else float("nan")


def size_edges(proxy: np.ndarray, bins: int = 4) -> np.ndarray:
    """Edges of `bins` bins of equal event counts of the proxy (the last edge just above its largest value)."""
    edges = np.unique(np.percentile(proxy, np.linspace(0, 100, bins + 1)))
    edges[-1] = np.nextafter(edges[-1], np.inf)
    return edges
