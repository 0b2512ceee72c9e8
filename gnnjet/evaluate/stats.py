"""Statistics used for metrics and figures: ROC/AUC/background rejection and response/resolution.

Conventions follow REFERENCE.md: Rej@X% = 1 / FPR at TPR = X%; resolution = IQR(R) / median(R)
(q75 - q25), optionally (q84 - q16) / 2 / median(R); uncertainties from bootstrap resamples.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def roc_curve(scores: np.ndarray, is_signal: np.ndarray,
              weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) for all thresholds, both starting at 0 and ending at 1."""
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(-np.asarray(scores), kind="stable")
    scores, signal, weights = np.asarray(scores)[order], np.asarray(is_signal, bool)[order], weights[order]
    true_positive = np.cumsum(weights * signal)
    false_positive = np.cumsum(weights * ~signal)
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # ties share one point
    tpr = np.r_[0.0, true_positive[last_of_threshold] / max(true_positive[-1], 1e-300)]
    fpr = np.r_[0.0, false_positive[last_of_threshold] / max(false_positive[-1], 1e-300)]
    return fpr, tpr


def auc(scores: np.ndarray, is_signal: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (0.5 for a random, 1 for a perfect classifier)."""
    fpr, tpr = roc_curve(scores, is_signal, weights)
    return float(np.trapezoid(tpr, fpr))


def auc_difference(scores_a: np.ndarray, scores_b: np.ndarray, is_signal: np.ndarray, resamples: int = 30,
                   seed: int = 0) -> tuple[float, float]:
    """AUC(a) - AUC(b) of two classifiers on the same jets and its paired-bootstrap standard deviation.

    Resampling the jets jointly cancels most of the test sample's fluctuation, which both AUCs share,
    so the error of the difference is much smaller than either AUC's own error.
    """
    def difference(index: np.ndarray) -> float:
        return auc(scores_a[index], is_signal[index]) - auc(scores_b[index], is_signal[index])

    index = np.arange(len(is_signal))
    return difference(index), bootstrap_std(index, difference, resamples, seed)


def rejection_at(scores: np.ndarray, is_signal: np.ndarray, efficiency: float) -> float:
    """Background rejection 1 / FPR at signal efficiency (TPR) `efficiency`; inf if FPR is 0."""
    fpr, tpr = roc_curve(scores, is_signal)
    false_positive_rate = float(np.interp(efficiency, tpr, fpr))
    return float("inf") if false_positive_rate <= 0 else 1.0 / false_positive_rate


def signal_classes(names: list[str]) -> list[int]:
    """Classes taken as signal one vs rest: the first class only for two classes, else every class."""
    return [0] if len(names) == 2 else list(range(len(names)))


def classification_summary(probabilities: np.ndarray, labels: np.ndarray, names: list[str], errors: bool = False,
                           reference: np.ndarray | None = None) -> dict[str, float]:
    """accuracy plus, per signal class (`signal_classes`), AUC and Rej@30/50%; with `errors`, also the AUC's
    bootstrap standard deviation (auc_err); with `reference` (another classifier's probabilities on the same
    jets), also AUC - AUC(reference) and its paired-bootstrap error (delta_auc, delta_auc_err).

    Args: probabilities and reference [J, C] (rows sum to 1), labels [J] class indices, names [C].
    """
    out = {"accuracy": float(np.mean(probabilities.argmax(axis=1) == labels))}
    for c in signal_classes(names):
        signal = labels == c
        if signal.all() or not signal.any():
            continue
        suffix = "" if len(names) == 2 else f"_{names[c]}"
        out[f"auc{suffix}"] = auc(probabilities[:, c], signal)
        if errors:
            out[f"auc_err{suffix}"] = bootstrap_std(np.arange(len(signal)),
                                                    lambda i: auc(probabilities[i, c], signal[i]))  # noqa: B023
        if reference is not None:
            out[f"delta_auc{suffix}"], out[f"delta_auc_err{suffix}"] = auc_difference(
                probabilities[:, c], reference[:, c], signal)
        out[f"rej30{suffix}"] = rejection_at(probabilities[:, c], signal, 0.3)
        out[f"rej50{suffix}"] = rejection_at(probabilities[:, c], signal, 0.5)
    return out


def median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else float("nan")


def resolution(response: np.ndarray, kind: str = "iqr") -> float:
    """Relative resolution of a response distribution: IQR / median ("iqr") or (q84 - q16) / 2 / median ("68")."""
    if len(response) < 2:
        return float("nan")
    if kind == "iqr":
        q25, q50, q75 = np.percentile(response, [25, 50, 75])
        return float((q75 - q25) / q50)
    if kind == "68":
        q16, q50, q84 = np.percentile(response, [16, 50, 84])
        return float((q84 - q16) / 2 / q50)
    raise ValueError(f"unknown resolution kind {kind!r} (iqr or 68)")


def bootstrap_std(values: np.ndarray, statistic: Callable[[np.ndarray], float], resamples: int = 30,
                  seed: int = 0) -> float:
    """Standard deviation of `statistic` over bootstrap resamples of `values` (30, as jec-gnn)."""
    if len(values) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    samples = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(resamples)]
    return float(np.std(samples))
