"""Training curves from the metrics.csv of run directories."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.pyplot as plt

from gnnjet.plots.style import MARKERS, label, save
from gnnjet.runs.layout import METRICS

SECOND_PANEL = ("val_auc", "val_resolution", "val_pt_resolution", "val_accuracy")  # the first all runs have


def read_metrics(path: Path) -> dict[str, list[float]]:
    """Numeric columns of a metrics.csv (text columns such as pretrained_sha256 are left out)."""
    with open(path) as file:
        rows = list(csv.DictReader(file))

    def number(text: str | None) -> float | None:
        try:
            return float(text) if text not in (None, "") else None
        except ValueError:
            return None

    columns = {key: [number(row.get(key)) for row in rows] for key in (rows[0] if rows else {})}
    return {key: [v for v in values if v is not None] for key, values in columns.items()
            if any(v is not None for v in values)}


def training_curves(runs: dict[str, Path], out: Path) -> list[Path]:
    """Loss (train solid, validation dashed) and a validation metric vs epoch, one colour per run."""
    histories = {name: read_metrics(path / METRICS) for name, path in runs.items() if (path / METRICS).exists()}
    histories = {k: v for k, v in histories.items() if v}
    if not histories:
        return []
    metric = next((m for m in SECOND_PANEL if all(m in h for h in histories.values())), None)
    fig, axes = plt.subplots(1, 2 if metric else 1, figsize=(18 if metric else 9, 7.5), squeeze=False)
    for i, (name, history) in enumerate(histories.items()):
        colour, marker = f"C{i}", MARKERS[i % len(MARKERS)]
        axes[0, 0].plot(history["epoch"], history["train_loss"], color=colour, marker=marker, label=f"{name} train")
        axes[0, 0].plot(history["epoch"], history["val_loss"], color=colour, marker=marker, linestyle="--",
                        label=f"{name} validation")
        if metric:
            axes[0, 1].plot(history["epoch"], history[metric], color=colour, marker=marker, label=name)
    axes[0, 0].set(xlabel="Epoch", ylabel="Loss")
    axes[0, 0].legend(fontsize=13)
    label(axes[0, 0])
    if metric:
        axes[0, 1].set(xlabel="Epoch", ylabel=metric.replace("_", " "))
        axes[0, 1].legend(fontsize=13)
    return save(fig, out, "training_curves")
