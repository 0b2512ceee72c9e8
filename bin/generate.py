#!/usr/bin/env python
"""Generate jet samples (Pythia 8 + FastJet + parametric detector) as ROOT ntuples in the gnnjet schema.

Example: bin/generate.py --process qg -n 2000 -o data/qg --workers 2
"""

import argparse
import logging
import sys

from gnnjet.cli import run
from gnnjet.generate.detector import Detector
from gnnjet.generate.processes import PROCESSES
from gnnjet.generate.runner import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--process", required=True, choices=sorted(PROCESSES), help="sample type")
    parser.add_argument("-n", "--num-jets", type=int, required=True, help="jets to generate (classes get equal shares)")
    parser.add_argument("-o", "--output", required=True, help="output directory for the ROOT shards")
    parser.add_argument("--seed", type=int, default=1, help="base random seed (shards derive their own)")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    parser.add_argument("--shard-size", type=int, default=1000, help="jets per output file")
    parser.add_argument("--detector", help="YAML file overriding detector parameters (see gnnjet/generate/detector.py)")
    parser.add_argument("--pileup", type=float, default=0.0, metavar="MU",
                        help="overlay Poisson(MU) minimum-bias interactions on every event (default 0: none)")
    args = parser.parse_args()
    detector = Detector.from_yaml(args.detector) if args.detector else Detector()
    files = generate(args.process, args.num_jets, args.output, args.seed, args.workers, args.shard_size, detector,
                     pileup=args.pileup)
    logging.getLogger("gnnjet").info("wrote %d file(s) to %s", len(files), args.output)


if __name__ == "__main__":
    sys.exit(run(main))
