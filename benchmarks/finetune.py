#!/usr/bin/env python
"""Fine-tuning benchmarks: does a pre-trained model help on 1,000 jets of another task, and does fine-tuning a
weaver-core checkpoint in gnnjet train as weaver-core does?

Default: pre-trains ParticleNet-Lite in gnnjet on the 4-class flavour sample (configs/flavour_particlenet.yaml: b,
c, uds, g), then trains the quark/gluon model (configs/qg_particlenet.yaml: the same inputs) on the same N q/g
jets (20% of them for validation) twice per seed: fine-tuned from the flavour model (new output layer at
head_lr_mult x the learning rate) and from scratch, same epochs. Both predict the same independent q/g test jets.
Reports AUC with bootstrap errors per seed, the paired AUC difference on the same jets, and seed means; writes
the table into benchmarks/RESULTS.md and prints a final JSON line.

    python benchmarks/finetune.py --seeds 3 --epochs 10

``--weaver``: the same question across the two toolkits (issue 29). weaver-core's ParticleNet (Lite sizes, the
JetClass "kin" inputs: 7 features per particle, padded to 128, no trimming) is pre-trained on the flavour sample
with a plain PyTorch loop and saved as the ParT repository saves its checkpoints; then, per seed, it is fine-tuned
on the same N q/g jets (the next 200 for gnnjet's validation) in the plain loop (AdamW, new output layer at 50x,
no scheduler, the last epoch) and in gnnjet (`training.pretrained`, the same recipe, ``monitor: last``) with the
padded BatchNorm statistics of preset weaver, with gnnjet's packed statistics (the behaviour before issue 29)
and with ``freeze: [batchnorm]``. All predict the same test jets; differences are paired to the plain loop.

    python benchmarks/finetune.py --weaver --seeds 3 --epochs 5
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

from gnnjet.config import load_config, validate_config
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.evaluate.stats import auc, auc_difference, bootstrap_std
from gnnjet.predict import predict
from gnnjet.training.trainer import train

from models import dense_inputs  # same folder
from physics import command_line, write_results

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


def scores(run_dir: Path, test_file: Path, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(score_q, is_quark) of the run's best model on the test jets (`overwrite`: replace the run's earlier
    pred.root, for a run just retrained with overwrite)."""
    predict(run_dir, [str(test_file)], run_dir / "pred.root", progress=False, overwrite=overwrite)
    columns = uproot.open(run_dir / "pred.root")["Jets"].arrays(["score_label_q", "label_q"], library="np")
    return columns["score_label_q"], columns["label_q"].astype(bool)


# the JetClass "kin" inputs (the ParT repository's JetClass_kin.yaml numbers) of both particle collections
KIN_FEATURES = [("log_pt", "log({c}_pt)", 1.7, 0.7), ("log_e", "log({c}_pt * cosh({c}_eta))", 2.0, 0.7),
                ("log_pt_rel", "log({c}_pt / pt)", -4.7, 0.7),
                ("log_e_rel", "log({c}_pt * cosh({c}_eta) / (pt * cosh(eta)))", -4.7, 0.7),
                ("delta_r", "hypot({c}_eta - eta, delta_phi({c}_phi, phi))", 0.2, 4.0),
                ("deta", "where(eta < 0, eta - {c}_eta, {c}_eta - eta)", None, None),
                ("dphi", "delta_phi({c}_phi, phi)", None, None)]
WEAVER_LITE = {"conv_params": [(7, (32, 32, 32)), (7, (64, 64, 64))], "fc_params": [(128, 0.1)],
               "use_fusion": False, "use_fts_bn": True, "use_counts": True, "trim": False}
GNNJET_LITE = {"name": "particlenet", "preset": "weaver", "k": 7, "blocks": [[32, 32, 32], [64, 64, 64]],
               "head": [128]}
PADDED = 128  # weaver's data length: 64 charged + 64 neutral particles at most
WEAVER_MARKERS = ("<!-- finetune-weaver:start -->", "<!-- finetune-weaver:end -->")
VARIANTS = {"gnnjet_padded": {}, "gnnjet_packed": {"batchnorm_padding": None}, "gnnjet_frozen_bn": "batchnorm"}


def kin_config(base: str, files: list[str], out: Path, **training) -> dict:
    """configs/`base`.yaml with the JetClass kin inputs (charged and neutral particles, fixed preprocessing, no
    jet features), weaver's ParticleNet-Lite and the ParT repository's fine-tuning recipe."""
    config = load_config(ROOT / "configs" / f"{base}.yaml")
    node_types = {}
    for name, c in (("charged", "ch"), ("neutral", "ne")):
        node_types[name] = {"max_nodes": 64, "pt": f"{c}_pt", "eta": f"{c}_eta", "phi": f"{c}_phi",
                            "features": [{"name": n, "expr": e.format(c=c), "center": m, "scale": w,
                                          **({"clip": None} if m is None else {})} for n, e, m, w in KIN_FEATURES]}
    config["data"] |= {"train": files, "node_types": node_types, "jet_features": [], "observers": [],
                       "cache_dir": str(out / "cache")}
    config["model"] = dict(GNNJET_LITE)
    config["training"] |= {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.01, "scheduler": "none",
                           "batch_size": 128, "grad_clip": None, "early_stopping_patience": None, "monitor": "last",
                           **training}
    return config


