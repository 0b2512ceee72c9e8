"""Figures and tables of the quantities a regression corrected besides pt (the jet mass of a pt + mass model): the
response X_corr / X_gen against the uncorrected X / X_gen, its median and resolution vs pt_gen, and
`<X>_summary.{md,json}` (resolution per pt_gen range, corrected and uncorrected)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gnnjet import columns as column_names
from gnnjet.evaluate import jec
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

UNCORRECTED = "Uncorrected"


def responses(models: list[Predictions], quantity: str) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray]]:
    """Name -> (columns, response [J]): X / X_gen of the jets (the first model's, before any correction), then
    X_corr / X_gen of each model that corrected X."""
    first = models[0].columns
    out = {UNCORRECTED: (first, first[quantity] / first[column_names.truth(quantity)])}
    for m in models:
        if column_names.corrected(quantity) in m.columns:
            out[m.name] = (m.columns, jec.corrected_response(m.columns, quantity))
    return out


def plot_quantity(models: list[Predictions], out: Path, quantity: str) -> list[Path]:
    """Response distribution, median response and resolution vs pt_gen (|eta_gen| < 2.5), and the summary."""
    curves = responses(models, quantity)
    x_symbol = symbol(quantity)
    fig, ax = plt.subplots()
    for i, (name, (columns, response)) in enumerate(curves.items()):
        selected = jec.eta_mask(columns, "central") & (columns["pt_gen"] > 30)
        ax.hist(response[selected], bins=np.linspace(0, 2.5, 101), histtype="step", density=True, linewidth=2,
                color="grey" if name == UNCORRECTED else f"C{i - 1}", label=name)
    ax.axvline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel=rf"Response ${x_symbol}^{{corr}} / {x_symbol}^{{gen}}$", ylabel="Density")
    ax.legend(title=jec.ETA_LABELS["central"] + r", $p_T^{gen} > 30$ GeV")
    label(ax)
    paths = save(fig, out, f"{quantity}_response_distribution")
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, gridspec_kw={"hspace": 0.05}, figsize=(9, 10))
    for i, (name, (columns, response)) in enumerate(curves.items()):
        style = {"marker": MARKERS[i % len(MARKERS)], "label": name,
                 "color": "grey" if name == UNCORRECTED else f"C{i - 1}"}
        mask = jec.eta_mask(columns, "central")
        errorbar_binned(top, jec.binned(response, columns["pt_gen"], mask, "median"), **style)
        errorbar_binned(bottom, jec.binned(response, columns["pt_gen"], mask, "resolution"), **style)
    top.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    top.set_ylabel(rf"Median ${x_symbol}^{{corr}} / {x_symbol}^{{gen}}$")
    bottom.set_ylabel("Resolution IQR / median")
    top.legend(title=jec.ETA_LABELS["central"])
    log_pt_axis(top)
    log_pt_axis(bottom, PT_GEN_LABEL)
    label(top)
    paths += save(fig, out, f"{quantity}_response")
    summary(curves, quantity, out)
    return paths + [out / f"{quantity}_summary.json", out / f"{quantity}_summary.md"]


def summary(curves: dict[str, tuple[dict[str, np.ndarray], np.ndarray]], quantity: str, out: Path) -> dict[str, Any]:
    """Median response (pt_gen > 30 GeV) and resolution per pt_gen range, |eta_gen| < 2.5, with the improvement
    over the uncorrected quantity: <quantity>_summary.json and .md."""
    rows: dict[str, dict[str, float]] = {}
    for name, (columns, response) in curves.items():
        mask = jec.eta_mask(columns, "central")
        row = {"median_response_pt>30": float(np.median(response[mask & (columns["pt_gen"] > 30)]))}
        for key, pt_range in jec.SUMMARY_RANGES.items():
            row[f"resolution_{key}"] = jec.resolution_in_range(columns, mask, pt_range, response)
        rows[name] = row
    raw = rows[UNCORRECTED]
    for row in rows.values():
        for key in jec.SUMMARY_RANGES:
            row[f"resolution_improvement_{key}_%"] = 100 * (1 - row[f"resolution_{key}"] / raw[f"resolution_{key}"])
    table = {"quantity": quantity, "reference": UNCORRECTED, "region": "|eta_gen| < 2.5", "models": rows}
    atomic_write_text(out / f"{quantity}_summary.json", json.dumps(table, indent=1))
    lines = [f"Response {quantity}_corr/{quantity}_gen ({quantity}/{quantity}_gen uncorrected), |eta_gen| < 2.5: "
             "median (pt_gen > 30 GeV) and resolution IQR/median per pt_gen range; improvements relative to the "
             "uncorrected quantity", "", *markdown_table(rows)]
    atomic_write_text(out / f"{quantity}_summary.md", "\n".join(lines) + "\n")
    return table
