#!/usr/bin/env python
"""Export a trained run for use elsewhere, from its run directory alone (traced on synthetic jets built from its
config: no training files needed), and check the export against PyTorch on real jets.

Formats:
  onnx    gnnjet's packed-input convention (gnnjet/runs/onnx.py); bin/predict.py --onnx runs it with onnxruntime
  cmssw   CMSSW's (weaver-core's) convention: float inputs per node type <type>_points/_features/_vectors/_mask
          [B, C, P], probabilities (softmax) or the regression quantities out, and weaver's preprocess.json
          beside the file (gnnjet/export/cmssw.py)
  triton  a Triton model repository: OUTPUT/NAME/1/model.onnx and OUTPUT/NAME/config.pbtxt, in CMSSW's
          convention with dynamic batching (--convention packed: gnnjet's, unbatched)
  weaver  a state dict weaver-core's ParticleNet / ParT loads, for the weaver layouts

Examples:
  bin/export.py -m runs/qg_pn -o qg_pn.onnx
  bin/export.py -m runs/qg_pn -o qg_pn.onnx --opset 17 --check -i "data/qg/*.root"
  bin/export.py -m runs/qg_pn -o cmssw/model.onnx --format cmssw --check -i "data/qg/*.root"
  bin/export.py -m runs/qg_pn -o triton_models --format triton --name qg_particlenet
  bin/export.py -m runs/top_weaver -o particlenet.pt --format weaver
"""

import argparse
import sys

from gnnjet.cli import add_trust_code, positive_float, positive_int, run
from gnnjet.errors import GnnjetError


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", required=True, help="run directory written by bin/train.py")
    parser.add_argument("-o", "--output", required=True, help="the exported file")
    parser.add_argument("--format", choices=("onnx", "cmssw", "triton", "weaver"), default="onnx")
    parser.add_argument("--convention", choices=("cmssw", "packed"), default="cmssw",
                        help="with --format triton: the graph's inputs (default cmssw: batch-first, dynamic batching)")
    parser.add_argument("--name", help="with --format triton: the model's name (default: the run directory's)")
    parser.add_argument("--opset", type=positive_int, help="ONNX opset (default 18)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT (never a run file)")
    parser.add_argument("--check", action="store_true", help="with -i: compare onnxruntime and PyTorch on real jets "
                        "and exit 1 if any output differs by more than --tolerance or a tagger's argmax disagrees")
    parser.add_argument("-i", "--input", nargs="+", help="with --check: ROOT or Parquet files/globs")
    parser.add_argument("--tolerance", type=positive_float, default=1e-4, help="with --check (default 1e-4)")
    add_trust_code(parser, "to export")
    args = parser.parse_args()
    if args.check and (args.format not in ("onnx", "cmssw") or not args.input):
        raise GnnjetError("--check compares an ONNX export (--format onnx or cmssw) on the jets of -i FILES: give "
                          "both")
    from gnnjet.export import (
        DEFAULT_OPSET,
        check_cmssw,
        check_export,
        export_cmssw,
        export_onnx,
        export_triton,
        export_weaver,
    )

    if args.format == "weaver":
        export_weaver(args.model, args.output, overwrite=args.overwrite)
        return
    if args.format == "triton":
        model = export_triton(args.model, args.output, name=args.name, convention=args.convention,
                              opset=args.opset or DEFAULT_OPSET, overwrite=args.overwrite, trust_code=args.trust_code)
        print(f"Triton model {model.name}: {model}/config.pbtxt and {model}/1/model.onnx")
        return
    opset = args.opset or DEFAULT_OPSET
    if args.format == "cmssw":
        json_path = export_cmssw(args.model, args.output, opset=opset, overwrite=args.overwrite,
                                 trust_code=args.trust_code)
        print(f"CMSSW convention: {args.output} and {json_path}")
    else:
        export_onnx(args.model, args.output, opset=opset, overwrite=args.overwrite, trust_code=args.trust_code)
    if args.check:
        from gnnjet.data.inputs import expand_files

        check = check_cmssw if args.format == "cmssw" else check_export
        result = check(args.model, args.output, expand_files(args.input), trust_code=args.trust_code)
        print(result.table())
        if not result.passes(args.tolerance):
            raise GnnjetError(f"{args.output} differs from the PyTorch model beyond {args.tolerance:g} (table above)")
        print(f"ok: every output within {args.tolerance:g}")


if __name__ == "__main__":
    sys.exit(run(main))