def dense(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """weaver-core's ParticleNet inputs (points, features, mask) of a gnnjet batch, padded to PADDED."""
    inputs = dense_inputs(batch, torch.device("cpu"), PADDED)
    return inputs["points"], inputs["features"], inputs["mask"]


def plain_loop(model: torch.nn.Module, dataset, epochs: int, seed: int, fast: tuple[str, ...] = ()) -> list[float]:
    """weaver-core's training as a plain PyTorch loop: AdamW (lr 1e-3, weight decay 0.01; parameters starting with
    `fast` at 50x), no scheduler, batches of 128 shuffled with `seed`, cross-entropy. Returns each epoch's mean
    training loss."""
    fast_params = [p for n, p in model.named_parameters() if n.startswith(fast)] if fast else []
    base = [p for n, p in model.named_parameters() if not (fast and n.startswith(fast))]
    groups = [{"params": base, "lr": 1e-3}] + ([{"params": fast_params, "lr": 5e-2}] if fast_params else [])
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    epoch_losses = []
    for epoch in range(epochs):
        order = torch.randperm(len(dataset), generator=generator)
        losses = []
        for start in range(0, len(order), 128):
            batch = dataset.batch(order[start:start + 128])
            loss = torch.nn.functional.cross_entropy(model(*dense(batch)), batch.y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        epoch_losses.append(float(np.mean(losses)))
        logging.info("plain loop epoch %d: loss %.4f", epoch, epoch_losses[-1])
    return epoch_losses


def plain_scores(model: torch.nn.Module, dataset) -> np.ndarray:
    """Quark probability of every jet of `dataset` (label 0 = label_q)."""
    model.eval()
    with torch.no_grad():
        return np.concatenate([torch.softmax(model(*dense(dataset.batch(torch.arange(i, min(i + 512, len(dataset))))
                                                          )), 1)[:, 0].numpy() for i in range(0, len(dataset), 512)])


def weaver_comparison(args: argparse.Namespace, out: Path, started: float) -> None:
    from weaver.nn.model.ParticleNet import ParticleNet

    from gnnjet.data.dataset import JetDataset
    from gnnjet.data.preprocess import Preprocessing
    from gnnjet.data.spec import DataSpec

    files = expand_files([str(ROOT / args.qg)])
    train_file, test_file = split_qg(files, args.jets + 200, out / "samples")
    jets = uproot.open(train_file)["Jets"].arrays()
    write_jets(out / "samples" / "qg_tune.root", {name: jets[name][: args.jets] for name in jets.fields})
    write_jets(out / "samples" / "qg_val.root", {name: jets[name][args.jets:] for name in jets.fields})

    def dataset(base: str, files: list[str]) -> JetDataset:
        spec = DataSpec.from_config(validate_config(kin_config(base, files, out)))
        return JetDataset.from_files(spec, files, Preprocessing.manual(spec), cache_root=out / "cache", progress=False)

    pretrain = dataset("flavour_particlenet", expand_files([str(ROOT / args.pretrain)]))
    tune, test = dataset("qg_particlenet", [str(out / "samples" / "qg_tune.root")]), \
        dataset("qg_particlenet", [str(test_file)])
    entries = uproot.open(test_file)["Jets"].num_entries
    if len(test) != entries:  # plain_scores and gnnjet's predictions are compared row by row
        raise SystemExit(f"{entries - len(test)} of the {entries} test jets were dropped by the reader")
    checkpoint = out / "weaver_pretrained.pt"
    reused = checkpoint.exists()  # the pre-training of an earlier run of the same command (same seed)
    if not reused:
        torch.manual_seed(42)
        model = ParticleNet(7, 4, **WEAVER_LITE)
        plain_loop(model, pretrain, args.pretrain_epochs, seed=42)
        torch.save({f"mod.{k}": v for k, v in model.state_dict().items()}, checkpoint)  # as the ParT repository
    truth = tune_labels = None
    rows = []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = ParticleNet(7, 2, **WEAVER_LITE)
        state = {k[4:]: v for k, v in torch.load(checkpoint, weights_only=True).items()}
        fresh = model.state_dict()
        model.load_state_dict({k: v if v.shape == fresh[k].shape else fresh[k] for k, v in state.items()})
        first_loss = {"plain_weaver": plain_loop(model, tune, args.epochs, seed, fast=("fc.1.",))[0]}
        scores_by = {"plain_weaver": plain_scores(model, test)}
        for name, change in VARIANTS.items():
            config = kin_config("qg_particlenet", [str(out / "samples" / "qg_tune.root")], out, seed=seed,
                                epochs=args.epochs, pretrained=str(checkpoint), head_lr_mult=50.0,
                                freeze=[change] if isinstance(change, str) else [])
            config["data"]["val"] = [str(out / "samples" / "qg_val.root")]
            config["model"] |= change if isinstance(change, dict) else {}
            run_dir = out / f"{name}_{seed}"
            history = train(validate_config(config), run_dir, progress=False, overwrite=True)
            first_loss[name] = history[0]["train_loss"]
            scores_by[name], truth = scores(run_dir, test_file, overwrite=True)
        tune_labels = truth
        index = np.arange(len(truth))
        row: dict[str, float] = {"seed": seed}
        for name, values in scores_by.items():
            row[f"{name}_first_epoch_loss"] = first_loss[name]
            row[f"{name}_auc"] = auc(values, truth)
            row[f"{name}_auc_err"] = bootstrap_std(index, lambda i, v=values: auc(v[i], truth[i]))
            if name != "plain_weaver":
                row[f"{name}_minus_plain"], row[f"{name}_minus_plain_err"] = auc_difference(
                    values, scores_by["plain_weaver"], truth)
        rows.append(row)
    assert tune_labels is not None
    names = ["plain_weaver", *VARIANTS]
    summary = {f"{key}_mean": float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "seed"
               and not key.endswith("_err")}
    summary |= {f"{key}_seed_err": float(np.std([r[key] for r in rows], ddof=1) / np.sqrt(len(rows)))
                if len(rows) > 1 else 0.0 for key in rows[0] if key != "seed" and not key.endswith("_err")}
    command = command_line("finetune.py")
    lines = [f"## Fine-tuning a weaver-core checkpoint: gnnjet vs weaver-core's plain loop (CPU, "
             f"{torch.get_num_threads()} threads)", "", f"Command: `{command}`", "",
             f"weaver-core's ParticleNet-Lite (JetClass kin inputs, padded to {PADDED}, no trimming) pre-trained with "
             f"a plain PyTorch loop on the flavour sample ({args.pretrain}, 4 classes, {args.pretrain_epochs} "
             f"epochs), saved as the ParT repository saves checkpoints; fine-tuned per seed on the same {args.jets} "
             f"q/g jets for {args.epochs} epochs (AdamW lr 1e-3, weight decay 0.01, new output layer at 50x, batch "
             "128, no scheduler, last epoch) in the plain loop and in gnnjet: padded BatchNorm statistics (preset "
             "weaver, `batchnorm_padding: 128`), packed statistics (`batchnorm_padding: null`, gnnjet before issue "
             f"29), and `freeze: [batchnorm]`. All evaluated on the same {len(tune_labels)} q/g test jets; "
             "differences paired to the plain loop; last row: the mean training loss of the first epoch, where "
             "renormalised pretrained features would show. Took "
             f"{(time.perf_counter() - started) / 60:.1f} min"
             f"{' (pre-training reused from an earlier run)' if reused else ''}.", "",
             "| seed | " + " | ".join(f"AUC {n}" for n in names) + " | " +
             " | ".join(f"{n} - plain" for n in VARIANTS) + " |", "|---" * (1 + len(names) + len(VARIANTS)) + "|"]
    for r in rows:
        lines.append(f"| {r['seed']} | " + " | ".join(f"{r[f'{n}_auc']:.4f} ± {r[f'{n}_auc_err']:.4f}" for n in names)
                     + " | " + " | ".join(f"{r[f'{n}_minus_plain']:+.4f} ± {r[f'{n}_minus_plain_err']:.4f}"
                                          for n in VARIANTS) + " |")
    lines.append("| mean | " + " | ".join(f"{summary[f'{n}_auc_mean']:.4f} ± {summary[f'{n}_auc_seed_err']:.4f}"
                                         for n in names) + " | " +
                 " | ".join(f"{summary[f'{n}_minus_plain_mean']:+.4f} ± {summary[f'{n}_minus_plain_seed_err']:.4f}"
                            for n in VARIANTS) + " |")
    lines.append("| first-epoch loss | " + " | ".join(f"{summary[f'{n}_first_epoch_loss_mean']:.3f}" for n in names)
                 + " |" + " |" * len(VARIANTS))
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, WEAVER_MARKERS)
    print(json.dumps({**summary, "seeds": rows, "finetune_jets": args.jets, "test_jets": len(tune_labels)}))


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
    parser.add_argument("--weaver", action="store_true", help="pre-train weaver-core's ParticleNet in a plain loop "
                        "and compare fine-tuning it in gnnjet with the same plain loop (module docstring)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out, started = Path(args.out), time.perf_counter()
    if args.weaver:
        weaver_comparison(args, out / "weaver", started)
        return
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
    command = command_line("finetune.py")
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
