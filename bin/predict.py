#!/usr/bin/env python
"""Apply a trained model to ntuples and write a predictions ROOT file (tree Jets).

Example: bin/predict.py -m runs/qg_pn -i "data/qg/*.root" -o runs/qg_pn/pred.root
"""

import argparse
import sys

from gnnjet.cli import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", required=True, help="run directory written by bin/train.py")
    parser.add_argument("-i", "--input", nargs="+", required=True, help="ROOT files/globs to predict on")
    parser.add_argument("-o", "--output", required=True, help="predictions ROOT file")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = parser.parse_args()
    from gnnjet.predict import predict

    predict(args.model, args.input, args.output, args.batch_size, args.device)


if __name__ == "__main__":
    sys.exit(run(main))
