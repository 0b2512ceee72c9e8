"""Statistics used for metrics and figures: ROC/AUC/background rejection and response/resolution.

Conventions follow REFERENCE.md: Rej@X% = 1 / FPR at TPR = X%; resolution = IQR(R) / median(R)
(q75 - q25), optionally (q84 - q16) / 2 / median(R); uncertainties from bootstrap resamples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from gnnjet.errors import GnnjetError


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
                   seed: int = 0, weights: np.ndarray | None = None) -> tuple[float, float]:
    """AUC(a) - AUC(b) of two classifiers on the same jets (with weights [J], None: 1) and its paired-bootstrap
    standard deviation.

    Resampling the jets jointly cancels most of the test sample's fluctuation, which both AUCs share,
    so the error of the difference is much smaller than either AUC's own error.
    """
    def difference(index: np.ndarray) -> float:
        w = None if weights is None else weights[index]
        return auc(scores_a[index], is_signal[index], w) - auc(scores_b[index], is_signal[index], w)

    index = np.arange(len(is_signal))
    return difference(index), bootstrap_std(index, difference, resamples, seed)


def rejection_at(scores: np.ndarray, is_signal: np.ndarray, efficiency: float,
                 weights: np.ndarray | None = None) -> float:
    """Background rejection 1 / FPR at signal efficiency (TPR) `efficiency`; inf if FPR is 0."""
    fpr, tpr = roc_curve(scores, is_signal, weights)
    false_positive_rate = float(np.interp(efficiency, tpr, fpr))
    return float("inf") if false_positive_rate <= 0 else 1.0 / false_positive_rate


def rejection_text(value: float, num_background: int) -> str:
    """Rej@X% for a table: '> N' when no background jet passes (the rejection exceeds the N background jets
    tested; 1/0 is not a measurement), else 4 significant digits."""
    return f"> {num_background}" if value == float("inf") else f"{value:.4g}"


def confusion_matrix(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[C, C] fraction of true-class-i jets (row i) whose highest score is class j (column j); rows sum to 1
    (an empty row is all zeros).

    Args: probabilities [J, C], labels [J] class indices.
    """
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (labels, probabilities.argmax(axis=1)), 1)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


