#!/usr/bin/env python
"""Import a checkpoint of another toolkit as a gnnjet model directory: the ParT repository's JetClass-pretrained
ParticleNet_*.pt (model particlenet, preset weaver) and ParT_*.pt (model transformer, preset weaver) with
--from weaver; the LorentzNet release's best-val-model.pt (model lorentznet) with --from lorentznet.

Example:
  bin/import_weights.py --from weaver -w ParticleNet_kin.pt -c configs/public/jetclass_kin_particlenet.yaml \\
      -o models/pn_kin
  bin/import_weights.py --from weaver -w ParT_kin.pt -c configs/public/jetclass_kin_transformer.yaml -o models/part_kin
  bin/import_weights.py --from lorentznet -w best-val-model.pt -c configs/public/top_landscape_lorentznet.yaml \
      -o models/lorentznet_top
  bin/predict.py -m models/pn_kin -i "JetClass/test_20M/*.root" -o pn_kin_pred.root
"""

import argparse
import sys

from gnnjet.cli import run
from gnnjet.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", choices=["weaver", "lorentznet"], default="weaver",
                        help="checkpoint format: weaver-core, or the LorentzNet release (sdogsq/LorentzNet-release)")
    parser.add_argument("-w", "--weights", required=True, help="checkpoint file (.pt state dict)")
    parser.add_argument("-c", "--config", required=True, help="gnnjet config with the matching model and inputs")
    parser.add_argument("-o", "--output", required=True, help="model directory to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a run or import already in OUTPUT")
    args = parser.parse_args()
    config = load_config(args.config)
    from gnnjet.training.pretrained import import_checkpoint  # torch only once the arguments are fine

    import_checkpoint(args.weights, config, args.output, overwrite=args.overwrite, kind=args.source)


if __name__ == "__main__":
    sys.exit(run(main))
