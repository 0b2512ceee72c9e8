"""Figures and tables of a predicted per-jet resolution (quantile or Gaussian-NLL regression heads): coverage of the
16-84% interval vs pt_gen, pull distributions, the calibration curve, and `regression_metrics.{md,json}`; for pt and
for every other regressed quantity with an interval (mass: figures named coverage_mass_central, pulls_mass, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gnnjet import columns as column_names
from gnnjet.evaluate import intervals, jec
from gnnjet.evaluate.predictions import Predictions
from gnnjet.fileio import atomic_write_text
from gnnjet.plots.style import (
    MARKERS,
    PT_GEN_LABEL,
    errorbar_binned,
    label,
    log_pt_axis,
    markdown_table,
    save,
    symbol,
)


def plot_intervals(models: list[Predictions], out: Path) -> list[Path]:
    """Every figure and the table for the models whose predictions carry intervals (none: nothing written)."""
    quantities = dict.fromkeys(["pt", *(q for m in models for q in jec.corrected_quantities(m.columns))])
    with_intervals = {q: [m for m in models if intervals.has_intervals(m.columns, q)] for q in quantities}
    with_intervals = {q: chosen for q, chosen in with_intervals.items() if chosen}
    if not with_intervals:
        return []
    paths: list[Path] = []
    for quantity, chosen in with_intervals.items():
        suffix = "" if quantity == "pt" else f"_{quantity}"
        for region in jec.ETA_REGIONS:
            if any(jec.eta_mask(m.columns, region).sum() >= jec.MIN_JETS for m in chosen):
                paths += coverage_figure(chosen, out, region, quantity, f"coverage{suffix}_{region}")
        paths += pull_figure(chosen, out, quantity, f"pulls{suffix}")
        paths += calibration_figure(chosen, out, f"calibration{suffix}", quantity)
    summary(with_intervals, out)
    return paths + [out / "regression_metrics.json", out / "regression_metrics.md"]


def coverage_figure(models: list[Predictions], out: Path, region: str, quantity: str = "pt",
                    name: str | None = None) -> list[Path]:
    fig, ax = plt.subplots()
    for i, m in enumerate(models):
        errorbar_binned(ax, intervals.coverage(m.columns, jec.eta_mask(m.columns, region), quantity=quantity),
                        marker=MARKERS[i % len(MARKERS)], color=f"C{i}", label=m.name)
    ax.axhline(0.68, color="grey", linestyle="--", label="68%")
    ax.set(ylabel=f"Fraction of ${symbol(quantity)}^{{gen}}$ inside the 16-84% interval", ylim=(0, 1))
    log_pt_axis(ax, PT_GEN_LABEL)
    ax.legend(title=jec.ETA_LABELS[region])
    label(ax)
    return save(fig, out, name or f"coverage_{region}")


def pull_figure(models: list[Predictions], out: Path, quantity: str = "pt", name: str = "pulls") -> list[Path]:
    fig, ax = plt.subplots()
    bins = np.linspace(-5, 5, 81)
    for i, m in enumerate(models):
        ax.hist(np.clip(intervals.pulls(m.columns, quantity), -5, 5), bins=bins, density=True, histtype="step",
                linewidth=2, color=f"C{i}", label=m.name)
    x = np.linspace(-5, 5, 400)
    ax.plot(x, np.exp(-x**2 / 2) / np.sqrt(2 * np.pi), color="grey", linestyle="--", label="unit Gaussian")
    x_symbol = symbol(quantity)
    ax.set(xlabel=rf"$({x_symbol}^{{gen}} - {x_symbol}^{{corr}}) / \sigma_{{pred}}$", ylabel="Density")
    ax.legend()
    label(ax)
    return save(fig, out, name)


def calibration_figure(models: list[Predictions], out: Path, name: str = "calibration",
                       quantity: str = "pt") -> list[Path]:
    """Observed against predicted relative resolution (`intervals.calibration`), |eta_gen| < 2.5."""
    fig, ax = plt.subplots()
    largest = 0.0
    for i, m in enumerate(models):
        curve = intervals.calibration(m.columns, jec.eta_mask(m.columns, "central"), quantity=quantity)
        ax.errorbar(curve["predicted"], curve["observed"], yerr=curve["observed_err"], marker=MARKERS[i % len(MARKERS)],
                    markersize=7, capsize=2, color=f"C{i}", label=m.name)
        largest = max(largest, *(float(np.max(curve[key], initial=0)) for key in ("predicted", "observed")))
    ax.plot([0, largest * 1.1], [0, largest * 1.1], color="grey", linestyle="--", label="calibrated")
    x_symbol = symbol(quantity)
    ax.set(xlabel=rf"Predicted resolution $\sigma_{{pred}} / {x_symbol}^{{corr}}$",
           ylabel=rf"Observed resolution of ${x_symbol}^{{gen}} / {x_symbol}^{{corr}}$ (16-84%)",
           xlim=(0, largest * 1.1), ylim=(0, largest * 1.1))
    ax.legend(title=jec.ETA_LABELS["central"])
    label(ax)
    return save(fig, out, name)


def summary(models: dict[str, list[Predictions]], out: Path) -> dict[str, Any]:
    """regression_metrics.json and .md: coverage, pulls and the resolution per tercile of predicted resolution,
    |eta_gen| < 2.5, of the models with intervals of each quantity (`models`: quantity -> models). pt's are under
    "models", another quantity's under "targets" -> its name."""
    tables = {quantity: {m.name: intervals.interval_summary(m.columns, jec.eta_mask(m.columns, "central"), quantity)
                         for m in chosen} for quantity, chosen in models.items()}
    content: dict[str, Any] = {"region": "|eta_gen| < 2.5", "models": tables.get("pt", {})}
    if set(tables) - {"pt"}:
        content["targets"] = {q: table for q, table in tables.items() if q != "pt"}
    atomic_write_text(out / "regression_metrics.json", json.dumps(content, indent=1))
    lines = []
    for quantity, table in tables.items():
        rows = {name: {"coverage of 16-84%": f"{row['coverage']:.3f} ± {row['coverage_err']:.3f}",
                       "pull median": f"{row['pull_median']:.3f}", "pull width (16-84%)": f"{row['pull_width']:.3f}",
                       **{f"resolution, tercile {i + 1}": f"{t['resolution']:.4f} ± {t['resolution_err']:.4f}"
                          for i, t in enumerate(row["terciles"])}}
                for name, row in table.items()}
        corrected, truth = column_names.corrected(quantity), column_names.truth(quantity)
        lines += [f"Per-jet resolution of {quantity}, |eta_gen| < 2.5: coverage of the predicted 16-84% interval of "
                  f"{corrected} (68% when calibrated), pulls ({truth} - {corrected}) / sigma, and the resolution "
                  f"IQR/median of {corrected}/{truth} of the jets in each tercile of predicted resolution (1: best)",
                  "", *markdown_table(rows), ""]
    atomic_write_text(out / "regression_metrics.md", "\n".join(lines))
    return content
