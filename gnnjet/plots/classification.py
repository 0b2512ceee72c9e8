"""Tagging figures: ROC curves (background rejection vs signal efficiency), score distributions, metrics table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gnnjet.evaluate.predictions import Predictions
from gnnjet.evaluate.stats import classification_summary, roc_curve, signal_classes
from gnnjet.fileio import atomic_write_text
from gnnjet.plots.style import label, markdown_table, save


def _probabilities(m: Predictions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    labels = m.labels
    scores = np.stack([m.columns[f"score_{label}"] for label in labels], axis=1)
    missing = [label for label in labels if label not in m.columns]
    if missing:
        raise ValueError(f"{m.path}: truth branches {missing} missing")
    truth = np.stack([m.columns[label] for label in labels], axis=1).argmax(axis=1)
    return scores, truth, [label.removeprefix("label_") for label in labels]


def roc(models: list[Predictions], out: Path) -> list[Path]:
    paths = []
    _, _, names = _probabilities(models[0])
    for c in signal_classes(names):
        fig, ax = plt.subplots()
        for m in models:
            scores, truth, _ = _probabilities(m)
            fpr, tpr = roc_curve(scores[:, c], truth == c)
            keep = fpr > 0
            ax.plot(tpr[keep], 1 / fpr[keep], linewidth=2, label=m.name)
        ax.plot(np.linspace(0.01, 1, 100), 1 / np.linspace(0.01, 1, 100), color="grey", linestyle=":", label="random")
        background = "rest" if len(names) > 2 else names[1]
        ax.set(yscale="log", xlim=(0, 1), xlabel=f"Signal efficiency ({names[c]})",
               ylabel=f"Background rejection ({background})")
        ax.legend()
        label(ax)
        paths += save(fig, out, f"roc_{names[c]}")
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
    slug = "".join(ch if ch.isalnum() else "_" for ch in model.name)
    return save(fig, out, f"scores_{slug}")


def summary(models: list[Predictions], out: Path) -> dict[str, Any]:
    """Metrics per model with bootstrap AUC errors; every model after the first also gets its AUC difference
    to the first one (delta_auc) with a paired-bootstrap error (the jets are the same in every file)."""
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    reference, _, _ = _probabilities(models[0])
    for m in models:
        scores, truth, names = _probabilities(m)
        table[m.name] = classification_summary(scores, truth, names, errors=True, reference=reference)
    atomic_write_text(out / "classification_metrics.json", json.dumps(table, indent=1))
    atomic_write_text(out / "classification_metrics.md", "\n".join(markdown_table(table)) + "\n")
    return table


def plot_all(models: list[Predictions], out: Path) -> list[Path]:
    paths = roc(models, out)
    for m in models:
        paths += score_distributions(m, out)
    summary(models, out)
    return paths + [out / "classification_metrics.json", out / "classification_metrics.md"]
