#!/usr/bin/env python
"""Figures of a dataset as gnnjet sees it: pt/eta occupancy, flavours, multiplicities per node type,
one particle cloud, the regression target and every configured feature before/after preprocessing.

Example: bin/visualize_data.py -i "data/jec/*.root" -c configs/jec_particlenet.yaml -o figs/data_jec
"""

import argparse
import logging
import sys

from gnnjet.cli import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--input", nargs="+", required=True, help="ROOT files/globs")
    parser.add_argument("-c", "--config", default="configs/jec_particlenet.yaml",
                        help="config whose data section defines the features (default: %(default)s)")
    parser.add_argument("-o", "--output", required=True, help="figure directory")
    args = parser.parse_args()
    from gnnjet.config import load_config
    from gnnjet.data.dataset import JetDataset
    from gnnjet.data.spec import DataSpec
    from gnnjet.plots.dataset import plot_dataset
    from gnnjet.plots.style import use_style

    config = load_config(args.config)
    use_style()
    dataset = JetDataset.from_files(DataSpec.from_config(config), args.input, cache_root=config["data"]["cache_dir"])
    paths = plot_dataset(dataset, args.output)
    logging.getLogger("gnnjet").info("wrote %d files to %s", len(paths), args.output)


if __name__ == "__main__":
    sys.exit(run(main))
