"""The reweighting of a run (its weights.json): each class's training histogram before and after, in 2D and in
one-dimensional projections."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gnnjet.data.reweight import Reweighting
from gnnjet.plots.style import label, save, slug
from gnnjet.runs.layout import WEIGHTS


def reweighting_figures(runs: dict[str, Path], out: Path) -> list[Path]:
    """For every run directory holding weights.json: `reweighting_<run>` (one row per class: the 2D histogram
    before and after, for two variables) and `reweighting_projections_<run>` (per variable, each class's
    projection before, dashed, and after, solid)."""
    paths = []
    for name, run in runs.items():
        if (run / WEIGHTS).exists():
            reweighting = Reweighting.load(run / WEIGHTS)
            if len(reweighting.variables) == 2:
                paths += _histograms_2d(reweighting, name, out)
            paths += _projections(reweighting, name, out)
    return paths


def _histograms_2d(reweighting: Reweighting, name: str, out: Path) -> list[Path]:
    (x_edges, y_edges), (x_name, y_name) = reweighting.edges, reweighting.variables
    classes = reweighting.classes
    fig, axes = plt.subplots(len(classes), 2, figsize=(18, 7.5 * len(classes)), squeeze=False)
    for row, cls in zip(axes, classes):
        for ax, (when, hist) in zip(row, (("before", reweighting.before[cls]), ("after", reweighting.after(cls)))):
            mesh = ax.pcolormesh(x_edges, y_edges, hist.T, cmap="viridis", vmin=0)
            fig.colorbar(mesh, ax=ax, label="Weighted jets")
            ax.set(xlabel=x_name, ylabel=y_name)
            ax.text(0.04, 0.95, f"{cls.removeprefix('label_')}, {when} reweighting", transform=ax.transAxes,
                    va="top", fontsize=18, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
            ax.minorticks_off()
    for ax in axes[0]:
        label(ax, name)
    return save(fig, out, f"reweighting_{slug(name)}")


def _projections(reweighting: Reweighting, name: str, out: Path) -> list[Path]:
    variables = reweighting.variables
    fig, axes = plt.subplots(1, len(variables), figsize=(9 * len(variables), 7.5), squeeze=False)
    for axis, (ax, variable, edges) in enumerate(zip(axes[0], variables, reweighting.edges)):
        others = tuple(i for i in range(len(variables)) if i != axis)
        for i, cls in enumerate(reweighting.classes):
            shown = ((reweighting.before[cls], "--", "before"), (reweighting.after(cls), "-", "after"))
            for hist, style, when in shown:
                ax.stairs(np.sum(hist, axis=others), edges, color=f"C{i}", linestyle=style, linewidth=2,
                          label=f"{cls.removeprefix('label_')} {when}")
        ax.set(xlabel=variable, ylabel="Weighted training jets", yscale="log")
        ax.legend(fontsize=13)
    label(axes[0, 0], name)
    return save(fig, out, f"reweighting_projections_{slug(name)}")
