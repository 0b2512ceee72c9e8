#!/usr/bin/env python
"""Fit the standard (binned pt, |eta|) jet energy correction on training jets and apply it.

Writes OUT/standard.json and OUT/pred.root (same format as bin/predict.py), so the standard
correction appears in bin/plot.py as one more model.

Example: bin/standard_correction.py -t "data/jec/*.root" -i "demo/jec_test/*.root" -o runs/standard
"""

import argparse
import sys

from gnnjet.cli import run
from gnnjet.evaluate.apply_standard import fit_and_apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-t", "--train", nargs="+", required=True, help="ROOT files/globs to fit on")
    parser.add_argument("-i", "--input", nargs="+", required=True, help="ROOT files/globs to correct")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.add_argument("--tree", default="Jets")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/standard.json and "
                        "OUT/pred.root (never an input), once the new ones are computed")
    args = parser.parse_args()
    fit_and_apply(args.train, args.input, args.output, args.tree, args.overwrite)


if __name__ == "__main__":
    sys.exit(run(main))
