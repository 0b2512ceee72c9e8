#!/usr/bin/env python
"""Mass decorrelation: what flat (pt, mass) reweighting and DisCo cost in tagging and buy in background sculpting.

Generates (or reuses) a top/QCD training sample and an independent test sample (`--process top`; QCD jet masses
spread from ~20 GeV to the top mass and beyond), trains each family with its configs/top_<family>.yaml (CPU-sized
presets) as it is (nominal), with data.weights.reweight flat in (pt, mass) for both classes, and with
task.decorrelation (DisCo on the QCD jets' mass) at each --strengths value, predicts the same test jets and
reports AUC (bootstrap error), Rej@50% and 1/JSD at 50% top efficiency (the QCD mass distribution passing the cut
against the inclusive one, JSD base 2 in 40 bins between the QCD mass's 0.5% and 99.5% quantiles, bootstrap
error). Draws the QCD mass passing the 50% cut for every variant of each family (docs/figures) and writes the
table into benchmarks/RESULTS.md (decorrelation markers); the last line printed is JSON.

    python benchmarks/decorrelation.py --train-jets 10000 --test-jets 10000 --epochs 6 --strengths 1,3,10
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import uproot

from gnnjet.evaluate.sculpting import background_histograms, default_edges, inverse_jsd
from gnnjet.evaluate.stats import auc, bootstrap_std, rejection_at
from gnnjet.plots.style import label, save, use_style

from efficiency import first_jets  # same folder
from physics import ROOT, command_line, run_family, sample, sample_arguments, training_record, write_results

MARKERS = ("<!-- decorrelation:start -->", "<!-- decorrelation:end -->")
PT_EDGES = [550, 575, 600, 625, 650]
MASS_EDGES = list(range(0, 320, 20))
FLAT = (f"data.weights={{reweight: {{vars: {{pt: {PT_EDGES}, mass: {MASS_EDGES}}}, method: flat, "
        "discard_outside: false}}")


def variants(strengths: list[float]) -> dict[str, list[str]]:
    """Variant name -> the --set assignments that make it from the top config."""
    disco = {f"DisCo {s:g}": [f"task.decorrelation={{expr: mass, method: disco, strength: {s}, classes: "
                              "[label_qcd], score: label_top}"] for s in strengths}
    return {"nominal": [], "flat (pt, mass)": [FLAT], **disco}


def test_jets(run: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P(top), is_top, mass) of the run's predictions of the test jets."""
    columns = uproot.open(run / "pred.root")["Jets"].arrays(["score_label_top", "label_top", "mass"], library="np")
    return columns["score_label_top"], columns["label_top"].astype(bool), columns["mass"].astype(np.float64)


def evaluate(run: Path, edges: np.ndarray) -> dict[str, float]:
    score, is_top, mass = test_jets(run)
    inverse, inverse_err = inverse_jsd(score, is_top, mass, None, edges)
    index = np.arange(len(score))
    return {"auc": auc(score, is_top), "auc_err": bootstrap_std(index, lambda i: auc(score[i], is_top[i])),
            "rej50": rejection_at(score, is_top, 0.5), "inv_jsd50": inverse, "inv_jsd50_err": inverse_err,
            "train_seconds": training_record(run)["seconds"]}


def figure(family: str, runs: dict[str, Path], edges: np.ndarray) -> list[Path]:
    """QCD mass distribution without a cut and passing each variant's 50% top-efficiency cut."""
    fig, ax = plt.subplots()
    for i, (name, run) in enumerate(runs.items()):
        score, is_top, mass = test_jets(run)
        hists = background_histograms(score, is_top, mass, None, edges, (1.0, 0.5))
        if i == 0:
            ax.stairs(hists[1.0], edges, color="black", linewidth=2, linestyle="--", label="QCD, no cut")
        ax.stairs(hists[0.5], edges, color=f"C{i}", linewidth=2, label=f"{name}")
    ax.set(xlabel="Jet mass [GeV]", ylabel="Fraction of QCD jets", xlim=(edges[0], edges[-1]))
    ax.legend(title=f"{family}: QCD passing $\\varepsilon_{{top}}$ = 50%", fontsize=15, title_fontsize=16)
    label(ax)
    return save(fig, ROOT / "docs" / "figures", f"decorrelation_{family}")


def report(rows: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace, generation: dict,
           command: str, minutes: float) -> str:
    lines = [
        "## Mass decorrelation: flat reweighting and DisCo on generated top vs QCD jets (CPU)", "",
        f"Command: `{command}` ({minutes:.0f} min on this machine's 2 CPU cores). Training jets: the first "
        f"{args.train_jets} of a generated top/QCD sample (seed 31; 20% of them for validation), {args.epochs} epochs, "
        f"the configs' presets; test: {generation['test']['jets']} independent jets (seed 32). 1/JSD: the QCD mass "
        "distribution passing the cut at 50% top efficiency against the inclusive one (larger: less sculpted); "
        "errors are bootstrap standard deviations over the test jets.", "",
        "| family | training | AUC | Rej@50% | 1/JSD@50% | train s |", "|---|---|---|---|---|---|"]
    for family, variants_of in rows.items():
        for name, row in variants_of.items():
            lines.append(f"| {family} | {name} | {row['auc']:.4f} ± {row['auc_err']:.4f} | {row['rej50']:.1f} | "
                         f"{row['inv_jsd50']:.3g} ± {row['inv_jsd50_err']:.2g} | {row['train_seconds']:.0f} |")
    lines += ["", "Figures: docs/figures/decorrelation_<family>.png (QCD mass passing the 50% cut per variant)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-jets", type=int, default=10000)
    parser.add_argument("--test-jets", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--strengths", default="1,3,10", help="comma-separated DisCo strengths")
    parser.add_argument("--families", default="particlenet,deepsets")
    sample_arguments(parser, "decorrelation_runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    use_style()
    out, started = Path(args.out), time.perf_counter()
    train_glob, train_generation = sample("top", args.train_jets, 31, out / "samples", args.workers)
    test_glob, test_generation = sample("top", args.test_jets, 32, out / "samples", args.workers)
    train_file = first_jets(train_glob, args.train_jets, out / "samples")
    strengths = [float(s) for s in args.strengths.split(",")]
    test = uproot.concatenate([f"{test_glob}:Jets"], ["label_top", "mass"], library="np")
    edges = default_edges(test["mass"].astype(np.float64), test["label_top"].astype(bool))
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for family in args.families.split(","):
        runs = {}
        for name, settings in variants(strengths).items():
            run_name = f"{family}_{name.split()[0].lower()}{name.split()[-1] if name.startswith('DisCo') else ''}"
            runs[name] = run_family("top", family, str(train_file), test_glob, out, args.epochs, False, run_name,
                                    overwrite=True, settings=settings)
        rows[family] = {name: evaluate(run, edges) for name, run in runs.items()}
        figure(family, runs, edges)
    minutes = (time.perf_counter() - started) / 60
    command = command_line("decorrelation.py")
    text = report(rows, args, {"train": train_generation, "test": test_generation}, command, minutes)
    print(text)
    if not args.no_write:
        write_results(text, MARKERS)
    print(json.dumps({"decorrelation": rows}))


if __name__ == "__main__":
    main()
