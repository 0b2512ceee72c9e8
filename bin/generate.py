#!/usr/bin/env python
"""Generate jet samples (Pythia 8 + FastJet + parametric detector) as ROOT ntuples in the gnnjet schema, or gamma and
proton air showers in a water-Cherenkov pond (--process shower; gnnjet/generate/showers.py).

Example: bin/generate.py --process qg -n 2000 -o data/qg --workers 2
         bin/generate.py --process shower -n 4000 -o data/shower
"""

import argparse
import logging
import sys

from gnnjet.cli import non_negative_float, non_negative_int, positive_int, run
from gnnjet.generate.detector import Detector
from gnnjet.generate.runner import PROCESS_NAMES, SHOWER, generate
from gnnjet.generate.showers import ShowerSetup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--process", required=True, choices=sorted(PROCESS_NAMES), help="sample type")
    parser.add_argument("-n", "--num-jets", type=positive_int, required=True,
                        help="jets (showers: events) to generate (classes get equal shares)")
    parser.add_argument("-o", "--output", required=True, help="output directory for the ROOT shards")
    parser.add_argument("--seed", type=non_negative_int, default=1, help="base random seed (shards derive their own)")
    parser.add_argument("--workers", type=positive_int, default=1, help="parallel worker processes")
    parser.add_argument("--shard-size", type=positive_int, default=1000, help="jets per output file")
    parser.add_argument("--detector", help="YAML file overriding detector parameters (gnnjet/generate/detector.py; for "
                        "showers gnnjet/generate/showers.py: primaries, atmosphere, pond)")
    parser.add_argument("--pileup", type=non_negative_float, default=0.0, metavar="MU",
                        help="overlay Poisson(MU) minimum-bias interactions on every event (default 0: none)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the files of an earlier sample in OUTPUT (shards of this process and seed, "
                             "detector.yaml, the generation record) once the new sample is complete")
    args = parser.parse_args()
    if args.process == SHOWER:
        detector = ShowerSetup.from_yaml(args.detector) if args.detector else ShowerSetup()
    else:
        detector = Detector.from_yaml(args.detector) if args.detector else Detector()
    files = generate(args.process, args.num_jets, args.output, seed=args.seed, workers=args.workers,
                     shard_size=args.shard_size, detector=detector,
                     pileup=args.pileup, overwrite=args.overwrite, inputs=[args.detector] if args.detector else [])
    logging.getLogger("gnnjet").info("wrote %d file(s) to %s", len(files), args.output)


if __name__ == "__main__":
    sys.exit(run(main))
