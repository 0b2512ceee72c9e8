#!/usr/bin/env python
"""Calibrated uncertainties: the coverage of the 16-84% interval per reco-pt bin before and after bin/calibrate.py,
for the quantile and Gaussian-NLL heads of two families on the generated JEC sample, and the expected calibration
error of a top tagger before and after temperature scaling.

Three independent generated samples per process (training, calibration, test; seeds 13 / 15 / 14 for JEC, 21 / 23 /
22 for top): each family trains with its configs/jec_<family>.yaml (task.loss quantile 16/50/84%, or gaussian_nll),
is calibrated on the calibration sample grouped by reco pt (4 equal-population bins of the calibration jets,
`--by pt`), and predicts the test sample before and after. Coverage: the fraction of test jets whose target
log(pt_gen / pt) lies inside the predicted 16-84% interval, per calibration group, with its binomial error.
Writes the tables into benchmarks/RESULTS.md (calibration markers); the last line printed is JSON.

    python benchmarks/calibration.py --train-jets 10000 --calibration-jets 10000 --test-jets 10000 --epochs 2
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from gnnjet import columns as column_names
from gnnjet.calibrate import calibrate
from gnnjet.evaluate.calibration import expected_calibration_error
from gnnjet.evaluate.predictions import load_all
from gnnjet.predict import predict
from gnnjet.runs.calibration import read_calibration

from physics import command_line, run_family, sample, sample_arguments, write_results

MARKERS = ("<!-- calibration:start -->", "<!-- calibration:end -->")
HEADS = {"quantile": ["task.loss=quantile", "task.quantiles=[0.16, 0.5, 0.84]"],
         "gaussian_nll": ["task.loss=gaussian_nll"]}


def coverage_per_group(columns: dict[str, np.ndarray], groups: np.ndarray,
                       count: int) -> list[tuple[float, float, int]]:
    """(coverage, binomial error, jets) of the 16-84% interval in each calibration group, valid jets only."""
    valid = columns["valid"] == 1
    inside = (columns["target"] >= columns["pred_q16"]) & (columns["target"] <= columns["pred_q84"])
    rows = []
    for g in range(count):
        members = valid & (groups == g)
        n = int(members.sum())
        p = float(inside[members].mean()) if n else float("nan")
        rows.append((p, float(np.sqrt(p * (1 - p) / max(n, 1))), n))
    return rows


def jec_rows(run: Path, test_glob: str, calibration_glob: str) -> dict[str, object]:
    """Calibrate the run on the calibration sample by reco pt and predict the test sample again."""
    calibrate(run, [calibration_glob], by=["pt"], overwrite=True, progress=False)
    predict(run, [test_glob], run / "pred_calibrated.root", overwrite=True, progress=False)
    before, after = (load_all([str(run / name)], ["m"])[0].columns for name in ("pred.root", "pred_calibrated.root"))
    calibration = read_calibration(run)
    groups = calibration.groups({"pt": before["pt"]})
    count = len(calibration.binnings[0].edges) - 1
    return {"edges": list(calibration.binnings[0].edges), "before": coverage_per_group(before, groups, count),
            "after": coverage_per_group(after, groups, count)}


def top_row(run: Path, test_glob: str, calibration_glob: str) -> dict[str, float]:
    record = calibrate(run, [calibration_glob], overwrite=True, progress=False)
    predict(run, [test_glob], run / "pred_calibrated.root", overwrite=True, progress=False)
    columns = load_all([str(run / "pred_calibrated.root")], ["m"])[0].columns
    labels = column_names.scored_labels(columns)
    truth = np.stack([columns[label] for label in labels], axis=1).argmax(axis=1)
    scores = np.stack([columns[column_names.score(label)] for label in labels], axis=1)
    raw = np.stack([columns[column_names.raw_score(label)] for label in labels], axis=1)
    return {"temperature": record["temperature"], "ece_before": expected_calibration_error(raw, truth),
            "ece_after": expected_calibration_error(scores, truth), "ece_calibration_before": record["ece_before"],
            "ece_calibration_after": record["ece_after"]}


def report(jec: dict[str, dict[str, object]], top: dict[str, float], args: argparse.Namespace, command: str,
           minutes: float) -> str:
    lines = ["## Calibrated uncertainties: conformal intervals and temperature scaling (CPU)", "",
             f"Command: `{command}` ({minutes:.0f} min on this machine's 2 CPU cores). JEC: training {args.train_jets} "
             f"jets (seed 13, 20% validate), calibration {args.calibration_jets} (seed 15), test {args.test_jets} "
             f"(seed 14), {args.epochs} epochs. Coverage of the 16-84% interval of log(pt_gen / pt) on the test "
             "jets, per reco-pt group of the calibration (4 equal-population bins of the calibration jets), before -> "
             "after `bin/calibrate.py --by pt`, with binomial errors; nominal 0.68.", "",
             "| model | head | " + " | ".join(f"pt group {g + 1}" for g in range(4)) + " |",
             "|---|---|" + "---|" * 4]
    for name, row in jec.items():
        family, head = name.split(" ")
        cells = [f"{b[0]:.3f} -> {a[0]:.3f} ± {a[1]:.3f}" for b, a in zip(row["before"], row["after"])]
        lines.append(f"| {family} | {head} | " + " | ".join(cells) + " |")
    edges = next(iter(jec.values()))["edges"]
    lines += ["", "pt groups (GeV, reco pt; jets beyond the ends join the end bins): "
              + ", ".join(f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(edges[:-1], edges[1:])), "",
              f"Top tagging (configs/top_deepsets.yaml, training {args.train_jets // 2} jets, calibration and test "
              f"{args.test_jets // 2} each): temperature {top['temperature']:.3f}; expected calibration error on the "
              f"test jets {top['ece_before']:.4f} -> {top['ece_after']:.4f} (on the calibration jets "
              f"{top['ece_calibration_before']:.4f} -> {top['ece_calibration_after']:.4f})."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-jets", type=int, default=10000)
    parser.add_argument("--calibration-jets", type=int, default=10000)
    parser.add_argument("--test-jets", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--families", default="deepsets,particlenet")
    sample_arguments(parser, "calibration_runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out, started = Path(args.out), time.perf_counter()
    train_glob, _ = sample("jec", args.train_jets, 13, out / "samples", args.workers)
    calibration_glob, _ = sample("jec", args.calibration_jets, 15, out / "samples", args.workers)
    test_glob, _ = sample("jec", args.test_jets, 14, out / "samples", args.workers)
    jec = {}
    for family in args.families.split(","):
        for head, settings in HEADS.items():
            run = run_family("jec", family, train_glob, test_glob, out, args.epochs, False, f"jec_{family}_{head}",
                             overwrite=True, settings=settings)
            jec[f"{family} {head}"] = jec_rows(run, test_glob, calibration_glob)
    top_train, _ = sample("top", args.train_jets // 2, 21, out / "samples", args.workers)
    top_calibration, _ = sample("top", args.test_jets // 2, 23, out / "samples", args.workers)
    top_test, _ = sample("top", args.test_jets // 2, 22, out / "samples", args.workers)
    tagger = run_family("top", "deepsets", top_train, top_test, out, args.epochs, False, "top_deepsets", overwrite=True)
    top = top_row(tagger, top_test, top_calibration)
    text = report(jec, top, args, command_line("calibration.py"), (time.perf_counter() - started) / 60)
    print(text)
    if not args.no_write:
        write_results(text, MARKERS)
    print(json.dumps({"jec": jec, "top": top}))


if __name__ == "__main__":
    main()
