#!/usr/bin/env python
"""Per-jet resolution: do quantile and Gaussian-NLL heads predict an honest interval of pt_corr, and what does it
cost in point resolution?

Generates (or reuses) the JEC training and test samples of benchmarks/physics.py (seeds 13 and 14), trains each
family with its configs/jec_<family>.yaml as it is (Huber), with task.loss: quantile (16/50/84%) and with
task.loss: gaussian_nll, predicts the same test jets, and reports for |eta_gen| < 2.5: the point resolution
(IQR/median of pt_corr/pt_gen, pt_gen > 30 GeV) next to the Standard correction's, the coverage of the predicted
16-84% interval overall and per pt_gen range (binomial errors), the pull width, and the resolution of the jets
in each tercile of predicted resolution. Then each family with the pt + mass task of configs/jec_mass_particlenet.yaml
(targets log(pt_gen / pt) and log(mass_gen / mass), Huber): the mass resolution (IQR/median of mass_corr/mass_gen)
against the uncorrected mass's, and its pt resolution against the pt-only model's. Draws the calibration curve
(docs/figures/resolution_calibration.png) and writes the tables into benchmarks/RESULTS.md (resolution markers);
the last line printed is JSON.

    python benchmarks/resolution.py --jec-jets 50000 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from gnnjet.config import load_config
from gnnjet.evaluate import intervals, jec
from gnnjet.evaluate.apply_standard import fit_and_apply
from gnnjet.evaluate.predictions import load_all
from gnnjet.evaluate.stats import resolution
from gnnjet.plots.intervals import calibration_figure
from gnnjet.plots.style import use_style

from physics import ROOT, command_line, run_family, sample, sample_arguments, training_record, write_results

MARKERS = ("<!-- resolution:start -->", "<!-- resolution:end -->")
HEADS = {"huber": [], "quantile": ["task.loss=quantile", "task.quantiles=[0.16, 0.5, 0.84]"],
         "gaussian_nll": ["task.loss=gaussian_nll"]}
PT_RANGES = {"30-100": (30.0, 100.0), "100-300": (100.0, 300.0), "300-1000": (300.0, 1000.0)}
MASS_CONFIG = ROOT / "configs" / "jec_mass_particlenet.yaml"


def mass_settings() -> list[str]:
    """--set strings giving a family's JEC config the pt + mass task (and observers) of MASS_CONFIG."""
    config = load_config(MASS_CONFIG)
    return [f"task.targets={json.dumps(config['task']['targets'])}",
            f"task.target_abs_max={json.dumps(config['task']['target_abs_max'])}",
            f"data.observers={json.dumps(config['data']['observers'])}"]


def evaluate_mass(columns: dict[str, np.ndarray]) -> dict[str, float]:
    """Resolution (IQR/median) and median of mass_corr/mass_gen and of the uncorrected mass/mass_gen, and the pt
    resolution, pt_gen > 30 GeV, |eta_gen| < 2.5."""
    central = jec.eta_mask(columns, "central") & (columns["pt_gen"] > 30)
    corrected, raw = jec.corrected_response(columns, "mass")[central], (columns["mass"] / columns["mass_gen"])[central]
    return {"mass_resolution": resolution(corrected), "mass_median": float(np.median(corrected)),
            "raw_mass_resolution": resolution(raw), "raw_mass_median": float(np.median(raw)),
            "resolution": jec.resolution_in_range(columns, central, (30.0, 1e9))}


def evaluate(columns: dict[str, np.ndarray]) -> dict[str, object]:
    """Point resolution (pt_gen > 30 GeV) and, for interval heads, coverage (overall and per range), pulls and
    terciles, |eta_gen| < 2.5."""
    central = jec.eta_mask(columns, "central") & (columns["pt_gen"] > 30)
    row: dict[str, object] = {"resolution": jec.resolution_in_range(columns, central, (30.0, 1e9))}
    if intervals.has_intervals(columns):
        row.update(intervals.interval_summary(columns, central))
        for name, (lo, hi) in PT_RANGES.items():
            binned = intervals.coverage(columns, central, edges=np.array([lo, hi]))
            row[f"coverage_{name}"], row[f"coverage_err_{name}"] = float(binned.values[0]), float(binned.errors[0])
    return row


