#!/usr/bin/env python
"""Training recipe for attention models: does weaver-core's ParT recipe (Ranger + flat_decay) let the small
transformer and MIParT catch DeepSets on quark/gluon tagging?

Reuses (or generates) benchmarks/physics.py's q/g samples (its seeds and sizes; regenerated samples follow the
generator of the day), trains each run below with its configs/qg_<family>.yaml, the optimizer, scheduler and
(one run) lr replaced, predicts the independent test sample and compares AUCs on the same jets (bootstrap
errors, paired-bootstrap differences):

    deepsets            adamw + cosine (the config as it is: the baseline)
    transformer_adamw   adamw + cosine (the config as it is)
    transformer_ranger  ranger + flat_decay
    transformer_ranger_lr4x  ranger + flat_decay at 4x the config's lr
    mipart_adamw        adamw + cosine (the config as it is)
    mipart_ranger       ranger + flat_decay

`--extra-train-jets N` adds physics.py's learning-curve sample (N more q/g jets, seed 15) to the training jets:
the next point of the learning curve, with its own run directories and RESULTS.md block.

Finished runs (pred.root present) are reused, so an interrupted benchmark continues where it stopped.
Prints a table and, last, one JSON line; writes the table into benchmarks/RESULTS.md (recipe markers).

    python benchmarks/recipe.py --qg-jets 20000 --epochs 10
    python benchmarks/recipe.py --qg-jets 20000 --extra-train-jets 40000 --epochs 10 \
        --runs deepsets,transformer_adamw,mipart_adamw
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from gnnjet.evaluate.predictions import load_all
from gnnjet.evaluate.stats import classification_summary, rejection_text

from physics import (  # same folder
    command_line,
    run_family,
    sample,
    sample_arguments,
    training_record,
    write_results,
)

LEARNING_CURVE_SEED = 15  # physics.py's learning-curve sample (RESULTS.md, "Does the ParticleNet/DeepSets gap grow")
# run name -> (family, optimizer, scheduler, lr); None keeps the config's own choice
RUNS = {
    "deepsets": ("deepsets", None, None, None),
    "transformer_adamw": ("transformer", None, None, None),
    "transformer_ranger": ("transformer", "ranger", "flat_decay", None),
    # RAdam's variance rectification scales its steps by 0.15 after 50 steps, 0.53 after 630 (10 epochs here) and
    # 0.96 after 4000 (beta2 = 0.999), and Lookahead halves them again: a short run needs a larger lr
    "transformer_ranger_lr4x": ("transformer", "ranger", "flat_decay", 4e-3),
    "mipart_adamw": ("mipart", None, None, None),
    "mipart_ranger": ("mipart", "ranger", "flat_decay", None),
}
# (a, b): the paired differences AUC(a) - AUC(b) the question is about
COMPARISONS = [("transformer_adamw", "deepsets"), ("transformer_ranger", "deepsets"),
               ("transformer_ranger", "transformer_adamw"), ("transformer_ranger_lr4x", "transformer_adamw"),
               ("mipart_adamw", "deepsets"),
               ("mipart_adamw", "transformer_adamw"), ("mipart_ranger", "deepsets"),
               ("mipart_ranger", "transformer_ranger")]


def markers(tag: str) -> tuple[str, str]:
    """RESULTS.md markers of a recipe table; tag "" for the default sample, e.g. "_60000" for more jets."""
    return f"<!-- recipe{tag}:start -->", f"<!-- recipe{tag}:end -->"


def run(name: str, train_globs: list[str], test_glob: str, out: Path, epochs: int, tag: str) -> Path:
    """Train and predict one run (skipped when its predictions exist); returns its directory."""
    family, optimizer, scheduler, lr = RUNS[name]
    directory = out / f"recipe_qg{tag}_{name}"
    if (directory / "pred.root").exists():
        return directory
    chosen = {"optimizer": optimizer, "scheduler": scheduler, "lr": lr}
    return run_family("qg", family, train_globs, test_glob, out, epochs, full=False, name=directory.name,
                      training={k: v for k, v in chosen.items() if v is not None}, overwrite=True)


def compare(directories: dict[str, Path]) -> tuple[dict[str, dict], dict[str, tuple[float, float]], int]:
    """Per run: accuracy, AUC with its bootstrap error, Rej@30/50%; per comparison (a, b): AUC(a) - AUC(b) and its
    paired-bootstrap error; and the number of background (gluon) test jets, for `rejection_text`."""
    names = list(directories)
    models = {m.name: m for m in load_all([str(directories[n]) for n in names], names)}
    labels = next(iter(models.values())).columns["label_g"].astype(np.int64)  # 0 = quark (signal), 1 = gluon
    probabilities = {n: np.stack([m.columns["score_label_q"], m.columns["score_label_g"]], axis=1)
                     for n, m in models.items()}
    single = {n: classification_summary(p, labels, ["q", "g"], errors=True) for n, p in probabilities.items()}
    paired = {}
    for a, b in COMPARISONS:
        if a in models and b in models:
            summary = classification_summary(probabilities[a], labels, ["q", "g"], reference=probabilities[b])
            paired[f"{a}-{b}"] = (summary["delta_auc"], summary["delta_auc_err"])
    return single, paired, int(labels.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qg-jets", type=int, default=20000, help="training jets (physics.py's q/g sample size)")
    parser.add_argument("--extra-train-jets", type=int, default=0,
                        help=f"more training jets from physics.py's learning-curve sample (seed {LEARNING_CURVE_SEED})")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)}")
    sample_arguments(parser, "physics_runs")
    args = parser.parse_args()
    if args.extra_train_jets < 0:
        parser.error(f"--extra-train-jets: {args.extra_train_jets}; give 0 (none) or more jets")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    names = [n.strip() for n in args.runs.split(",")]
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        parser.error(f"--runs: unknown run(s) {unknown}; choose from {', '.join(RUNS)}")
    out, samples = Path(args.out), Path(args.out) / "samples"
    test_jets = max(100, args.qg_jets // 4)
    train_globs = [sample("qg", args.qg_jets, 11, samples, args.workers)[0]]
    if args.extra_train_jets:
        train_globs.append(sample("qg", args.extra_train_jets, LEARNING_CURVE_SEED, samples, args.workers)[0])
    total = args.qg_jets + args.extra_train_jets
    tag = f"_{total}" if args.extra_train_jets else ""  # the default sample keeps its run names and table
    test_glob, _ = sample("qg", test_jets, 12, samples, args.workers)
    directories = {n: run(n, train_globs, test_glob, out, args.epochs, tag) for n in names}
    single, paired, num_gluons = compare(directories)
    records = {n: training_record(d) for n, d in directories.items()}

    parts = f" = {args.qg_jets} + {args.extra_train_jets} with seed {LEARNING_CURVE_SEED}" * bool(args.extra_train_jets)
    command = command_line("recipe.py")
    lines = [f"## Attention-model training recipe on q/g (CPU, {torch.get_num_threads()} threads)", "",
             f"Command: `{command}`", "",
             f"Sample: benchmarks/physics.py's q/g jets ({total} for training{parts}, 20% of them for validation; "
             f"{test_jets} independent test jets). Each run uses configs/qg_<family>.yaml with only the optimizer, "
             f"scheduler and (where given) lr replaced, at most {args.epochs} epochs (early stopping as configured). "
             "AUC errors: bootstrap over the test jets; differences: paired bootstrap on the same jets.", "",
             "| run | optimizer + scheduler | accuracy | AUC | Rej@30% | Rej@50% | train time [s] | epochs (best) |",
             "|---" * 8 + "|"]
    for name in names:
        _, optimizer, scheduler, lr = RUNS[name]
        recipe = f"{optimizer} + {scheduler}" if optimizer else "adamw + cosine (config)"
        recipe += f", lr {lr:g}" if lr else ""
        s, r = single[name], records[name]
        rej30, rej50 = (rejection_text(s[key], num_gluons) for key in ("rej30", "rej50"))
        lines.append(f"| {name} | {recipe} | {s['accuracy']:.3f} | {s['auc']:.4f} ± {s['auc_err']:.4f} | {rej30} | "
                     f"{rej50} | {r['seconds']:.0f} | {r['epochs']} ({r['best_epoch']}) |")
    lines += ["", "| paired difference | AUC(a) - AUC(b) |", "|---|---|"]
    lines += [f"| {key.replace('-', ' - ')} | {d:+.4f} ± {e:.4f} |" for key, (d, e) in paired.items()]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, markers(tag))
    result = {f"auc_{n}": round(s["auc"], 5) for n, s in single.items()}
    result.update({f"delta_{k}": round(d, 5) for k, (d, _) in paired.items()})
    result.update({f"delta_{k}_err": round(e, 5) for k, (_, e) in paired.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
