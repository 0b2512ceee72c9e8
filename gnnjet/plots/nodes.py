"""Figures and tables of per-particle (node classification) predictions, beside PUPPI's weights: per-particle ROC per
node type, AUC per node type and pt bin, and the jets each method rebuilds against the hard-interaction jet (mass
and pt response, resolution per bin of the hard jet's pt and of the number of interactions)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from gnnjet.evaluate.particles import (
    JET_QUANTITIES,
    REFERENCE,
    ParticleScores,
    align_types,
    common_particles,
    has_reference,
    jet_resolution_table,
    jet_responses,
    node_residuals,
    particle_scores,
    particle_table,
    residual_table,
    resolution_key,
)
from gnnjet.evaluate.predictions import Predictions
from gnnjet.evaluate.stats import roc_curve
from gnnjet.fileio import atomic_write_text
from gnnjet.plots.style import label, markdown_table, save, symbol

log = logging.getLogger(__name__)

PARTICLE_PT_EDGES = [0.0, 1.0, 2.0, 5.0, 10.0, np.inf]  # GeV: the per-particle AUC's pt bins
JET_PT_EDGES = [20.0, 50.0, 100.0, 200.0, 500.0, 5000.0]  # GeV of the hard-interaction jet
NPV_EDGES = [0.0, 40.0, 60.0, 80.0, 120.0, 200.0, 400.0]  # reconstructed vertices, a proxy of the interactions


def plot_all(models: list[Predictions], out: Path) -> list[Path]:
    """Every per-particle figure and table of `models` (node classifications and PUPPI files, on common jets)."""
    methods = align_types([scores for m in models for scores in particle_scores(m)])
    paths = particle_rocs(methods, out)
    table = particle_table(methods, PARTICLE_PT_EDGES)
    atomic_write_text(out / "particle_metrics.json", json.dumps(table, indent=1))
    atomic_write_text(out / "particle_metrics.md", "\n".join(markdown_table(table)) + "\n")
    paths += [out / "particle_metrics.json", out / "particle_metrics.md"]
    with_reference = [m for m in models if has_reference(m)]
    if not with_reference:
        log.info("no pt_nopu / mass_nopu in the predictions: no jet-level figures (predict with them as observers)")
        return paths
    edges = {REFERENCE.format("pt"): JET_PT_EDGES}
    if all("npv" in m.columns for m in with_reference):
        edges["npv"] = NPV_EDGES
    jets = jet_resolution_table(with_reference, edges)
    atomic_write_text(out / "jet_metrics.json", json.dumps(jets, indent=1))
    atomic_write_text(out / "jet_metrics.md", "\n".join(markdown_table(jets)) + "\n")
    paths += [out / "jet_metrics.json", out / "jet_metrics.md"]
    for quantity in JET_QUANTITIES:
        paths += response_histograms(with_reference, jets, quantity, out)
        for variable, bins in edges.items():
            paths += resolution_curves(jets, quantity, variable, bins, out)
    return paths


def plot_regressions(models: list[Predictions], out: Path) -> list[Path]:
    """A node regression's figures and table: the residual pred - target per node type, and its width per node type
    and constituent pt bin (`node_residuals.{md,json}`)."""
    table = residual_table(models, PARTICLE_PT_EDGES)
    atomic_write_text(out / "node_residuals.json", json.dumps(table, indent=1))
    atomic_write_text(out / "node_residuals.md", "\n".join(markdown_table(table)) + "\n")
    paths = [out / "node_residuals.json", out / "node_residuals.md"]
    residuals = {model.name: node_residuals(model) for model in models}
    for node_type in dict.fromkeys(t for per_model in residuals.values() for t in per_model):
        fig, ax = plt.subplots()
        shown = [values[node_type][0] for values in residuals.values() if node_type in values]
        low, high = np.percentile(np.concatenate(shown), [0.5, 99.5])
        bins = np.linspace(low, high if high > low else low + 1, 81)
        for name, values in residuals.items():
            if node_type in values:
                residual = values[node_type][0]
                ax.hist(np.clip(residual, bins[0], bins[-1]), bins=bins, histtype="step", linewidth=2,
                        label=f"{name} (68% half width {table[name][f'width_{node_type}']:.3g})")
        ax.set(xlabel=f"Prediction - target ({node_type} constituents)", ylabel="Constituents", yscale="log")
        ax.legend(fontsize=14, title="outer bins: overflow", title_fontsize=14)
        label(ax)
        paths += save(fig, out, f"node_residual_{node_type}")
    return paths


def particle_rocs(methods: list[ParticleScores], out: Path) -> list[Path]:
    """One ROC per node type: hard-interaction particles kept against pile-up particles rejected, every method on the
    same particles."""
    paths = []
    for node_type in methods[0].score:
        if not all(node_type in m.score for m in methods):
            continue
        keep = common_particles(methods, node_type)
        signal = methods[0].signal[node_type][keep] == 1
        if signal.all() or not signal.any():
            continue
        fig, ax = plt.subplots()
        for method in methods:
            fpr, tpr = roc_curve(method.score[node_type][keep], signal)
            ok = fpr > 0
            ax.plot(tpr[ok], 1 / fpr[ok], linewidth=2, marker="o" if len(fpr) < 5 else None, label=method.method)
        ax.set(yscale="log", xlim=(0, 1), xlabel=f"Hard-interaction {node_type} particles kept",
               ylabel=f"Pile-up {node_type} particles rejected (1 / efficiency)")
        ax.legend(title=f"{keep.sum():,} {node_type} particles")
        label(ax)
        paths += save(fig, out, f"particle_roc_{node_type}")
    return paths


def response_histograms(models: list[Predictions], table: dict[str, dict[str, float]], quantity: str,
                        out: Path) -> list[Path]:
    """The distribution of each method's jet `quantity` over the hard-interaction jet's (`jet_responses`), its
    resolution from `table` (`jet_resolution_table`) in the legend."""
    fig, ax = plt.subplots()
    bins = np.linspace(0.0, 2.5, 101)
    for model in models:
        for method, response in jet_responses(model, quantity)[1].items():
            ax.hist(np.clip(response, bins[0], bins[-1]), bins=bins, histtype="step", linewidth=2,
                    label=f"{method} (IQR/median {table[method][f'{quantity}_resolution']:.3f})")
    s = symbol(quantity)
    ax.set(xlabel=rf"${s}^{{method}} / {s}^{{hard\ interaction}}$", ylabel="Jets")
    ax.legend(fontsize=14, title=f"last bin: above {bins[-1]:g}", title_fontsize=14)
    label(ax)
    return save(fig, out, f"jet_{quantity}_response")


def resolution_curves(table: dict[str, dict[str, float]], quantity: str, variable: str, edges: list[float],
                      out: Path) -> list[Path]:
    """Each method's jet `quantity` resolution (IQR / median of the response) per bin of `variable`, as
    `jet_resolution_table` gives it (its bins of fewer than MIN_JETS jets left out)."""
    fig, ax = plt.subplots()
    bins = list(zip(edges[:-1], edges[1:]))
    centres = [(lo + hi) / 2 for lo, hi in bins]
    for method, row in table.items():
        points = [row.get(resolution_key(quantity, variable, lo, hi), np.nan) for lo, hi in bins]
        ax.plot(centres, points, marker="o", linewidth=2, label=method)
    axis = {REFERENCE.format("pt"): r"$p_T$ of the hard-interaction jet [GeV]",
            "npv": "Interactions in the crossing (npv)"}
    ax.set(xlabel=axis.get(variable, variable), ylabel=rf"${symbol(quantity)}$ resolution (IQR / median)")
    if variable.startswith("pt"):
        ax.set_xscale("log")
    ax.legend()
    label(ax)
    return save(fig, out, f"jet_{quantity}_resolution_vs_{variable}")