def report(rows: dict[str, dict[str, object]], mass_rows: dict[str, dict[str, float]], args: argparse.Namespace,
           command: str, minutes: float) -> str:
    lines = [
        "## Per-jet resolution: quantile and Gaussian-NLL heads on the generated JEC sample (CPU)", "",
        f"Command: `{command}` ({minutes:.0f} min on this machine's 2 CPU cores). Training: physics.py's JEC "
        f"sample of {args.jec_jets} jets (seed 13; 20% of them validate), {args.epochs} epochs, the configs' presets; "
        "test: its independent sample (seed 14). |eta_gen| < 2.5 and pt_gen > 30 GeV. Point resolution: "
        "IQR/median of pt_corr/pt_gen (the median for quantile heads, the mean for Gaussian-NLL). Coverage: fraction "
        "of jets with pt_gen inside the predicted 16-84% interval (68% when calibrated; binomial errors). Pull width: "
        "half the 16-84% range of (pt_gen - pt_corr) / sigma (1 when calibrated). Terciles: resolution of the jets "
        "in each third of predicted resolution (best first).", "",
        "| model | head | resolution | coverage | coverage 30-100 / 100-300 / 300-1000 GeV | pull width | "
        "resolution per tercile | train s |", "|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        family, _, head = name.partition(" ")
        if "coverage" not in row:
            seconds = f"{row['seconds']:.0f}" if "seconds" in row else ""
            lines.append(f"| {family} | {head} | {row['resolution']:.4f} | | | | | {seconds} |")
            continue
        ranges = " / ".join(f"{row[f'coverage_{r}']:.3f}" for r in PT_RANGES)
        terciles = " / ".join(f"{t['resolution']:.3f}" for t in row["terciles"])  # type: ignore[union-attr]
        lines.append(f"| {family} | {head} | {row['resolution']:.4f} | {row['coverage']:.3f} ± "
                     f"{row['coverage_err']:.3f} | {ranges} | {row['pull_width']:.3f} | {terciles} | "
                     f"{row['seconds']:.0f} |")
    lines += ["", "Figure: docs/figures/resolution_calibration.png (observed vs predicted resolution).", "",
              "Jet mass regressed together with pt (the task of configs/jec_mass_particlenet.yaml: targets "
              "log(pt_gen / pt) and log(mass_gen / mass), Huber, one output each), same training and test jets: "
              "resolution IQR/median and median of mass_corr/mass_gen against the uncorrected mass/mass_gen, and the "
              "pt resolution against the same family's pt-only Huber model above.", "",
              "| model | mass resolution | uncorrected | mass median response | uncorrected | pt resolution "
              "(pt-only) | train s |", "|---|---|---|---|---|---|---|"]
    for name, row in mass_rows.items():
        family = name.partition(" ")[0]
        lines.append(f"| {name} | {row['mass_resolution']:.4f} | {row['raw_mass_resolution']:.4f} | "
                     f"{row['mass_median']:.3f} | {row['raw_mass_median']:.3f} | {row['resolution']:.4f} "
                     f"({rows[f'{family} huber']['resolution']:.4f}) | {row['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jec-jets", type=int, default=50000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--families", default="deepsets,particlenet")
    sample_arguments(parser, "physics_runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    use_style()
    out, started = Path(args.out), time.perf_counter()
    train_glob, _ = sample("jec", args.jec_jets, 13, out / "samples", args.workers)
    test_glob, _ = sample("jec", max(200, args.jec_jets // 4), 14, out / "samples", args.workers)
    fit_and_apply([train_glob], [test_glob], out / "jec_standard", overwrite=True)
    runs = {"Standard correction": out / "jec_standard"}
    for family in args.families.split(","):
        for head, settings in HEADS.items():
            runs[f"{family} {head}"] = run_family("jec", family, train_glob, test_glob, out, args.epochs, False,
                                                  f"jec_{family}_{head}", overwrite=True, settings=settings)
    mass_runs = {f"{family} pt+mass": run_family("jec", family, train_glob, test_glob, out, args.epochs, False,
                                                 f"jec_{family}_pt_mass", overwrite=True, settings=mass_settings())
                 for family in args.families.split(",")}
    mass_rows = {}
    for name, run in mass_runs.items():
        mass_rows[name] = evaluate_mass(load_all([str(run)], [name])[0].columns)
        mass_rows[name]["seconds"] = training_record(run)["seconds"]
    models = load_all([str(run) for run in runs.values()], list(runs))
    rows = {}
    for m in models:
        rows[m.name] = evaluate(m.columns)
        if m.name in runs and (runs[m.name] / "metrics.csv").exists():
            rows[m.name]["seconds"] = training_record(runs[m.name])["seconds"]
    if not args.no_write:
        calibration_figure([m for m in models if intervals.has_intervals(m.columns)], ROOT / "docs" / "figures",
                           "resolution_calibration")
    minutes = (time.perf_counter() - started) / 60
    text = report(rows, mass_rows, args, command_line("resolution.py"), minutes)
    print(text)
    if not args.no_write:
        write_results(text, MARKERS)
    print(json.dumps({"resolution": rows, "mass": mass_rows}))


if __name__ == "__main__":
    main()
