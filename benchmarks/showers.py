#!/usr/bin/env python
"""Gamma/hadron separation on detector hits: do ParticleNet and the transformer beat the compactness, and where?

Generates (or reuses) gamma and proton shower samples (bin/generate.py --process shower: training seed 21, test
seed 22), trains each family with configs/shower_<family>.yaml (the number of epochs given), predicts the test
events, computes the compactness of the same events (bin/compactness.py), and reports the AUC (with the paired
bootstrap difference to the compactness) and the Q-factor eps_gamma / sqrt(eps_proton) at 50% gamma efficiency and
at the best cut, per quartile of the number of hits, with bootstrap errors. Writes the table into
benchmarks/RESULTS.md (showers markers) and the Q-factor figure to docs/figures/shower_q_factor.png; the last line
printed is JSON.

    python benchmarks/showers.py --events 8000 --test-events 4000 --epochs 6
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from gnnjet.evaluate.compactness import write_compactness
from gnnjet.evaluate.predictions import load_all
from gnnjet.evaluate.qfactor import q_factor, q_factor_bins, size_edges
from gnnjet.evaluate.stats import auc, auc_difference
from gnnjet.plots.qfactor import plot_q_factor
from gnnjet.plots.style import use_style

from physics import ROOT, command_line, run_family, sample, sample_arguments, training_record, write_results

MARKERS = ("<!-- showers:start -->", "<!-- showers:end -->")
BASELINE = "compactness"


def evaluate(models: list, edges: np.ndarray) -> dict[str, dict]:
    """Per model: AUC, its paired difference to the compactness, Q at 50% and best overall, and per nhit bin."""
    baseline = next(m for m in models if m.name == BASELINE)
    base_score = baseline.columns["score_label_gamma"]
    rows = {}
    for m in models:
        score, signal = m.columns["score_label_gamma"], m.columns["label_gamma"] == 1
        difference, error = auc_difference(score, base_score, signal)
        rows[m.name] = {"auc": auc(score, signal), "auc_minus_compactness": difference,
                        "auc_minus_compactness_err": error, "q50": q_factor(score, signal, 0.5),
                        "q_best": q_factor(score, signal),
                        "bins": q_factor_bins(score, signal, m.columns["nhit"], edges)}
    return rows


def report(rows: dict[str, dict], args: argparse.Namespace, command: str, minutes: float, edges: np.ndarray,
           seconds: dict[str, float]) -> str:
    bins = [f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(edges[:-1], edges[1:])]
    lines = [
        "## Gamma/hadron separation on detector hits: networks vs compactness (generated showers, CPU)", "",
        f"Command: `{command}` ({minutes:.0f} min on this machine's 2 CPU cores). Samples: bin/generate.py --process "
        f"shower, {args.events} training events (seed 21; 20% validate) and {args.test_events} test events (seed 22), "
        "half gamma, half proton, 0.3-30 TeV power laws (indices 2.6 / 2.7), zenith < 40 deg, cores up to 50 m "
        f"beyond the 150 m x 150 m pond. Networks: configs/shower_<family>.yaml, {args.epochs} epochs. Compactness: "
        "N_hit / CxPE40 (40 m). Q = eps_gamma / sqrt(eps_proton) at 50% gamma efficiency and at the best cut (at "
        "least 10 proton events kept); errors: 30 bootstrap resamples; AUC differences paired.", "",
        "| model | AUC | AUC - compactness | Q @ 50% | Q best | " + " | ".join(f"Q @ 50%, nhit {b}" for b in bins)
        + " | train s |", "|---" * (6 + len(bins)) + "|"]
    for name, row in rows.items():
        per_bin = " | ".join(f"{b['q_fixed']:.2f} ± {b['q_fixed_err']:.2f}" if "q_fixed" in b else ""
                             for b in row["bins"])
        train = f"{seconds[name]:.0f}" if name in seconds else ""
        lines.append(f"| {name} | {row['auc']:.4f} | {row['auc_minus_compactness']:+.4f} ± "
                     f"{row['auc_minus_compactness_err']:.4f} | {row['q50']:.2f} | {row['q_best']:.2f} | {per_bin} | "
                     f"{train} |")
    best = {name: ", ".join(f"{b['q_best']:.2f}" for b in row["bins"] if "q_best" in b) for name, row in rows.items()}
    lines += ["", "Q best per nhit bin: " + "; ".join(f"{name}: {values}" for name, values in best.items())]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=8000, help="training events (both classes)")
    parser.add_argument("--test-events", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--families", default="particlenet,transformer")
    sample_arguments(parser, "shower_runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out, started = Path(args.out), time.perf_counter()
    train_glob, _ = sample("shower", args.events, 21, out / "samples", args.workers)
    test_glob, _ = sample("shower", args.test_events, 22, out / "samples", args.workers)
    runs = {family: run_family("shower", family, train_glob, test_glob, out, args.epochs, False, overwrite=True)
            for family in args.families.split(",")}
    write_compactness([test_glob], out / BASELINE, overwrite=True)
    models = load_all([str(run) for run in [*runs.values(), out / BASELINE]], [*runs, BASELINE])
    edges = size_edges(models[0].columns["nhit"])
    rows = evaluate(models, edges)
    seconds = {name: training_record(run)["seconds"] for name, run in runs.items()}
    text = report(rows, args, command_line("showers.py"), (time.perf_counter() - started) / 60, edges, seconds)
    print(text)
    if not args.no_write:
        write_results(text, MARKERS)
        use_style()
        figure = plot_q_factor(models, out / "figures", "nhit", edges.tolist())[0]
        shutil.copy(figure, ROOT / "docs" / "figures" / "shower_q_factor.png")
    print(json.dumps({"showers": rows, "nhit_edges": edges.tolist()}))


if __name__ == "__main__":
    main()
