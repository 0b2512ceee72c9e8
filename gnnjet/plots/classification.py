"""Tagging figures: ROC curves (background rejection vs signal efficiency) one vs rest and per discriminant,
score distributions, confusion matrices and the metrics table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, NamedTuple

import matplotlib.pyplot as plt
import numpy as np

from gnnjet.evaluate.predictions import Predictions
from gnnjet.evaluate.stats import (
    Discriminant,
    classification_summary,
    confusion_matrix,
    rejection_text,
    roc_curve,
    signal_classes,
)
from gnnjet.fileio import atomic_write_text
from gnnjet.plots.style import label, markdown_table, save, slug


class RocSpec(NamedTuple):
    """One ROC curve: its figure name, metric-key suffix, class names, and model -> (score [J], is_signal [J])."""

    figure: str
    suffix: str
    signal: str
    background: str
    curve: Callable[[Predictions], tuple[np.ndarray, np.ndarray]]


def _probabilities(m: Predictions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(scores [J, C], true class [J], class names [C]) of one predictions file."""
    labels = m.labels
    missing = [label for label in labels if label not in m.columns]
    if missing:
        raise ValueError(f"{m.path}: truth branches {missing} missing")
    scores = np.stack([m.columns[f"score_{label}"] for label in labels], axis=1)
    truth = np.stack([m.columns[label] for label in labels], axis=1).argmax(axis=1)
    return scores, truth, [label.removeprefix("label_") for label in labels]


def _roc_specs(names: list[str], discriminants: tuple[Discriminant, ...]) -> list[RocSpec]:
    def one_vs_rest(c: int) -> Callable[[Predictions], tuple[np.ndarray, np.ndarray]]:
        def curve(m: Predictions) -> tuple[np.ndarray, np.ndarray]:
            scores, truth, _ = _probabilities(m)
            return scores[:, c], truth == c
        return curve

    def of(discriminant: Discriminant) -> Callable[[Predictions], tuple[np.ndarray, np.ndarray]]:
        def curve(m: Predictions) -> tuple[np.ndarray, np.ndarray]:
            scores, truth, _ = _probabilities(m)
            return discriminant.evaluate(scores, truth, names)
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
            fpr, tpr = roc_curve(*spec.curve(m))
            keep = fpr > 0
            ax.plot(tpr[keep], 1 / fpr[keep], linewidth=2, label=m.name)
        ax.plot(np.linspace(0.01, 1, 100), 1 / np.linspace(0.01, 1, 100), color="grey", linestyle=":", label="random")
        ax.set(yscale="log", xlim=(0, 1), xlabel=f"Signal efficiency ({spec.signal})",
               ylabel=f"Background rejection ({spec.background})")
        ax.legend()
        label(ax)
        paths += save(fig, out, spec.figure)
    return paths


def score_distributions(model: Predictions, out: Path) -> list[Path]:
    scores, truth, names = _probabilities(model)
    classes = signal_classes(names)
    fig, axes = plt.subplots(1, len(classes), figsize=(9 * len(classes), 7.5), squeeze=False)
    for ax, c in zip(axes[0], classes):
        for k, name in enumerate(names):
            ax.hist(scores[truth == k, c], bins=np.linspace(0, 1, 41), histtype="step", density=True, linewidth=2,
                    label=f"true {name}")
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


def summary(models: list[Predictions], out: Path, discriminants: tuple[Discriminant, ...] = ()) -> dict[str, Any]:
    """Metrics per model with bootstrap AUC errors; every model after the first also gets its AUC difference
    to the first one (delta_auc) with a paired-bootstrap error (the jets are the same in every file)."""
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    reference, _, names = _probabilities(models[0])
    specs = _roc_specs(names, discriminants)
    for m in models:
        scores, truth, _ = _probabilities(m)
        row = classification_summary(scores, truth, names, errors=True, reference=reference,
                                     discriminants=discriminants)
        table[m.name] = _bounded_rejections(row, m, specs)
    atomic_write_text(out / "classification_metrics.json", json.dumps(table, indent=1))
    atomic_write_text(out / "classification_metrics.md", _markdown(table, specs))
    return table


def _markdown(table: dict[str, dict[str, Any]], specs: list[RocSpec]) -> str:
    """The accuracy, then one table per ROC curve: rows are models; AUC (and, for several models, its difference
    to the first model) with bootstrap errors, Rej@30% and Rej@50%."""
    def with_error(row: dict[str, Any], key: str) -> str:
        value, error = row.get(key), row.get(key.replace("auc", "auc_err", 1))
        return "-" if value is None else f"{value:.4f} ± {error:.4f}" if error is not None else f"{value:.4f}"

    lines = markdown_table({name: {"accuracy": row["accuracy"]} for name, row in table.items()})
    first = next(iter(table))
    for spec in specs:
        difference = f"AUC - AUC({first})"
        rows = {name: {"AUC": with_error(row, f"auc{spec.suffix}"),
                       **({difference: with_error(row, f"delta_auc{spec.suffix}")} if len(table) > 1 else {}),
                       "Rej@30%": row.get(f"rej30{spec.suffix}", "-"), "Rej@50%": row.get(f"rej50{spec.suffix}", "-")}
                for name, row in table.items()}
        lines += ["", f"**{spec.signal} vs {spec.background}**", "", *markdown_table(rows)]
    return "\n".join(lines) + "\n"


def plot_all(models: list[Predictions], out: Path, discriminants: list[str] | None = None) -> list[Path]:
    """Every tagging figure and the metrics tables; `discriminants` as 'b:uds+g' (see Discriminant.parse)."""
    _, _, names = _probabilities(models[0])
    parsed = tuple(Discriminant.parse(text, names) for text in discriminants or ())
    paths = roc(models, out, parsed)
    for m in models:
        paths += score_distributions(m, out)
        if len(names) > 2:
            paths += confusion(m, out)
    summary(models, out, parsed)
    return paths + [out / "classification_metrics.json", out / "classification_metrics.md"]
