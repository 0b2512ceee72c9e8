#!/usr/bin/env python
"""The compactness C = N_hit / CxPE40 of air-shower events (the classical gamma/hadron discriminant of
water-Cherenkov arrays), written as a predictions file so that bin/plot.py compares it with the networks.

Writes OUT/pred.root with score_label_gamma = C / (1 + C), the labels, `compactness` and the event observers.

Example: bin/compactness.py -i "data/shower/*.root" -o runs/compactness
"""

import argparse
import sys

from gnnjet.cli import positive_float, run
from gnnjet.evaluate.compactness import write_compactness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--input", nargs="+", required=True, help="shower ROOT files/globs")
    parser.add_argument("-o", "--output", required=True, help="output directory (OUT/pred.root)")
    parser.add_argument("--radius", type=positive_float, default=40.0,
                        help="CxPE40's radius around the core, m (default 40)")
    parser.add_argument("--tree", default="Jets")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/pred.root")
    args = parser.parse_args()
    write_compactness(args.input, args.output, args.radius, args.tree, args.overwrite)


if __name__ == "__main__":
    sys.exit(run(main))
