#!/usr/bin/env python
"""Apply a trained model to ntuples and write a predictions ROOT file (tree Jets).

Examples:
  bin/predict.py -m runs/qg_pn -i "data/qg/*.root" -o runs/qg_pn/pred.root
  bin/predict.py -m runs/qg_pn -i "data/qg/*.root" -o pred_onnx.root --onnx qg_pn.onnx   (onnxruntime)
  bin/predict.py -m runs/qg_pn_seed1 -m runs/qg_pn_seed2 -i "data/qg/*.root" -o pred_ensemble.root   (an ensemble)
  bin/predict.py -m runs/qg_pn --export-onnx qg_pn.onnx     (as bin/export.py; inputs: gnnjet/runs/onnx.py)
"""

import argparse
import sys

from gnnjet.cli import add_trust_code, positive_int, run
from gnnjet.errors import GnnjetError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", required=True, action="append",
                        help="run directory written by bin/train.py; repeated (-m RUN1 -m RUN2 ...): an ensemble, "
                             "the mean of the runs' predictions with each point estimate's spread (<column>_spread)")
    parser.add_argument("-i", "--input", nargs="+", help="ROOT or Parquet files/globs to predict on")
    parser.add_argument("-o", "--output", help="predictions file: ROOT (.root) or Parquet (.parquet, .pq)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT or export file (never "
                        "an input or a file of the model)")
    selection = parser.add_mutually_exclusive_group()
    selection.add_argument("--selection", metavar="EXPR",
                           help="predict the jets passing EXPR (default: the config's data.test_selection, else "
                                "data.selection)")
    selection.add_argument("--no-selection", action="store_true", help="predict every jet")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the run's config that does not change the model (VALUE as YAML): "
                             "data.test_selection, data.observers, data.tree, data.cache_dir, data.workers, "
                             "data.step_size")
    parser.add_argument("--fold-average", action="store_true",
                        help="k-fold run: the mean of the k models for every jet (jets of other samples) instead of "
                             "the out-of-fold model's outputs")
    parser.add_argument("--batch-size", type=positive_int, default=512)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--onnx", metavar="FILE", help="score with onnxruntime running FILE (exported from this run by "
                        "bin/export.py) instead of PyTorch: the same columns, rows and metadata")
    parser.add_argument("--export-onnx", metavar="FILE", help="export the model to ONNX (dynamic batch and node axes)")
    parser.add_argument("--export-weaver", metavar="FILE",
                        help="write the weights as a weaver-core ParticleNet state dict (particlenet, preset weaver)")
    add_trust_code(parser, "to predict or export")
    args = parser.parse_args()
    if bool(args.input) != bool(args.output) or not (args.input or args.export_onnx or args.export_weaver):
        raise GnnjetError("give -i INPUT and -o OUTPUT, and/or --export-onnx FILE / --export-weaver FILE")
    if len(args.model) > 1 and (args.export_onnx or args.export_weaver or args.onnx):
        raise GnnjetError("--export-onnx, --export-weaver and --onnx take one run: give one -m RUN")
    model = args.model if len(args.model) > 1 else args.model[0]
    from gnnjet.predict import check_outputs

    check_outputs(model, {"predictions file": args.output, "ONNX file": args.export_onnx,
                               "weaver-core state dict": args.export_weaver}, args.input or [], args.overwrite)
    if args.input:
        from gnnjet.predict import predict

        predict(model, args.input, args.output, batch_size=args.batch_size, device=args.device,
                overwrite=args.overwrite, selection=args.selection, no_selection=args.no_selection,
                overrides=args.set, fold_average=args.fold_average, onnx=args.onnx, trust_code=args.trust_code)
    if args.export_onnx:
        from gnnjet.export import export_onnx

        export_onnx(model, args.export_onnx, overwrite=args.overwrite, trust_code=args.trust_code)
    if args.export_weaver:
        from gnnjet.export import export_weaver

        export_weaver(model, args.export_weaver, overwrite=args.overwrite)


if __name__ == "__main__":
    sys.exit(run(main))
