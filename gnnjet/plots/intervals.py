"""Figures and tables of a predicted per-jet resolution (quantile or Gaussian-NLL regression heads): coverage of the
16-84% interval vs pt_gen, pull distributions, the calibration curve, and `regression_metrics.{md,json}`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gnnjet.evaluate import intervals, jec
from gnnjet.evaluate.predictions import Predictions
from gnnjet.fileio import atomic_write_text
from gnnjet.plots.style import MARKERS, errorbar_binned, label, log_pt_axis, markdown_table, save

PT_LABEL = r"$p_T^{gen}$ [GeV]"


def plot_intervals(models: list[Predictions], out: Path) -> list[Path]:
    """Every figure and the table for the models whose predictions carry intervals (none: nothing written)."""
    models = [m for m in models if intervals.has_intervals(m.columns)]
    if not models:
        return []
    paths: list[Path] = []
    for region in jec.ETA_REGIONS:
        if any(jec.eta_mask(m.columns, region).sum() >= jec.MIN_JETS for m in models):
            paths += coverage_figure(models, out, region)
    paths += pull_figure(models, out) + calibration_figure(models, out)
    summary(models, out)
    return paths + [out / "regression_metrics.json", out / "regression_metrics.md"]


def coverage_figure(models: list[Predictions], out: Path, region: str) -> list[Path]:
    fig, ax = plt.subplots()
    for i, m in enumerate(models):
        errorbar_binned(ax, intervals.coverage(m.columns, jec.eta_mask(m.columns, region)),
                        marker=MARKERS[i % len(MARKERS)], color=f"C{i}", label=m.name)
    ax.axhline(0.68, color="grey", linestyle="--", label="68%")
    ax.set(ylabel="Fraction of jets inside the 16-84% interval", ylim=(0, 1))
    log_pt_axis(ax, PT_LABEL)
    ax.legend(title=jec.ETA_LABELS[region])
    label(ax)
    return save(fig, out, f"coverage_{region}")


def pull_figure(models: list[Predictions], out: Path) -> list[Path]:
    fig, ax = plt.subplots()
    bins = np.linspace(-5, 5, 81)
    for i, m in enumerate(models):
        ax.hist(np.clip(intervals.pulls(m.columns), -5, 5), bins=bins, density=True, histtype="step", linewidth=2,
                color=f"C{i}", label=m.name)
    x = np.linspace(-5, 5, 400)
    ax.plot(x, np.exp(-x**2 / 2) / np.sqrt(2 * np.pi), color="grey", linestyle="--", label="unit Gaussian")
    ax.set(xlabel=r"$(p_T^{gen} - p_T^{corr}) / \sigma_{pred}$", ylabel="Density")
    ax.legend()
    label(ax)
    return save(fig, out, "pulls")


def calibration_figure(models: list[Predictions], out: Path, name: str = "calibration") -> list[Path]:
    """Observed against predicted relative resolution (`intervals.calibration`), |eta_gen| < 2.5."""
    fig, ax = plt.subplots()
    largest = 0.0
    for i, m in enumerate(models):
        curve = intervals.calibration(m.columns, jec.eta_mask(m.columns, "central"))
        ax.errorbar(curve["predicted"], curve["observed"], yerr=curve["observed_err"], marker=MARKERS[i % len(MARKERS)],
                    markersize=7, capsize=2, color=f"C{i}", label=m.name)
        largest = max(largest, *(float(np.max(curve[key], initial=0)) for key in ("predicted", "observed")))
    ax.plot([0, largest * 1.1], [0, largest * 1.1], color="grey", linestyle="--", label="calibrated")
    ax.set(xlabel=r"Predicted resolution $\sigma_{pred} / p_T^{corr}$",
           ylabel=r"Observed resolution of $p_T^{gen} / p_T^{corr}$ (16-84%)", xlim=(0, largest * 1.1),
           ylim=(0, largest * 1.1))
    ax.legend(title=jec.ETA_LABELS["central"])
    label(ax)
    return save(fig, out, name)


def summary(models: list[Predictions], out: Path) -> dict[str, Any]:
    """regression_metrics.json and .md: coverage, pulls and the resolution per tercile of predicted resolution,
    |eta_gen| < 2.5."""
    table = {m.name: intervals.interval_summary(m.columns, jec.eta_mask(m.columns, "central")) for m in models}
    atomic_write_text(out / "regression_metrics.json", json.dumps({"region": "|eta_gen| < 2.5", "models": table},
                                                                  indent=1))
    rows = {name: {"coverage of 16-84%": f"{row['coverage']:.3f} ± {row['coverage_err']:.3f}",
                   "pull median": f"{row['pull_median']:.3f}", "pull width (16-84%)": f"{row['pull_width']:.3f}",
                   **{f"resolution, tercile {i + 1}": f"{t['resolution']:.4f} ± {t['resolution_err']:.4f}"
                      for i, t in enumerate(row["terciles"])}}
            for name, row in table.items()}
    lines = ["Per-jet resolution, |eta_gen| < 2.5: coverage of the predicted 16-84% interval of pt_corr (68% when "
             "calibrated), pulls (pt_gen - pt_corr) / sigma, and the resolution IQR/median of pt_corr/pt_gen of the "
             "jets in each tercile of predicted resolution (1: best)", "", *markdown_table(rows)]
    atomic_write_text(out / "regression_metrics.md", "\n".join(lines) + "\n")
    return table