@dataclass(frozen=True)
class Discriminant:
    """Signal class vs chosen background classes, e.g. b vs (uds, g): score_b / (score_b + score_uds + score_g),
    evaluated on signal and background jets only (the other classes do not enter)."""

    signal: str
    backgrounds: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, names: list[str]) -> Discriminant:
        """'b:uds+g' -> Discriminant('b', ('uds', 'g')); unknown or repeated classes are errors."""
        signal, sep, rest = text.partition(":")
        backgrounds = tuple(b.strip() for b in rest.split("+") if b.strip())
        if not sep or not signal.strip() or not backgrounds:
            raise GnnjetError(f"discriminant {text!r}: write SIGNAL:BACKGROUND[+BACKGROUND...], e.g. b:uds+g")
        discriminant = cls(signal.strip(), backgrounds)
        unknown = [c for c in (discriminant.signal, *backgrounds) if c not in names]
        if unknown:
            raise GnnjetError(f"discriminant {text!r}: unknown class(es) {unknown}; the classes are {names}")
        if discriminant.signal in backgrounds or len(set(backgrounds)) != len(backgrounds):
            raise GnnjetError(f"discriminant {text!r}: a class appears twice")
        return discriminant

    @property
    def name(self) -> str:
        return f"{self.signal}_vs_{'_'.join(self.backgrounds)}"

    def jets(self, labels: np.ndarray, names: list[str]) -> np.ndarray:
        """[J] bool: the jets of the signal and background classes (those `evaluate` returns)."""
        return np.isin(labels, [names.index(c) for c in (self.signal, *self.backgrounds)])

    def evaluate(self, probabilities: np.ndarray, labels: np.ndarray,
                 names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(discriminant [J'], is_signal [J']) for the J' jets of the signal and background classes (`jets`)."""
        signal = names.index(self.signal)
        backgrounds = [names.index(b) for b in self.backgrounds]
        keep = self.jets(labels, names)
        numerator = probabilities[keep, signal]
        denominator = numerator + probabilities[keep][:, backgrounds].sum(axis=1)
        return numerator / np.maximum(denominator, 1e-30), labels[keep] == signal


def signal_classes(names: list[str]) -> list[int]:
    """Classes taken as signal one vs rest: the first class only for two classes, else every class."""
    return [0] if len(names) == 2 else list(range(len(names)))


def classification_summary(probabilities: np.ndarray, labels: np.ndarray, names: list[str], errors: bool = False,
                           reference: np.ndarray | None = None,
                           discriminants: tuple[Discriminant, ...] = (),
                           weights: np.ndarray | None = None) -> dict[str, float]:
    """accuracy plus, per signal class one vs rest (`signal_classes`) and per discriminant, AUC and Rej@30/50%
    (inf when no background passes: see `rejection_text`); with `errors`, also the AUC's bootstrap standard
    deviation (auc_err); with `reference` (another classifier's probabilities on the same jets), also
    AUC - AUC(reference) and its paired-bootstrap error (delta_auc, delta_auc_err).

    Keys: `auc` for two classes, `auc_<class>` one vs rest, `auc_<signal>_vs_<backgrounds>` per discriminant.
    Args: probabilities and reference [J, C] (rows sum to 1), labels [J] class indices, names [C], weights [J]
    (None: every jet counts once): weighted efficiencies, AUC and accuracy.
    """
    out = {"accuracy": float(np.average(probabilities.argmax(axis=1) == labels, weights=weights))}
    for c in signal_classes(names):
        suffix = "" if len(names) == 2 else f"_{names[c]}"
        out.update(_separation(probabilities[:, c], labels == c, suffix, errors,
                               None if reference is None else reference[:, c], weights))
    for discriminant in discriminants:
        score, signal = discriminant.evaluate(probabilities, labels, names)
        reference_score = None if reference is None else discriminant.evaluate(reference, labels, names)[0]
        jet_weights = None if weights is None else weights[discriminant.jets(labels, names)]
        out.update(_separation(score, signal, f"_{discriminant.name}", errors, reference_score, jet_weights))
    return out


def _separation(score: np.ndarray, signal: np.ndarray, suffix: str, errors: bool,
                reference: np.ndarray | None, weights: np.ndarray | None = None) -> dict[str, float]:
    """auc/auc_err/delta_auc/delta_auc_err/rej30/rej50 + suffix of one signal-vs-background score (jets weighted
    by `weights`, None: 1); empty when the jets are all signal or all background."""
    if signal.all() or not signal.any():
        return {}
    out = {f"auc{suffix}": auc(score, signal, weights)}
    if errors:
        out[f"auc_err{suffix}"] = bootstrap_std(
            np.arange(len(signal)), lambda i: auc(score[i], signal[i], None if weights is None else weights[i]))
    if reference is not None:
        out[f"delta_auc{suffix}"], out[f"delta_auc_err{suffix}"] = auc_difference(score, reference, signal,
                                                                                  weights=weights)
    out[f"rej30{suffix}"] = rejection_at(score, signal, 0.3, weights)
    out[f"rej50{suffix}"] = rejection_at(score, signal, 0.5, weights)
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


def half_width(values: np.ndarray) -> float:
    """Half the width of the central 68% of `values`, (q84 - q16) / 2, in their unit (NaN for fewer than two)."""
    if len(values) < 2:
        return float("nan")
    low, high = np.percentile(values, [16, 84])
    return float(high - low) / 2


def bootstrap_std(values: np.ndarray, statistic: Callable[[np.ndarray], float], resamples: int = 30,
                  seed: int = 0) -> float:
    """Standard deviation of `statistic` over bootstrap resamples of `values` (30, as jec-gnn)."""
    if len(values) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    samples = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(resamples)]
    return float(np.std(samples))
