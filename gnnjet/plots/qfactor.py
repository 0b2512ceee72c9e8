"""The Q-factor figure and table of gamma/hadron separation (bin/plot.py --q-factor BRANCH): Q = eps_gamma /
sqrt(eps_hadron) at 50% signal efficiency and at the best cut, with the AUC, per bin of a size proxy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from gnnjet import columns as column_names
from gnnjet.errors import DataError
from gnnjet.evaluate.predictions import Predictions
from gnnjet.evaluate.qfactor import q_factor_bins, size_edges
from gnnjet.fileio import atomic_write_text, make_directory
from gnnjet.plots.style import MARKERS, label, markdown_table, save

EFFICIENCY = 0.5


def signal_of(m: Predictions) -> tuple[np.ndarray, np.ndarray, str]:
    """(score [E], is_signal [E], class name) of the first class against the others."""
    first = m.labels[0]
    if first not in m.columns:
        raise DataError(f"{m.path}: truth branch {first} missing")
    return m.columns[column_names.score(first)], m.columns[first] == 1, first.removeprefix("label_")


def plot_q_factor(models: list[Predictions], out: Path, proxy: str, edges: list[float] | None = None) -> list[Path]:
    """q_factor.{png,pdf} and q_factor.{md,json}: per model and bin of the `proxy` branch (equal-count quartiles
    unless `edges`), the AUC and the Q-factor at 50% efficiency and at the best cut of the first class's score."""
    for m in models:
        if proxy not in m.columns:
            raise DataError(f"--q-factor {proxy}: {m.path} has no {proxy!r} branch; add it to the run's "
                            "data.observers (e.g. nhit or energy)")
    make_directory(out)
    bins = np.asarray(edges, float) if edges else size_edges(models[0].columns[proxy])
    table: dict[str, Any] = {"proxy": proxy, "edges": bins.tolist(), "efficiency": EFFICIENCY, "models": {}}
    for m in models:
        score, is_signal, signal = signal_of(m)
        table["signal"] = signal
        table["models"][m.name] = q_factor_bins(score, is_signal, m.columns[proxy], bins, m.weights, EFFICIENCY)
    _write_table(table, out)
    fig, (fixed, best) = plt.subplots(1, 2, figsize=(18, 7.5))
    logarithmic = bins[0] > 0 and bins[-1] / bins[0] > 10  # sizes spanning decades: a log axis, geometric centres
    centres = np.sqrt(bins[:-1] * bins[1:]) if logarithmic else (bins[:-1] + bins[1:]) / 2
    for i, (name, rows) in enumerate(table["models"].items()):
        style = {"marker": MARKERS[i % len(MARKERS)], "color": f"C{i}", "label": name, "capsize": 3}
        for ax, key in ((fixed, "q_fixed"), (best, "q_best")):
            values = np.array([row.get(key, np.nan) for row in rows], float)
            errors = np.array([row.get(f"{key}_err", np.nan) for row in rows], float)
            shown = np.isfinite(values)
            ax.errorbar(centres[shown], values[shown], yerr=errors[shown],
                        xerr=np.stack([centres - bins[:-1], bins[1:] - centres])[:, shown], linestyle="", **style)
    for ax, title in ((fixed, f"at {EFFICIENCY:.0%} {table['signal']} efficiency"), (best, "at the best cut")):
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set(xlabel=proxy, ylabel=r"Q-factor $\epsilon_s / \epsilon_b^{1/2}$",
               xscale="log" if logarithmic else "linear")
        ax.legend(title=title)
        label(ax)
    return save(fig, out, "q_factor") + [out / "q_factor.json", out / "q_factor.md"]


def _write_table(table: dict[str, Any], out: Path) -> None:
    atomic_write_text(out / "q_factor.json", json.dumps(table, indent=1))
    rows = {}
    for name, bins in table["models"].items():
        for row in bins:
            key = f"{name}, {table['proxy']} {row['low']:.4g}-{row['high']:.4g}"
            if "auc" not in row:
                rows[key] = {"events (s / b)": f"{row['signal']} / {row['background']}"}
                continue
            rows[key] = {"events (s / b)": f"{row['signal']} / {row['background']}", "AUC": f"{row['auc']:.4f}",
                         f"Q @ {table['efficiency']:.0%}": f"{row['q_fixed']:.2f} ± {row['q_fixed_err']:.2f}",
                         "Q best": f"{row['q_best']:.2f} ± {row['q_best_err']:.2f}",
                         "best cut efficiency": f"{row['best_efficiency']:.2f}"}
    lines = [f"Q-factor eps_s / sqrt(eps_b) of the {table['signal']} score per bin of {table['proxy']} (bootstrap "
             "errors; the best cut keeps at least 10 background events)", "", *markdown_table(rows)]
    atomic_write_text(out / "q_factor.md", "\n".join(lines) + "\n")
