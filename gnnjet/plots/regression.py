"""JEC figures: response distributions, median response, resolution with ratio to Standard,
flavour dependence and residual response, plus a summary table; for models with a per-jet resolution also its
coverage, pulls and calibration (`plots.intervals`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gnnjet import columns as column_names
from gnnjet.evaluate import jec
from gnnjet.evaluate.predictions import Predictions, flavour_groups
from gnnjet.fileio import atomic_write_text, make_directory
from gnnjet.plots.intervals import plot_intervals
from gnnjet.plots.style import (
    FLAVOUR_COLOURS,
    MARKERS,
    PT_GEN_LABEL,
    errorbar_binned,
    label,
    log_pt_axis,
    markdown_table,
    save,
    slug,
)
from gnnjet.plots.targets import plot_quantity

RESPONSE_BINS = ((20, 40), (40, 100), (100, 300), (300, 1000))


def _reference(models: list[Predictions]) -> Predictions:
    """The "Standard" model if present (case-insensitive), else the first one."""
    return next((m for m in models if m.name.lower() == "standard"), models[0])


def response_distributions(models: list[Predictions], out: Path, region: str) -> list[Path]:
    fig, axes = plt.subplots(2, 2, figsize=(14, 11), constrained_layout=True)
    for ax, (lo, hi) in zip(axes.flat, RESPONSE_BINS):
        for m in models:
            c = m.columns
            selected = jec.eta_mask(c, region) & (c["pt_gen"] >= lo) & (c["pt_gen"] < hi)
            if selected.sum() < jec.MIN_JETS:
                continue
            ax.hist(jec.corrected_response(c)[selected], bins=np.linspace(0.4, 1.6, 61), histtype="step",
                    density=True, linewidth=2, label=m.name)
        ax.set_title(f"{lo} < " + r"$p_T^{gen}$" + f" < {hi} GeV", fontsize=18)
        ax.set_xlabel(r"Response $p_T^{corr} / p_T^{gen}$", fontsize=18)
        ax.set_ylabel("Density", fontsize=18)
        if ax.has_data():
            ax.legend(fontsize=13)
        else:
            ax.text(0.5, 0.5, f"fewer than {jec.MIN_JETS} jets", ha="center", transform=ax.transAxes)
    fig.suptitle(f"Response distributions, {jec.ETA_LABELS[region]}", fontsize=20)
    return save(fig, out, f"response_distributions_{region}")


def median_response(models: list[Predictions], out: Path, region: str) -> list[Path]:
    fig, ax = plt.subplots()
    for i, m in enumerate(models):
        c = m.columns
        errorbar_binned(ax, jec.binned(jec.corrected_response(c), c["pt_gen"], jec.eta_mask(c, region), "median"),
                  marker=MARKERS[i % len(MARKERS)], label=m.name)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_ylabel("Median response")
    log_pt_axis(ax, PT_GEN_LABEL)
    ax.legend(title=jec.ETA_LABELS[region])
    label(ax)
    return save(fig, out, f"median_response_{region}")


def resolution(models: list[Predictions], out: Path, region: str) -> list[Path]:
    reference = _reference(models)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05},
                                      figsize=(9, 9))
    ref_values = None
    results = []
    for m in models:
        c = m.columns
        results.append(jec.binned(jec.corrected_response(c), c["pt_gen"], jec.eta_mask(c, region), "resolution"))
        if m is reference:
            ref_values = results[-1]
    for i, (m, r) in enumerate(zip(models, results)):
        style = {"marker": MARKERS[i % len(MARKERS)], "label": m.name, "color": f"C{i}"}
        errorbar_binned(top, r, **style)
        ratio = jec.Binned(r.edges, r.values / ref_values.values, r.errors / ref_values.values, r.counts)
        errorbar_binned(bottom, ratio, **{**style, "label": None})
    bottom.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    top.set_ylabel("Resolution IQR / median")
    top.legend(title=jec.ETA_LABELS[region])
    log_pt_axis(top)
    log_pt_axis(bottom, PT_GEN_LABEL)
    bottom.set_ylabel(f"Ratio to\n{reference.name}")
    label(top)
    return save(fig, out, f"resolution_{region}")


def flavour_response(model: Predictions, out: Path, region: str) -> list[Path] | None:
    groups = flavour_groups(model.columns)
    if not groups:
        return None
    fig, ax = plt.subplots()
    medians = jec.flavour_medians(model.columns, groups, jec.eta_mask(model.columns, region), edges=jec.FLAVOUR_EDGES)
    for i, (name, binned) in enumerate(medians.items()):
        errorbar_binned(ax, binned, marker=MARKERS[i], color=FLAVOUR_COLOURS[name], label=name)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_ylabel("Median response")
    log_pt_axis(ax, PT_GEN_LABEL)
    ax.legend(title=f"{model.name}, {jec.ETA_LABELS[region]}")
    label(ax)
    return save(fig, out, f"median_response_flavour_{slug(model.name)}_{region}")


def flavour_dependence(models: list[Predictions], out: Path, region: str) -> list[Path] | None:
    """Median response per flavour (pt_gen > 30 GeV) for each model, with bootstrap errors."""
    if not flavour_groups(models[0].columns):
        return None
    fig, ax = plt.subplots()
    names = list(flavour_groups(models[0].columns))
    x = np.arange(len(names))
    for i, m in enumerate(models):
        c, groups = m.columns, flavour_groups(m.columns)
        response = jec.corrected_response(c)
        base = jec.eta_mask(c, region) & (c["pt_gen"] > 30)
        values = [jec.binned(response, c["pt_gen"], base & groups[f], "median", edges=np.array([30.0, 1e9]))
                  for f in names]
        offset = (i - (len(models) - 1) / 2) * 0.12
        ys = np.array([v.values[0] for v in values])
        errs = np.array([v.errors[0] for v in values])
        ok = np.isfinite(ys)
        ax.errorbar(x[ok] + offset, ys[ok], yerr=errs[ok], marker=MARKERS[i % len(MARKERS)], linestyle="",
                    markersize=9, capsize=3, label=m.name)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xticks(x, names)
    ax.set(xlabel="Jet flavour", ylabel=r"Median response ($p_T^{gen} > 30$ GeV)", xlim=(-0.6, len(names) - 0.4))
    ax.legend(title=jec.ETA_LABELS[region])
    label(ax)
    return save(fig, out, f"flavour_dependence_{region}")


def residual_response(models: list[Predictions], out: Path, region: str) -> list[Path] | None:
    """Difference of median responses between flavours (g - uds, b - uds, c - uds) vs pt_gen."""
    if not flavour_groups(models[0].columns):
        return None
    pairs = (("g", "uds"), ("b", "uds"), ("c", "uds"))
    fig, axes = plt.subplots(1, 3, figsize=(20, 7), sharey=True, constrained_layout=True)
    for ax, (a, b) in zip(axes, pairs):
        for i, m in enumerate(models):
            medians = jec.flavour_medians(m.columns, flavour_groups(m.columns), jec.eta_mask(m.columns, region),
                                          edges=jec.FLAVOUR_EDGES)
            diff = jec.Binned(medians[a].edges, medians[a].values - medians[b].values,
                              np.hypot(medians[a].errors, medians[b].errors), medians[a].counts)
            errorbar_binned(ax, diff, marker=MARKERS[i % len(MARKERS)], label=m.name)
        if not ax.has_data():
            ax.text(0.5, 0.5, f"fewer than {jec.MIN_JETS} {a} jets per bin", ha="center", transform=ax.transAxes)
        ax.axhline(0.0, color="grey", linestyle="--", linewidth=1)
        log_pt_axis(ax, PT_GEN_LABEL)
        ax.set_title(f"{a} - {b}", fontsize=20)
    axes[0].set_ylabel("Residual response")
    axes[0].legend(title=jec.ETA_LABELS[region], fontsize=14)
    return save(fig, out, f"residual_response_{region}")


def summary(models: list[Predictions], out: Path) -> dict[str, Any]:
    """Resolution per pt range, its improvement over the reference, flavour improvement: JSON + markdown."""
    make_directory(out)
    reference = _reference(models)
    region = "central"
    table: dict[str, Any] = {"reference": reference.name, "region": "|eta_gen| < 2.5", "models": {}}
    for m in models:
        c, mask = m.columns, jec.eta_mask(m.columns, region)
        row: dict[str, float] = {}
        for name, pt_range in jec.SUMMARY_RANGES.items():
            value = jec.resolution_in_range(c, mask, pt_range)
            ref = jec.resolution_in_range(reference.columns, jec.eta_mask(reference.columns, region), pt_range)
            row[f"resolution_{name}"] = value
            row[f"resolution_improvement_{name}_%"] = 100 * (1 - value / ref)
        row["median_response_pt>30"] = float(np.median(jec.corrected_response(c)[mask & (c["pt_gen"] > 30)]))
        groups = flavour_groups(c)
        if groups:
            row["flavour_improvement_%"] = jec.flavour_improvement(c, reference.columns, groups, mask)
        table["models"][m.name] = row
    atomic_write_text(out / "jec_summary.json", json.dumps(table, indent=1))
    lines = [f"Resolution IQR/median of pt_corr/pt_gen, |eta_gen| < 2.5; improvements relative to {reference.name}",
             "", *markdown_table(table["models"])]
    atomic_write_text(out / "jec_summary.md", "\n".join(lines) + "\n")
    return table


def plot_all(models: list[Predictions], out: Path) -> list[Path]:
    """Every regression figure and the summary table into `out`: the JEC figures (unless no model corrected pt
    but some corrected another quantity: a mass-only model), those of each other corrected quantity (mass), and
    those of per-jet intervals."""
    quantities = list(dict.fromkeys(q for m in models for q in jec.corrected_quantities(m.columns)))
    paths = [path for quantity in quantities for path in plot_quantity(models, out, quantity)]
    if quantities and not any(column_names.corrected("pt") in m.columns for m in models):
        return paths + plot_intervals(models, out)
    for region in jec.ETA_REGIONS:
        if not any(jec.eta_mask(m.columns, region).sum() >= jec.MIN_JETS for m in models):
            continue
        paths += response_distributions(models, out, region)
        paths += median_response(models, out, region)
        paths += resolution(models, out, region)
        for extra in (flavour_dependence(models, out, region), residual_response(models, out, region),
                      *(flavour_response(m, out, region) for m in models)):
            paths += extra or []
    summary(models, out)
    return paths + [out / "jec_summary.json", out / "jec_summary.md"] + plot_intervals(models, out)
