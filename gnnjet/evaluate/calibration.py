"""Calibration statistics on arrays: split-conformal corrections of predicted intervals (conformalized quantile
regression, Romano, Patterson and Candes, NeurIPS 2019, with one correction per bound and per group: the
Mondrian variant), temperature scaling of class logits (Guo et al., ICML 2017), isotonic calibration of class
probabilities (one class against the rest, then renormalised: Zadrozny and Elkan, KDD 2002) and the expected
calibration error.
"""

from __future__ import annotations

import math

import numpy as np


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The finite-sample conformal quantile of conformity `scores` [n] at `level` (e.g. 0.84): the k-th smallest,
    k = ceil((n + 1) level). A new exchangeable score is at most it with probability >= level. Too few scores for
    the level (k > n) is a ValueError saying how many are needed."""
    n = len(scores)
    k = math.ceil((n + 1) * level)
    if k > n:
        raise ValueError(f"{n} jets are too few for a conformal bound at level {level:g}: at least "
                         f"{math.ceil(level / (1 - level))} are needed")
    return float(np.partition(np.asarray(scores, np.float64), k - 1)[k - 1])


def interval_corrections(low: np.ndarray, high: np.ndarray, y: np.ndarray, low_level: float,
                         high_level: float) -> tuple[float, float]:
    """How far to move a predicted interval [low, high] [n] so that each bound holds its level on exchangeable new
    jets: (d_low, d_high) such that P(y < low - d_low) <= low_level and P(y > high + d_high) <= 1 - high_level
    (each side corrected on its own, so a 16-84% interval keeps 16% on either side). A negative correction
    narrows an interval that was too wide."""
    return (conformal_quantile(low - y, 1 - low_level), conformal_quantile(y - high, high_level))


def group_index(values: list[np.ndarray], edges: list[np.ndarray]) -> np.ndarray:
    """Each jet's group [n]: the bin of each variable in `values` (edges [E_v] each; values below the first edge
    or above the last fall into the first or last bin), combined row-major over the variables."""
    index = np.zeros(len(values[0]) if values else 0, np.int64)
    for value, edge in zip(values, edges):
        bins = np.clip(np.searchsorted(edge, value, side="right") - 1, 0, len(edge) - 2)
        index = index * (len(edge) - 1) + bins
    return index


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    shifted = logits / temperature
    shifted = np.exp(shifted - shifted.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean -log p(label) of softmax(logits / temperature): logits [n, C], labels [n] class indices."""
    scaled = logits.astype(np.float64) / temperature
    top = scaled.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1))
    return float(np.mean(log_norm - scaled[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T > 0 minimising the NLL of softmax(logits / T) on (logits [n, C], labels [n]). The NLL is
    convex in 1 / T, so a golden-section search over log T in [-5, 5] finds it to 1e-6 (written here: it is one
    convex 1-D minimisation, and scipy is not a dependency)."""
    lo, hi = -5.0, 5.0
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = (negative_log_likelihood(logits, labels, math.exp(x)) for x in (a, b))
    while hi - lo > 1e-7:
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = negative_log_likelihood(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = negative_log_likelihood(logits, labels, math.exp(b))
    return math.exp((lo + hi) / 2)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence: the jet-weighted mean over `bins` equal-width bins
    of |accuracy - mean confidence| (probabilities [n, C], labels [n])."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / max(len(labels), 1))


def isotonic_fit(score: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-decreasing fit of outcome [n] (0/1) against score [n] by pool-adjacent-violators: (x, y) of its
    blocks, x the mean score and y the mean outcome of each (both increasing); `isotonic_apply` interpolates
    between them. Written here: a few lines, and scikit-learn is not a dependency."""
    order = np.argsort(score, kind="stable")
    values, weights, positions = [], [], []  # per block: mean outcome, jets, mean score
    for x, y in zip(np.asarray(score, np.float64)[order], np.asarray(outcome, np.float64)[order]):
        values.append(y)
        weights.append(1.0)
        positions.append(x)
        while len(values) > 1 and values[-2] >= values[-1]:  # pool the violating (or tied) pair
            w = weights[-2] + weights[-1]
            values[-2] = (values[-2] * weights[-2] + values[-1] * weights[-1]) / w
            positions[-2] = (positions[-2] * weights[-2] + positions[-1] * weights[-1]) / w
            weights[-2] = w
            del values[-1], weights[-1], positions[-1]
    return np.array(positions), np.array(values)


def isotonic_apply(probabilities: np.ndarray, fits: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Class probabilities [n, C] mapped through each class's isotonic fit (linear between its blocks, constant
    beyond them) and renormalised to sum to 1 (uniform where every mapped value is 0)."""
    mapped = np.stack([np.interp(probabilities[:, c], x, y) for c, (x, y) in enumerate(fits)], axis=1)
    total = mapped.sum(axis=1, keepdims=True)
    uniform = np.full_like(mapped, 1 / mapped.shape[1])
    return np.where(total > 0, mapped / np.where(total > 0, total, 1), uniform)
