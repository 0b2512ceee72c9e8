#!/usr/bin/env python
"""Fine-tuning benchmark: does a model pre-trained on one task help on 1,000 jets of another?

Pre-trains ParticleNet-Lite on the 4-class flavour sample (configs/flavour_particlenet.yaml: b, c, uds, g),
then trains the quark/gluon model (configs/qg_particlenet.yaml: the same inputs) on the same N q/g jets
(20% of them for validation) twice per seed: fine-tuned from the flavour model (new output layer at
head_lr_mult x the learning rate) and from scratch, same epochs. Both predict the same independent q/g
test jets. Reports AUC with bootstrap errors per seed, the paired AUC difference on the same jets, and
seed means; writes the table into benchmarks/RESULTS.md and prints a final JSON line.

    python benchmarks/finetune.py --seeds 3 --epochs 10
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import uproot

from gnnjet.config import load_config, validate_config
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.evaluate.stats import auc, auc_difference, bootstrap_std
from gnnjet.predict import predict
from gnnjet.train.trainer import train

from physics import write_results

ROOT = Path(__file__).resolve().parents[1]

MARKERS = ("<!-- finetune:start -->", "<!-- finetune:end -->")


def split_qg(files: list[str], num_train: int, out: Path) -> tuple[Path, Path]:
    """The first `num_train` jets of the q/g files for (fine-)training, all the others for testing."""
    jets = uproot.concatenate([f"{f}:Jets" for f in files])
    if len(jets) <= num_train + 100:
        raise SystemExit(f"only {len(jets)} q/g jets in {files}: need more than {num_train} + 100 test jets")
    out.mkdir(parents=True, exist_ok=True)
    write_jets(out / "qg_train.root", {name: jets[name][:num_train] for name in jets.fields})
    write_jets(out / "qg_test.root", {name: jets[name][num_train:] for name in jets.fields})
    return out / "qg_train.root", out / "qg_test.root"


def run(config_name: str, train_file: Path | str, out: Path, epochs: int, seed: int,
        pretrained: Path | None = None) -> Path:
    config = load_config(ROOT / "configs" / f"{config_name}.yaml")
    config["data"] |= {"train": [str(train_file)], "cache_dir": str(out.parent / "cache")}
    config["training"] |= {"seed": seed, "epochs": epochs, "early_stopping_patience": None,
                           "pretrained": str(pretrained) if pretrained else None}
    train(validate_config(config), out, progress=False)
    return out


def scores(run_dir: Path, test_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """(score_q, is_quark) of the run's best model on the test jets."""
    predict(run_dir, [str(test_file)], run_dir / "pred.root", progress=False)
    columns = uproot.open(run_dir / "pred.root")["Jets"].arrays(["score_label_q", "label_q"], library="np")
    return columns["score_label_q"], columns["label_q"].astype(bool)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pretrain", default="data/flavour/*.root", help="flavour sample (glob, relative to the "
                        "repository unless absolute)")
    parser.add_argument("--qg", default="data/qg/*.root", help="q/g jets: the first N fine-tune, the rest test")
    parser.add_argument("--jets", type=int, default=1000, help="q/g jets to (fine-)train on (N)")
    parser.add_argument("--pretrain-epochs", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of fine-tuning and of training from scratch")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "finetune_runs"))
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out, started = Path(args.out), time.perf_counter()
    train_file, test_file = split_qg(expand_files([str(ROOT / args.qg)]), args.jets, out / "samples")
    pretrained = run("flavour_particlenet", ROOT / args.pretrain, out / "pretrained", args.pretrain_epochs, seed=42)

    rows = []
    for seed in range(args.seeds):
        tuned, truth = scores(run("qg_particlenet", train_file, out / f"finetuned_{seed}", args.epochs, seed,
                                  pretrained), test_file)
        scratch, _ = scores(run("qg_particlenet", train_file, out / f"scratch_{seed}", args.epochs, seed), test_file)
        index = np.arange(len(truth))
        difference, difference_err = auc_difference(tuned, scratch, truth)
        rows.append({"seed": seed, "finetuned_auc": auc(tuned, truth),
                     "finetuned_auc_err": bootstrap_std(index, lambda i: auc(tuned[i], truth[i])),
                     "scratch_auc": auc(scratch, truth),
                     "scratch_auc_err": bootstrap_std(index, lambda i: auc(scratch[i], truth[i])),
                     "delta_auc": difference, "delta_auc_err": difference_err})

    def mean_and_spread(key: str) -> tuple[float, float]:
        values = np.array([r[key] for r in rows])
        return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0

    summary = {f"{key}_mean": mean_and_spread(key)[0] for key in ("finetuned_auc", "scratch_auc", "delta_auc")}
    summary |= {f"{key}_seed_err": mean_and_spread(key)[1] for key in ("finetuned_auc", "scratch_auc", "delta_auc")}
    test_jets = len(truth)
    command = "python benchmarks/finetune.py " + shlex.join(a for a in sys.argv[1:] if a != "--no-write")
    lines = [f"## Fine-tuning benchmark (CPU, {torch.get_num_threads()} threads)", "", f"Command: `{command}`", "",
             f"ParticleNet-Lite pre-trained on the flavour sample ({args.pretrain}, b/c/uds/g, {args.pretrain_epochs} "
             f"epochs), then trained on the same {args.jets} q/g jets (20% for validation) for {args.epochs} epochs: "
             "fine-tuned (output layer replaced, x50 learning rate) or from scratch; both evaluated on the same "
             f"{test_jets} independent q/g test jets. AUC errors: bootstrap over the test jets; difference: paired "
             f"bootstrap; mean over seeds with the standard error of the mean. Took "
             f"{(time.perf_counter() - started) / 60:.1f} min.", "",
             "| seed | AUC fine-tuned | AUC from scratch | fine-tuned - scratch |", "|---|---|---|---|"]
    lines += [f"| {r['seed']} | {r['finetuned_auc']:.4f} ± {r['finetuned_auc_err']:.4f} | {r['scratch_auc']:.4f} ± "
              f"{r['scratch_auc_err']:.4f} | {r['delta_auc']:+.4f} ± {r['delta_auc_err']:.4f} |" for r in rows]
    lines.append(f"| mean | {summary['finetuned_auc_mean']:.4f} ± {summary['finetuned_auc_seed_err']:.4f} | "
                 f"{summary['scratch_auc_mean']:.4f} ± {summary['scratch_auc_seed_err']:.4f} | "
                 f"{summary['delta_auc_mean']:+.4f} ± {summary['delta_auc_seed_err']:.4f} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, MARKERS)
    print(json.dumps({**summary, "seeds": rows, "finetune_jets": args.jets, "test_jets": test_jets}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
