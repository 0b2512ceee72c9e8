#!/usr/bin/env python
"""Figures a physicist checks on a generated sample: multiplicity per constituent type and class,
track impact parameters and SV rates by flavour, raw response vs pt_gen for uds/g/c/b jets; for air showers
(--process shower) lateral distributions, muon hits and hits vs energy, and core and angle resolution per class.

Example: bin/sample_checks.py -i data/qg data/flavour data/jec -o figs/samples
"""

import argparse
import logging
import sys
from pathlib import Path

from gnnjet.cli import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--input", nargs="+", required=True, help="sample directories or ROOT files/globs")
    parser.add_argument("-o", "--output", required=True, help="figure directory")
    args = parser.parse_args()
    from gnnjet.plots.sample_checks import sample_checks
    from gnnjet.plots.style import use_style

    use_style()
    written = []
    for entry in args.input:
        written += sample_checks([entry], args.output, Path(entry.rstrip("/")).name.split("*")[0] or "sample")
    logging.getLogger("gnnjet").info("wrote %d files to %s", len(written), args.output)


if __name__ == "__main__":
    sys.exit(run(main))
