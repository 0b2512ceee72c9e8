"""Histogram reweighting of training jets (data.weights.reweight), fitted on the training split.

weaver-core's semantics (utils/data/preprocess.py, WeightMaker), applied as loss weights instead of weaver's
accept/reject resampling: each class's jets are histogrammed in one or two jet-level variables (weighted by the
jets' weight expression, if any); ``flat`` gives each bin the weight clip(ref / content, 0, 1), ref the
`threshold` percentile of the bins holding more than 1% of the median content, so that every bin above ref holds
exactly ref and the rarer ones keep their jets at weight 1; ``ref`` gives clip(ratio / upper, 0, 1), ratio the
first class's content over this class's and upper its (100 - threshold) percentile, so every class takes the first
class's shape. Then the classes are balanced: class c's weighted total is proportional to class_weights[c]. Jets of
classes not reweighted get weight 0 (as weaver), and with `discard_outside` so do jets outside the edges (else they
take the nearest bin). Finally the weights are scaled to a mean of 1 over the training jets: the loss is a weighted
mean, so the scale only fixes how the numbers read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet.errors import DataError
from gnnjet.fileio import atomic_write_text


@dataclass
class Reweighting:
    """Per-class bin weights in the variables `variables` (expression texts) with bin `edges` (one array each).

    `factors[name]` and `before[name]` are [n_1(, n_2)] arrays: the weight of a jet of class `name` in that bin, and
    the class's (base-weighted) training histogram; `classes` the reweighted class names with their index in
    task.labels (`class_index`)."""

    variables: list[str]
    edges: list[np.ndarray]
    classes: list[str]
    class_index: list[int]
    factors: dict[str, np.ndarray]
    before: dict[str, np.ndarray]
    discard_outside: bool
    method: str

    @classmethod
    def fit(cls, settings: dict[str, Any], labels: list[str], y: np.ndarray, aux: np.ndarray,
            base_weight: np.ndarray) -> "Reweighting":
        """Fit on training jets: class indices y [J], the reweighting variables aux [J, V] (the store's first V
        aux columns), base weights [J] (the weight expression, 1 without). Raises DataError for a class without
        jets inside the edges."""
        variables = list(settings["vars"])
        edges = [np.asarray(e, dtype=np.float64) for e in settings["vars"].values()]
        classes = settings["classes"] or labels
        class_weights = settings["class_weights"] or [1.0] * len(classes)
        fitted = cls(variables, edges, classes, [labels.index(c) for c in classes], {}, {},
                     settings["discard_outside"], settings["method"])
        bins, binned = fitted._bins(aux)
        for name, index in zip(classes, fitted.class_index):
            jets = (y == index) & binned
            hist = np.zeros([len(e) - 1 for e in edges])
            np.add.at(hist, tuple(b[jets] for b in bins), base_weight[jets])
            if not (hist > 0).any():
                raise DataError(f"data.weights.reweight: class {name!r} has no training jets of positive weight "
                                f"inside the edges of {', '.join(variables)}")
            fitted.before[name] = hist
        reference = fitted.before[classes[0]]
        for name in classes:
            fitted.factors[name] = _bin_weights(fitted.before[name], reference, settings["method"],
                                                settings["threshold"])
        totals = {n: float((fitted.before[n] * fitted.factors[n]).sum()) / w for n, w in zip(classes, class_weights)}
        for name in classes:
            fitted.factors[name] *= min(totals.values()) / totals[name]
        scale = float(fitted.weights(y, aux).astype(np.float64) @ base_weight) / max(len(y), 1)
        for name in classes:
            fitted.factors[name] /= scale
        return fitted

    def _bins(self, aux: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Bin indices of the weighting variables aux [J, >= V] (one [J] array per variable, clipped to the edge
        bins) and binned [J] bool: the jets that take a bin (inside the edges; every jet without discard_outside,
        those outside in the nearest bin)."""
        bins, binned = [], np.ones(len(aux), dtype=bool)
        for column, edges in enumerate(self.edges):
            x = aux[:, column]
            bins.append(np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2))
            if self.discard_outside:
                binned &= (x >= edges[0]) & (x <= edges[-1])
        return bins, binned

    def weights(self, y: np.ndarray, aux: np.ndarray) -> np.ndarray:
        """The reweighting factor [J] float32 of jets with classes y [J] and weighting variables aux [J, >= V]."""
        bins, binned = self._bins(aux)
        out = np.zeros(len(y), dtype=np.float32)
        for name, index in zip(self.classes, self.class_index):
            jets = (y == index) & binned
            out[jets] = self.factors[name][tuple(b[jets] for b in bins)]
        return out

    def after(self, name: str) -> np.ndarray:
        """Class `name`'s training histogram once reweighted."""
        return self.before[name] * self.factors[name]

    def save(self, path: str | Path) -> None:
        payload = {"variables": self.variables, "edges": [e.tolist() for e in self.edges], "classes": self.classes,
                   "class_index": self.class_index, "method": self.method, "discard_outside": self.discard_outside,
                   "factors": {n: f.tolist() for n, f in self.factors.items()},
                   "before": {n: b.tolist() for n, b in self.before.items()}}
        atomic_write_text(Path(path), json.dumps(payload, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> "Reweighting":
        try:
            payload = json.loads(Path(path).read_text())
            return cls(payload["variables"], [np.asarray(e) for e in payload["edges"]], payload["classes"],
                       payload["class_index"], {n: np.asarray(f) for n, f in payload["factors"].items()},
                       {n: np.asarray(b) for n, b in payload["before"].items()}, payload["discard_outside"],
                       payload["method"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataError(f"cannot read the reweighting histograms {path}: {type(err).__name__}: {err}") from None


def _bin_weights(hist: np.ndarray, reference: np.ndarray, method: str, threshold: float) -> np.ndarray:
    """weaver-core's per-bin weights of one class histogram (module docstring); empty bins get 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "flat":
            filled = hist[hist > np.median(hist[hist > 0]) * 0.01]
            ratio = np.percentile(filled, threshold) / hist
        else:
            ratio = np.nan_to_num(reference / hist, posinf=0.0)
            ratio = ratio / np.percentile(ratio[ratio > 0], 100 - threshold)
    return np.clip(np.nan_to_num(ratio, posinf=0.0), 0.0, 1.0)


def check_weights(weights: np.ndarray, y: np.ndarray | None, labels: list[str], allow_negative: bool,
                  where: str) -> None:
    """Training weights [J] must be finite, non-negative unless `allow_negative`, and give every class (y [J]
    class indices, None for regression) a positive total. Raises DataError saying what to change."""
    negative = int((weights < 0).sum())
    if negative and not allow_negative:
        raise DataError(f"data.weights.expr gives {negative} of {len(weights)} {where} jets a negative weight; set "
                        "data.weights.allow_negative: true if they are meant (e.g. NLO generator weights)")
    if not weights.sum() > 0:
        raise DataError(f"data.weights: the {where} jets' weights sum to {weights.sum():g}; nothing would train")
    if y is None:
        return
    for index, name in enumerate(labels):
        jets = y == index
        if jets.any() and not weights[jets].sum() > 0:
            raise DataError(f"data.weights: every {where} jet of class {name!r} has weight 0 (outside the "
                            "reweighting edges, a class not reweighted, or NaN weights): that class would not train")
