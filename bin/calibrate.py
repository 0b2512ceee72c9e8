#!/usr/bin/env python
"""Calibrate a trained run on calibration jets it never trained on, and save the calibration in the run: every later
bin/predict.py and gnnjet.load_run(...).predict applies it.

Taggers: temperature scaling of the logits, or with --method isotonic an isotonic map of each class's probability (the
calibrated scores replace score_<label>, the raw ones stay as score_<label>_raw). Regressions with per-jet intervals
(loss quantile or gaussian_nll): conformal corrections of each bound, per group of jets (--by), so that each bound holds
its level on new jets of the group (the 16-84% interval covers at least 68%); printed per group with the coverage before
and after on the calibration jets.

Examples:
  bin/calibrate.py -m runs/qg_pn -i "data/qg_calibration/*.root"
  bin/calibrate.py -m runs/jec_pn --by pt        (the jets the run kept: trained with data.calibration_fraction)
  bin/calibrate.py -m runs/jec_pn -i "data/jec_calibration/*.root" --by pt:20,40,80,160,1000 --by "abs(eta):0,1.3,2.5,5"
"""

import argparse
import sys

from gnnjet.cli import add_trust_code, positive_int, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", required=True, help="run directory written by bin/train.py")
    parser.add_argument("-i", "--input", nargs="+",
                        help="calibration jets (ROOT or Parquet files/globs) the run never trained on (default: the "
                             "validation jets the run kept out of training, data.calibration_fraction)")
    parser.add_argument("--by", action="append", default=[], metavar="VARIABLE[:EDGES]",
                        help="regression: group the jets by a reco-level observer, e.g. pt:30,60,120,250 or "
                             "abs(eta):0,1.3,2.5 (without edges: 4 equal-population bins); repeat for a product")
    parser.add_argument("--method", choices=("temperature", "isotonic"), default="temperature",
                        help="taggers: temperature scaling (default) or isotonic calibration per class")
    parser.add_argument("--overwrite", action="store_true", help="replace the run's existing calibration")
    parser.add_argument("--batch-size", type=positive_int, default=512)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    add_trust_code(parser, "to calibrate")
    args = parser.parse_args()
    from gnnjet.calibrate import calibrate
    from gnnjet.data.inputs import expand_files

    files = expand_files(args.input) if args.input else None
    record = calibrate(args.model, files, by=args.by, method=args.method, overwrite=args.overwrite,
                       batch_size=args.batch_size, device=args.device, trust_code=args.trust_code)
    if record["kind"] == "temperature":
        print(f"temperature {record['temperature']:.4f} on {record['jets']} jets: NLL {record['nll_before']:.4f} -> "
              f"{record['nll_after']:.4f}, ECE {record['ece_before']:.4f} -> {record['ece_after']:.4f}")
        return
    if record["kind"] == "isotonic":
        print(f"isotonic calibration of {len(record['classes'])} classes on {record['jets']} jets: ECE "
              f"{record['ece_before']:.4f} -> {record['ece_after']:.4f}")
        return
    for target, pairs in record["coverage"].items():
        for pair, entry in pairs.items():
            print(f"{target} {pair} (nominal {entry['nominal']:.3f}): coverage before -> after, per group")
            for group, (jets, before, after) in enumerate(zip(entry["jets"], entry["coverage_before"],
                                                              entry["coverage_after"])):
                print(f"  group {group}: {jets} jets, {before:.3f} -> {after:.3f}")


if __name__ == "__main__":
    sys.exit(run(main))
