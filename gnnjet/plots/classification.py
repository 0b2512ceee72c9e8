"""Tagging figures: ROC curves (background rejection vs signal efficiency) one vs rest and per discriminant,
score distributions, confusion matrices, reliability diagrams (with the raw scores of a calibrated run) and the
metrics table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, NamedTuple

import matplotlib.pyplot as plt
import numpy as np

from gnnjet import columns as column_names
from gnnjet.errors import DataError
from gnnjet.evaluate.calibration import expected_calibration_error
from gnnjet.evaluate.predictions import Predictions
from gnnjet.evaluate.sculpting import background_histograms, default_edges, inverse_jsd, jensen_shannon
from gnnjet.evaluate.stats import (
    Discriminant,
    classification_summary,
    confusion_matrix,
    rejection_text,
    roc_curve,
    signal_classes,
)
from gnnjet.fileio import atomic_write_text, make_directory
from gnnjet.plots.style import label, markdown_table, save, slug

Curve = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]  # score [J], is_signal [J], weights [J] or None


class RocSpec(NamedTuple):
    """One ROC curve: its figure name, metric-key suffix, class names, and model -> (score [J], is_signal [J],
    weights [J] or None)."""

    figure: str
    suffix: str
    signal: str
    background: str
    curve: Callable[[Predictions], Curve]


def _probabilities(m: Predictions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(scores [J, C], true class [J], class names [C]) of one predictions file."""
    labels = m.labels
    missing = [label for label in labels if label not in m.columns]
    if missing:
        raise ValueError(f"{m.path}: truth branches {missing} missing")
    scores = np.stack([m.columns[column_names.score(label)] for label in labels], axis=1)
    truth = np.stack([m.columns[label] for label in labels], axis=1).argmax(axis=1)
    return scores, truth, [label.removeprefix("label_") for label in labels]


def _roc_specs(names: list[str], discriminants: tuple[Discriminant, ...]) -> list[RocSpec]:
    def one_vs_rest(c: int) -> Callable[[Predictions], Curve]:
        def curve(m: Predictions) -> Curve:
            scores, truth, _ = _probabilities(m)
            return scores[:, c], truth == c, m.weights
        return curve

    def of(discriminant: Discriminant) -> Callable[[Predictions], Curve]:
        def curve(m: Predictions) -> Curve:
            scores, truth, _ = _probabilities(m)
            weights = None if m.weights is None else m.weights[discriminant.jets(truth, names)]
            return (*discriminant.evaluate(scores, truth, names), weights)
        return curve

    binary = len(names) == 2
    specs = [RocSpec(f"roc_{names[c]}", "" if binary else f"_{names[c]}", names[c], names[1] if binary else "rest",
                     one_vs_rest(c)) for c in signal_classes(names)]
    return specs + [RocSpec(f"roc_{d.name}", f"_{d.name}", d.signal, " + ".join(d.backgrounds), of(d))
                    for d in discriminants]


def roc(models: list[Predictions], out: Path, discriminants: tuple[Discriminant, ...] = ()) -> list[Path]:
    paths = []
    _, _, names = _probabilities(models[0])
    for spec in _roc_specs(names, discriminants):
        fig, ax = plt.subplots()
        for m in models:
            fpr, tpr = roc_curve(*spec.curve(m))  # weighted when the predictions carry weights
            keep = fpr > 0
            ax.plot(tpr[keep], 1 / fpr[keep], linewidth=2, label=m.name)
        ax.plot(np.linspace(0.01, 1, 100), 1 / np.linspace(0.01, 1, 100), color="grey", linestyle=":", label="random")
        ax.set(yscale="log", xlim=(0, 1), xlabel=f"Signal efficiency ({spec.signal})",
               ylabel=f"Background rejection ({spec.background})")
        ax.legend()
        label(ax)
        paths += save(fig, out, spec.figure)
    return paths


def _raw_probabilities(m: Predictions) -> np.ndarray | None:
    """The scores [J, C] before a run's calibration (score_<label>_raw, bin/calibrate.py), None without them."""
    names = [column_names.raw_score(label) for label in m.labels]
    if not all(name in m.columns for name in names):
        return None
    return np.stack([m.columns[name] for name in names], axis=1)


RELIABILITY_BINS = 10


