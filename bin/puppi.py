#!/usr/bin/env python
"""PUPPI pile-up weights per constituent (Bertolini et al., JHEP 10 (2014) 059; cone 0.4, R_min 0.02), the classical
baseline of per-particle pile-up identification, written as a predictions file (gnnjet/evaluate/puppi.py).

Writes OUT/pred.root, one row per input jet: the weights `ch_puppi`, `ne_puppi` aligned with the input collections,
the jets rebuilt with PUPPI, CHS and no mitigation (`pt_puppi`, `mass_puppi`, `pt_chs`, ..., `pt_none`, ...), and the
truth and observers the sample has (`ch_is_pu`, `ne_is_pu`, `pt_nopu`, `mass_nopu`, `event`, `npv`, ...).

Example:
  bin/generate.py --process qg -n 2000 --pileup 60 -o data/pu60
  bin/puppi.py -i "data/pu60/*.root" -o runs/puppi
"""

import argparse
import sys

from gnnjet.cli import run
from gnnjet.evaluate.puppi import write_puppi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--input", nargs="+", required=True, help="jet ROOT files/globs (with ch_from_pv)")
    parser.add_argument("-o", "--output", required=True, help="output directory (OUT/pred.root)")
    parser.add_argument("--tree", default="Jets")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/pred.root")
    args = parser.parse_args()
    write_puppi(args.input, args.output, args.tree, args.overwrite)


if __name__ == "__main__":
    sys.exit(run(main))
