#!/usr/bin/env python
"""Score jets held in memory with a trained run and draw their ROC curve: what a notebook or a coffea processor
does with gnnjet's Python API, without writing a predictions file.

    python docs/examples/score_awkward.py --run runs/qg_pn --input "data/qg/*.root" --output roc.png

The jets are read with uproot into an awkward Array (a coffea processor already holds one), scored with
``gnnjet.load_run(RUN).predict(jets)``, and the ROC curve of the first class against the others is drawn with
matplotlib in the HEP style of gnnjet's figures. The last line printed is the AUC.
"""

import argparse
import glob
import sys

import awkward as ak
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep as hep  # noqa: E402
import uproot  # noqa: E402

import gnnjet  # noqa: E402
from gnnjet.cli import run as run_cli  # noqa: E402
from gnnjet.evaluate.stats import auc, roc_curve  # noqa: E402
from gnnjet.fileio import refuse_to_clobber  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a run directory written by bin/train.py or gnnjet.train")
    parser.add_argument("--input", required=True, help="ROOT files (a glob) with the jets to score")
    parser.add_argument("--output", default="roc.png", help="the figure")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing figure")
    args = parser.parse_args()
    refuse_to_clobber(args.output, overwrite=args.overwrite, what="figure")  # an earlier result is kept

    # 1. jets in memory: one record per jet, fields as in the files (pt, ch_pt, ...)
    jets = uproot.concatenate([f"{path}:Jets" for path in sorted(glob.glob(args.input))])
    # 2. the run's predictions, one row per jet passing its selection, in order (entry: the jet's row)
    run = gnnjet.load_run(args.run)
    predicted = run.predict(jets)
    valid = predicted[predicted.valid == 1]
    labels = [field.removeprefix("score_") for field in predicted.fields if field.startswith("score_")]
    signal, score = labels[0], ak.to_numpy(valid[f"score_{labels[0]}"])
    is_signal = ak.to_numpy(valid[signal]) == 1

    # 3. the ROC curve: background rejection against signal efficiency
    false_positive, true_positive = roc_curve(score, is_signal)
    area = auc(score, is_signal)
    hep.style.use("CMS")
    fig, ax = plt.subplots(figsize=(9, 7.5))
    keep = false_positive > 0
    ax.plot(true_positive[keep], 1 / false_positive[keep], label=f"{run.path.name} (AUC {area:.3f})")
    ax.set(xlabel=f"{signal} efficiency", ylabel="Background rejection", yscale="log", xlim=(0, 1))
    hep.label.exp_label(exp="gnnjet", llabel="Simulation", ax=ax)
    ax.legend()
    fig.savefig(args.output, bbox_inches="tight")
    print(f"{len(valid)} jets scored; AUC {area:.6f}")


if __name__ == "__main__":
    sys.exit(run_cli(main))  # gnnjet's errors as one line, exit code 1
