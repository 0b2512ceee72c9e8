#!/usr/bin/env python
"""Data efficiency: are the Lorentz-equivariant models (LorentzNet, L-GATr) better than ParticleNet-Lite, the small
transformer and DeepSets when only a few thousand top jets are there to train on?

Generates (or reuses) a top/QCD training sample and an independent test sample (`--process top`), trains each
family with its configs/top_<family>.yaml (CPU-sized presets) on the first N jets of the training sample (20% of
them for validation, `training.monitor: val_auc`) for every N of --train-sizes, predicts the same test jets, and
reports AUC (bootstrap error), Rej@30% and the paired AUC difference to ParticleNet-Lite on the same jets. Writes
the table into benchmarks/RESULTS.md (efficiency markers); the last line printed is JSON.

    python benchmarks/efficiency.py --train-sizes 1000,2500 --test-jets 5000 --epochs 8
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import uproot

from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.evaluate.stats import auc, auc_difference, bootstrap_std, rejection_at

from physics import command_line, run_family, sample, sample_arguments, write_results  # same folder

MARKERS = ("<!-- efficiency:start -->", "<!-- efficiency:end -->")
REFERENCE = "particlenet"


def first_jets(glob: str, count: int, out: Path) -> Path:
    """The first `count` jets of the sample `glob` as one file."""
    path = out / f"top_train_{count}.root"
    if not path.exists():
        jets = uproot.concatenate([f"{f}:Jets" for f in expand_files([glob])])
        if len(jets) < count:
            raise SystemExit(f"the training sample has {len(jets)} jets, fewer than {count}")
        out.mkdir(parents=True, exist_ok=True)
        write_jets(path, {name: jets[name][:count] for name in jets.fields})
    return path


def scores(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """(P(top), is_top) of the run's predictions of the test jets."""
    columns = uproot.open(run / "pred.root")["Jets"].arrays(["score_label_top", "label_top"], library="np")
    return columns["score_label_top"], columns["label_top"].astype(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-sizes", default="1000,2500", help="comma-separated numbers of training jets")
    parser.add_argument("--test-jets", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size of every model: with 1000 "
                        "jets, the configs' 256 leaves too few steps for BatchNorm's running statistics to settle")
    parser.add_argument("--families", default="lorentznet,lgatr,particlenet,transformer,deepsets")
    sample_arguments(parser, "efficiency_runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sizes = [int(n) for n in args.train_sizes.split(",")]
    families = args.families.split(",")
    if REFERENCE not in families:
        parser.error(f"--families must include {REFERENCE}, the reference of the paired differences")
    out, started = Path(args.out), time.perf_counter()
    train_glob, _ = sample("top", max(sizes), 21, out / "samples", args.workers)
    test_glob, _ = sample("top", args.test_jets, 22, out / "samples", args.workers)

    rows = []
    for size in sizes:
        train_file = first_jets(train_glob, size, out / "samples")
        results = {}
        for family in families:
            run = out / f"top_{family}_{size}"
            if not (run / "pred.root").exists():
                run_family("top", family, str(train_file), test_glob, out, args.epochs, full=False,
                           name=run.name, training={"monitor": "val_auc", "early_stopping_patience": None,
                                         "batch_size": args.batch_size},
                           overwrite=True)
            results[family] = scores(run)
        reference, truth = results[REFERENCE]
        index = np.arange(len(truth))
        for family, (score, _) in results.items():
            row = {"train_jets": size, "family": family, "auc": auc(score, truth),
                   "auc_err": bootstrap_std(index, lambda i, s=score: auc(s[i], truth[i])),
                   "rej30": rejection_at(score, truth, 0.3)}
            if family != REFERENCE:
                row["delta_auc"], row["delta_auc_err"] = auc_difference(score, reference, truth)
            rows.append(row)

    command = command_line("efficiency.py")
    lines = [f"## Data efficiency on top tagging (CPU, {torch.get_num_threads()} threads)", "", f"Command: `{command}`",
             "", f"Generated top/QCD jets (`--process top`): the first N of one training sample (20% for validation, "
             f"{args.epochs} epochs of batches of {args.batch_size}, best.pt by validation AUC), the same "
             f"{args.test_jets} independent test jets for every model. AUC errors: bootstrap over the test jets; "
             "AUC - ParticleNet-Lite: paired bootstrap on the same jets. CPU-sized presets "
             f"(configs/top_<family>.yaml). Took {(time.perf_counter() - started) / 60:.0f} min.", "",
             "| training jets | model | AUC | AUC - ParticleNet-Lite | Rej@30% |", "|---|---|---|---|---|"]
    for row in rows:
        delta = f"{row['delta_auc']:+.4f} ± {row['delta_auc_err']:.4f}" if "delta_auc" in row else ""
        lines.append(f"| {row['train_jets']} | {row['family']} | {row['auc']:.4f} ± {row['auc_err']:.4f} | {delta} | "
                     f"{row['rej30']:.1f} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, MARKERS)
    print(json.dumps({"rows": rows, "test_jets": args.test_jets, "epochs": args.epochs}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