def reliability(model: Predictions, out: Path) -> list[Path]:
    """Reliability diagram: the fraction of jets whose highest-scoring class is right against that score (its
    confidence), in equal-width bins with binomial errors, for the scores and, for a calibrated run, the raw
    scores; the legend gives each expected calibration error."""
    scores, truth, _ = _probabilities(model)
    raw = _raw_probabilities(model)
    curves = [("calibrated" if raw is not None else "scores", scores)] + ([("raw", raw)] if raw is not None else [])
    fig, ax = plt.subplots(figsize=(9, 8))
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfectly calibrated")
    edges = np.linspace(0, 1, RELIABILITY_BINS + 1)
    for name, probabilities in curves:
        confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == truth
        which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, RELIABILITY_BINS - 1)
        filled = [b for b in range(RELIABILITY_BINS) if np.any(which == b)]
        x = [confidence[which == b].mean() for b in filled]
        y = [correct[which == b].mean() for b in filled]
        n = [np.sum(which == b) for b in filled]
        error = [np.sqrt(max(p * (1 - p), 1 / k) / k) for p, k in zip(y, n)]
        ece = expected_calibration_error(probabilities, truth)
        ax.errorbar(x, y, yerr=error, marker="o", linestyle="-", label=f"{name} (ECE {ece:.3f})")
    ax.set(xlabel="Confidence (highest score)", ylabel="Fraction correct", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(title=model.name)
    label(ax)
    return save(fig, out, f"reliability_{slug(model.name)}")


def score_distributions(model: Predictions, out: Path) -> list[Path]:
    scores, truth, names = _probabilities(model)
    classes = signal_classes(names)
    fig, axes = plt.subplots(1, len(classes), figsize=(9 * len(classes), 7.5), squeeze=False)
    for ax, c in zip(axes[0], classes):
        for k, name in enumerate(names):
            ax.hist(scores[truth == k, c], bins=np.linspace(0, 1, 41), histtype="step", density=True, linewidth=2,
                    label=f"true {name}", weights=None if model.weights is None else model.weights[truth == k])
        ax.set(xlabel=f"score {names[c]}", ylabel="Density", yscale="log")
        ax.legend(title=model.name)
        label(ax)
    return save(fig, out, f"scores_{slug(model.name)}")


def confusion(model: Predictions, out: Path) -> list[Path]:
    """Row-normalised confusion matrix: fraction of true-class jets (rows) by highest-scoring class (columns)."""
    scores, truth, names = _probabilities(model)
    matrix = confusion_matrix(scores, truth, len(names))
    size = max(6.0, 0.9 * len(names) + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=14,
                color="white" if value > 0.5 else "black")
    ax.set(xticks=range(len(names)), yticks=range(len(names)), xlabel="Predicted class", ylabel="True class")
    ax.set_xticklabels(names, rotation=45 if len(names) > 4 else 0)
    ax.set_yticklabels(names)
    ax.minorticks_off()
    fig.colorbar(image, ax=ax, label="Fraction of true class")
    label(ax, model.name)
    return save(fig, out, f"confusion_{slug(model.name)}")


def _bounded_rejections(row: dict[str, float], model: Predictions, specs: list[RocSpec]) -> dict[str, Any]:
    """`row` with every infinite Rej@X% replaced by '> N' (N = background jets of that curve)."""
    row = dict(row)
    for spec in specs:
        for key in (f"rej30{spec.suffix}", f"rej50{spec.suffix}"):
            if row.get(key) == float("inf"):
                row[key] = rejection_text(row[key], int(np.sum(~spec.curve(model)[1])))
    return row


def summary(models: list[Predictions], out: Path, discriminants: tuple[Discriminant, ...] = (),
            sculpting: str | None = None) -> dict[str, Any]:
    """Metrics per model with bootstrap AUC errors; every model after the first also gets its AUC difference
    to the first one (delta_auc) with a paired-bootstrap error (the jets are the same in every file). Jets count
    with their `weight` branch when the models carry one (the key `weights` says which); with `sculpting` (a
    branch), also 1/JSD at 50% signal efficiency of the background's distribution of it (`sculpting_metrics`)."""
    make_directory(out)
    table = {}
    reference, _, names = _probabilities(models[0])
    specs = _roc_specs(names, discriminants)
    for m in models:
        scores, truth, _ = _probabilities(m)
        row = classification_summary(scores, truth, names, errors=True, reference=reference,
                                     discriminants=discriminants, weights=m.weights)
        row = _bounded_rejections(row, m, specs)
        row["weights"] = "weight" if m.weights is not None else "none"
        row["ece"] = expected_calibration_error(scores, truth)
        raw = _raw_probabilities(m)
        if raw is not None:
            row["ece_raw"] = expected_calibration_error(raw, truth)
        if sculpting is not None:
            row.update(sculpting_metrics(m, sculpting))
        table[m.name] = row
    atomic_write_text(out / "classification_metrics.json", json.dumps(table, indent=1))
    atomic_write_text(out / "classification_metrics.md", _markdown(table, specs, sculpting))
    return table


def _markdown(table: dict[str, dict[str, Any]], specs: list[RocSpec], sculpting: str | None = None) -> str:
    """The accuracy and the jets' weights, then one table per ROC curve: rows are models; AUC (and, for several
    models, its difference to the first model) with bootstrap errors, Rej@30% and Rej@50%; then the sculpting
    table."""
    def with_error(row: dict[str, Any], key: str) -> str:
        value, error = row.get(key), row.get(key.replace("auc", "auc_err", 1))
        return "-" if value is None else f"{value:.4f} ± {error:.4f}" if error is not None else f"{value:.4f}"

    lines = markdown_table({name: {"accuracy": row["accuracy"], "jet weights": row["weights"],
                                   "ECE": f"{row['ece']:.4f}",
                                   **({"ECE before calibration": f"{row['ece_raw']:.4f}"} if "ece_raw" in row else {})}
                            for name, row in table.items()})
    first = next(iter(table))
    for spec in specs:
        difference = f"AUC - AUC({first})"
        rows = {name: {"AUC": with_error(row, f"auc{spec.suffix}"),
                       **({difference: with_error(row, f"delta_auc{spec.suffix}")} if len(table) > 1 else {}),
                       "Rej@30%": row.get(f"rej30{spec.suffix}", "-"), "Rej@50%": row.get(f"rej50{spec.suffix}", "-")}
                for name, row in table.items()}
        lines += ["", f"**{spec.signal} vs {spec.background}**", "", *markdown_table(rows)]
    if sculpting is not None:
        rows = {name: {"1/JSD @ 50% signal efficiency": f"{row['inv_jsd50']:.4g} ± {row['inv_jsd50_err']:.2g}"}
                for name, row in table.items()}
        lines += ["", f"**background sculpting in {sculpting}** (1/JSD between the background {sculpting} "
                  "distribution passing the cut and the inclusive one; larger is less sculpted)", "",
                  *markdown_table(rows)]
    return "\n".join(lines) + "\n"


def _sculpting_inputs(m: Predictions, variable: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(score of the first class [J], is_signal [J], the variable [J], its bins) for the sculpting figures."""
    if variable not in m.columns:
        raise DataError(f"{m.path}: no branch {variable!r} for --sculpting; add it to data.observers and predict "
                        "again (branches: " + ", ".join(sorted(m.columns)) + ")")
    scores, truth, _ = _probabilities(m)
    values = np.asarray(m.columns[variable], dtype=np.float64)
    return scores[:, 0], truth == 0, values, default_edges(values, truth == 0)


def sculpting_metrics(m: Predictions, variable: str) -> dict[str, float]:
    """inv_jsd50 and its bootstrap error inv_jsd50_err: the first class's score cut at 50% efficiency, the other
    classes as background (`evaluate.sculpting`)."""
    score, signal, values, edges = _sculpting_inputs(m, variable)
    value, error = inverse_jsd(score, signal, values, m.weights, edges)
    return {"inv_jsd50": value, "inv_jsd50_err": error}


def sculpting_figure(m: Predictions, variable: str, out: Path) -> list[Path]:
    """The background's normalised distribution of `variable` after cuts on the first class's score at signal
    efficiencies 100 (no cut), 80, 50 and 30%."""
    score, signal, values, edges = _sculpting_inputs(m, variable)
    _, _, names = _probabilities(m)
    hists = background_histograms(score, signal, values, m.weights, edges)
    fig, ax = plt.subplots()
    for efficiency, hist in hists.items():
        text = "no cut" if efficiency == 1.0 else f"$\\varepsilon_S$ = {efficiency:.0%}"
        if efficiency < 1.0 and hist.sum() > 0:
            text += f", 1/JSD = {1 / max(jensen_shannon(hist, hists[1.0]), 1e-12):.3g}"
        ax.stairs(hist, edges, linewidth=2, label=text)
    ax.set(xlabel=variable, ylabel="Fraction of background jets", xlim=(edges[0], edges[-1]))
    ax.legend(title=f"{m.name}: {' + '.join(names[1:])} passing {names[0]} cuts", fontsize=15, title_fontsize=16)
    label(ax)
    return save(fig, out, f"sculpting_{slug(variable)}_{slug(m.name)}")


def plot_all(models: list[Predictions], out: Path, discriminants: list[str] | None = None,
             sculpting: str | None = None) -> list[Path]:
    """Every tagging figure and the metrics tables; `discriminants` as 'b:uds+g' (see Discriminant.parse);
    `sculpting`: a branch (e.g. mass) whose background distribution is drawn after score cuts."""
    _, _, names = _probabilities(models[0])
    parsed = tuple(Discriminant.parse(text, names) for text in discriminants or ())
    paths = roc(models, out, parsed)
    for m in models:
        paths += score_distributions(m, out)
        paths += reliability(m, out)
        if len(names) > 2:
            paths += confusion(m, out)
        if sculpting is not None:
            paths += sculpting_figure(m, sculpting, out)
    summary(models, out, parsed, sculpting)
    return paths + [out / "classification_metrics.json", out / "classification_metrics.md"]
