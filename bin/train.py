#!/usr/bin/env python
"""Train a gnnjet model from a YAML config.

Examples:
  bin/train.py -c configs/qg_particlenet.yaml -o runs/qg_pn
  bin/train.py -c configs/jec_deepsets.yaml -i "data/jec/*.root" -o runs/jec_ds --epochs 5
  bin/train.py -c configs/qg_transformer.yaml -o runs/qg_part --set training.lr=3e-4 --set model.heads=8
  bin/train.py -c configs/qg_particlenet.yaml -o runs/qg_pn --gpus 0 1     # DDP, one process per GPU
  bin/train.py -o runs/qg_pn --resume                                        # continue a killed run
  bin/train.py -c configs/public/top_landscape_particlenet_finetune.yaml --pretrained ParticleNet_kin.pt -o runs/top_ft
  bin/train.py --data-config data/top_kin.yaml --network-config networks/example_ParticleNet.py \
               -i "train/*.root" --val "val/*.root" -o runs/top_weaver          # weaver-core's files, unchanged
"""

import argparse
import sys

from gnnjet.api import train
from gnnjet.cli import add_trust_code, non_negative_int, positive_int, run
from gnnjet.config import RESUMABLE_KEYS
from gnnjet.weaver_config import network_options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", help="YAML config (not needed with --resume)")
    parser.add_argument("-i", "--input", nargs="+", help="training ROOT files/globs (overrides data.train; a "
                        "data.val of the config is kept if its files exist, else data.val_fraction is used)")
    parser.add_argument("--val", nargs="+", help="validation files/globs (overrides data.val)")
    parser.add_argument("--test", nargs="+", help="test files/globs (overrides data.test): predicted with best.pt "
                        "into OUTPUT/test_predictions.root, metrics in OUTPUT/test_metrics.{json,md}")
    parser.add_argument("--no-test", action="store_true", help="skip the test-set evaluation of data.test")
    parser.add_argument("-o", "--output", help="run directory (overrides training.output_dir)")
    parser.add_argument("--gpus", type=non_negative_int, nargs="+",
                        help="GPU indices; several start one DDP process each")
    parser.add_argument("--epochs", type=int, help="override training.epochs")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT/last.pt with the run's own config (with -c or --set, only "
                             f"{', '.join(RESUMABLE_KEYS)} may differ)")
    parser.add_argument("--overwrite", action="store_true", help="replace a run already in OUTPUT")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key, VALUE as YAML (repeatable): --set training.lr=3e-4 "
                             "--set data.node_types.charged.max_nodes=64; recorded in the run's config.yaml")
    parser.add_argument("--kfold", type=positive_int, metavar="K",
                        help="k-fold: K runs in OUTPUT/fold_0..fold_{K-1}, run i trained on the jets whose "
                             "--fold-expr is not i (sets training.kfold)")
    parser.add_argument("--fold-expr", metavar="EXPR", help="with --kfold: each jet's fold, an integer in [0, K) "
                        "(e.g. \"event %% 5\")")
    parser.add_argument("--pretrained", metavar="CKPT_OR_MODEL_DIR",
                        help="fine-tune: start from a weaver-core checkpoint or a gnnjet model directory "
                             "(overrides training.pretrained)")
    weaver = parser.add_argument_group("weaver-core's files (README: Coming from weaver-core)")
    weaver.add_argument("--data-config", metavar="DATA.yaml", help="weaver-core data config: sets the inputs, "
                        "variables, selection, labels, observers and weights (-c then holds training options)")
    weaver.add_argument("--network-config", metavar="NET.py", help="weaver-core network file: get_model(data_config, "
                        "**options) -> (model, model_info), and get_loss(data_config, **options) if it has one")
    weaver.add_argument("--network-option", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        help="keyword argument of get_model/get_loss, VALUE a Python literal (repeatable)")
    weaver.add_argument("--regression-mode", action="store_true", help="custom labels are regression targets")
    add_trust_code(parser, "with --resume")
    args = parser.parse_args()
    train(args.config, output=args.output, inputs=args.input, val=args.val, test=args.test, overrides=args.set,
          epochs=args.epochs, gpus=args.gpus, resume=args.resume, overwrite=args.overwrite, kfold=args.kfold,
          fold_expr=args.fold_expr, pretrained=args.pretrained, run_test=not args.no_test, trust_code=args.trust_code,
          data_config=args.data_config, network_config=args.network_config,
          network_options=network_options(args.network_option), regression_mode=args.regression_mode)


if __name__ == "__main__":
    sys.exit(run(main))
