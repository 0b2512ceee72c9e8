#!/usr/bin/env python
"""Convert a public dataset to the gnnjet schema, once (Parquet by default, or ROOT).

Examples:
  bin/convert.py --from energyflow-qg -i QG_jets*.npz -o data/public/qg
  bin/convert.py --from top-landscape -i train.h5 val.h5 test.h5 -o data/public/top
  bin/convert.py --from jetclass -i JetClass/train_100M/*.root -o data/public/jetclass --format root
"""

import argparse
import sys

from gnnjet.cli import positive_int, run


def main() -> None:
    from gnnjet.convert import DATASETS, FORMATS, convert

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="dataset", required=True, choices=sorted(DATASETS), help="input dataset")
    parser.add_argument("-i", "--input", nargs="+", required=True, help="input files")
    parser.add_argument("-o", "--output", required=True,
                        help="output directory (one file per input file, named by its path relative to the inputs' "
                             "common directory)")
    parser.add_argument("--format", default="parquet", choices=sorted(FORMATS), help="output format")
    parser.add_argument("--chunk-size", type=positive_int, default=50_000, help="jets held in memory at once")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace converted files already in OUTPUT (an input file is never replaced)")
    args = parser.parse_args()
    convert(args.dataset, args.input, args.output, args.format, args.chunk_size, overwrite=args.overwrite)


if __name__ == "__main__":
    sys.exit(run(main))
