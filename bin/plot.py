#!/usr/bin/env python
"""Compare models on the same figures (PNG and PDF) from their predictions.

Inputs are run directories (their pred.root and metrics.csv are used) or predictions ROOT files;
the task (tagging or JEC) is detected from the branches.

Example: bin/plot.py -i "runs/jec_pn, runs/jec_ds, runs/standard" -n "ParticleNet, DeepSets, Standard" -o figs/jec
Multi-class tagging: bin/plot.py -i runs/flavour_pn -n ParticleNet -o figs/flavour -d b:uds+g -d c:uds+g -d uds:g
Mass sculpting: bin/plot.py -i "runs/top_pn, runs/top_pn_disco" -n "nominal, DisCo" -o figs/top --sculpting mass
Gamma/hadron: bin/plot.py -i "runs/shower_pn, runs/compactness" -n "PN, compactness" -o figs/shower --q-factor nhit
"""

import argparse
import logging
import sys

from gnnjet.cli import run
from gnnjet.plots.compare import plot_models, split_list


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-i", "--inputs", required=True, help='comma-separated run dirs or predictions files')
    parser.add_argument("-n", "--names", help="comma-separated legend names (default: the inputs)")
    parser.add_argument("-o", "--output", required=True, help="figure directory")
    parser.add_argument("-d", "--discriminant", action="append", default=[], metavar="SIG:BKG[+BKG...]",
                        help="tagging: also plot/tabulate score_SIG / (score_SIG + sum score_BKG) on SIG and BKG jets "
                             "only, e.g. b:uds+g (repeatable)")
    parser.add_argument("--weights", action=argparse.BooleanOptionalAction, default=None,
                        help="count jets with the predictions' weight branch (default: when every input has one)")
    parser.add_argument("--sculpting", metavar="BRANCH",
                        help="tagging: the background's distribution of BRANCH (an observer, e.g. mass) after cuts on "
                             "the first class's score at 100/80/50/30%% signal efficiency, and 1/JSD at 50%%")
    parser.add_argument("--q-factor", metavar="BRANCH",
                        help="tagging (gamma/hadron): the Q-factor eps_s / sqrt(eps_b) of the first class at 50%% "
                             "efficiency and at the best cut, per bin of BRANCH (a size proxy: nhit, energy)")
    parser.add_argument("--q-factor-edges", metavar="E0,E1,...",
                        help="bin edges of --q-factor's branch (default: quartiles of the events)")
    args = parser.parse_args()
    inputs = split_list(args.inputs)
    names = split_list(args.names) if args.names else inputs
    edges = None
    if args.q_factor_edges:
        try:
            edges = [float(edge) for edge in split_list(args.q_factor_edges)]
        except ValueError:
            parser.error(f"--q-factor-edges {args.q_factor_edges}: give comma-separated numbers")
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
            parser.error(f"--q-factor-edges {args.q_factor_edges}: give at least two increasing edges")
    paths = plot_models(inputs, names, args.output, args.discriminant, args.weights, args.sculpting, args.q_factor,
                        edges)
    logging.getLogger("gnnjet").info("wrote %d files to %s", len(paths), args.output)


if __name__ == "__main__":
    sys.exit(run(main))
