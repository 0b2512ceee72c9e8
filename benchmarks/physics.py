#!/usr/bin/env python
"""Physics benchmark: every model family on quark/gluon tagging and on jet energy correction, and (--tasks
with top) on top tagging next to the published Top Tagging landscape numbers.

Generates (or reuses) training and independent test samples with the gnnjet generator, trains each
family with its configs/{qg,jec}_<family>.yaml (presets as in the configs: Lite/small on CPU, or
--full for the published sizes), predicts the test sample, fits the Standard correction on the
JEC training sample, and reports: QG accuracy, AUC, Rej@30%, Rej@50%; JEC resolution improvement
over Standard per pt range and the flavour-improvement metric; training time per model.
The table is written into benchmarks/RESULTS.md (between the physics markers) with the command.

    python benchmarks/physics.py --qg-jets 20000 --jec-jets 50000 --qg-epochs 12 --jec-epochs 3 --workers 2
    python benchmarks/physics.py --tasks top --top-jets 100000 --families particlenet,deepsets,transformer
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gnnjet.config import apply_overrides, load_config, validate_config
from gnnjet.evaluate.apply_standard import fit_and_apply
from gnnjet.generate.runner import generate
from gnnjet.nn.registry import FAMILIES
from gnnjet.plots.compare import plot_models
from gnnjet.predict import predict
from gnnjet.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]

MARKERS = ("<!-- physics:start -->", "<!-- physics:end -->")
TOP_MARKERS = ("<!-- top:start -->", "<!-- top:end -->")
# Published top-tagging results on the Top Tagging Reference Dataset (1.2M training jets): AUC, Rej@30%
PUBLISHED_TOP = {
    "particlenet": ("ParticleNet", 0.9858, "1615", "Qu & Gouskos, PRD 101, 056019 (2020), arXiv:1902.08570"),
    "deepsets": ("PFN", 0.9819, "888", "Kasieczka et al., SciPost Phys. 7, 014 (2019), arXiv:1902.09914"),
    "transformer": ("ParT", 0.9858, "", "Qu, Li & Qian, ICML 2022, arXiv:2202.03772"),
}


def sample(process: str, num_jets: int, seed: int, root: Path, workers: int) -> tuple[str, dict]:
    """Glob of a generated sample (generated once, then reused) and its generation summary."""
    directory = root / f"{process}_{num_jets}_seed{seed}"
    summary = directory / f"{process}_{seed}_generation.json"
    if not summary.exists():
        # no generation record: absent, or the shards of a killed generation, replaced
        generate(process, num_jets, directory, seed=seed, workers=workers, shard_size=max(1000, num_jets // workers),
                 overwrite=True)
    return str(directory / "*.root"), json.loads(summary.read_text())


def run_family(task: str, family: str, train_glob: str | list[str], test_glob: str, out: Path, epochs: int,
               full: bool, name: str | None = None, training: dict | None = None, overwrite: bool = False,
               settings: list[str] | None = None) -> Path:
    """Train one family with configs/<task>_<family>.yaml (its training section updated with `training`, then
    `settings` applied as bin/train.py --set KEY=VALUE) on the training glob(s) into out/<name> (default
    <task>_<family>), predict the test sample into <run>/pred.root; returns the run."""
    config = apply_overrides(load_config(ROOT / "configs" / f"{task}_{family}.yaml"), settings or [])
    config["data"]["train"] = [train_glob] if isinstance(train_glob, str) else list(train_glob)
    config["data"]["cache_dir"] = str(out / "cache")
    config["training"].update(training or {})
    if full and FAMILIES[family].published:
        config["model"] = {"name": family, "preset": FAMILIES[family].published}
    run = out / (name or f"{task}_{family}")
    train(validate_config(config), run, epochs=epochs, overwrite=overwrite)
    predict(run, [test_glob], run / "pred.root", overwrite=overwrite)
    return run


def training_record(run: Path) -> dict[str, float]:
    """From the run's metrics.csv: seconds of the training passes summed over epochs (validation excluded),
    epochs trained and the best epoch (lowest val_loss), epochs counted from 1."""
    path = run / "metrics.csv"
    if not path.exists():
        raise SystemExit(f"{run}: no metrics.csv; train it first (run without --report-only)")
    rows = list(csv.DictReader(path.open()))
    best = min(range(len(rows)), key=lambda i: float(rows[i]["val_loss"]))
    return {"seconds": sum(float(r["seconds"]) for r in rows), "epochs": len(rows), "best_epoch": best + 1}


def rejection(value: float | str) -> str:
    """A background rejection for the tables: '> N' (no background jet passed) as it is, else one decimal."""
    return value if isinstance(value, str) else f"{value:.1f}"


def sample_arguments(parser: argparse.ArgumentParser, runs: str) -> None:
    """--workers, --out (default benchmarks/<runs>) and --no-write: the options of every benchmark that generates
    its samples, trains and writes RESULTS.md."""
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / runs))
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")


def command_line(script: str, dropped: tuple[str, ...] = ("--no-write",)) -> str:
    """The command that ran benchmarks/`script` (for RESULTS.md), without the options that change no result."""
    return f"python benchmarks/{script} " + shlex.join(a for a in sys.argv[1:] if a not in dropped)


def write_results(text: str, markers: tuple[str, str] = MARKERS) -> None:
    """Put `text` into benchmarks/RESULTS.md between `markers` (replacing what was there, else appended)."""
    path = ROOT / "benchmarks" / "RESULTS.md"
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    start, end = markers
    block = f"{start}\n{text}\n{end}"
    if start in current:
        before, rest = current.split(start, 1)
        current = before + block + rest.split(end, 1)[1]
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="qg,jec", help="comma-separated: qg, jec (reported together), top")
    parser.add_argument("--qg-jets", type=int, default=20000)
    parser.add_argument("--jec-jets", type=int, default=50000)
    parser.add_argument("--top-jets", type=int, default=100000)
    parser.add_argument("--epochs", type=int, default=8, help="epochs for both tasks unless set per task")
    parser.add_argument("--qg-epochs", type=int, help="epochs for quark/gluon tagging (default: --epochs)")
    parser.add_argument("--jec-epochs", type=int, help="epochs for jet energy correction (default: --epochs)")
    parser.add_argument("--top-epochs", type=int, help="epochs for top tagging (default: --epochs)")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--full", action="store_true",
                        help="the published model sizes (the registry's published presets: ParticleNet, PFN, ParT, "
                             "MIParT; for GPUs)")
    sample_arguments(parser, "physics_runs")
    parser.add_argument("--report-only", action="store_true",
                        help="no training: rebuild figures and table from the runs already in --out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out, families = Path(args.out), [f.strip() for f in args.families.split(",")]
    tasks = [t.strip() for t in args.tasks.split(",")]
    unknown = sorted(set(tasks) - {"qg", "jec", "top"})
    if unknown:
        parser.error(f"--tasks: unknown task(s) {unknown}; choose from qg, jec, top")
    epochs = {"qg": args.qg_epochs or args.epochs, "jec": args.jec_epochs or args.epochs,
              "top": args.top_epochs or args.epochs}
    families_of = {task: [f for f in families if (ROOT / "configs" / f"{task}_{f}.yaml").exists()] for task in tasks}
    samples = out / "samples"
    wanted = [("qg_train", "qg", args.qg_jets, 11), ("qg_test", "qg", max(100, args.qg_jets // 4), 12),
              ("jec_train", "jec", args.jec_jets, 13), ("jec_test", "jec", max(200, args.jec_jets // 4), 14),
              ("top_train", "top", args.top_jets, 15), ("top_test", "top", max(100, args.top_jets // 4), 16)]
    generated = {name: sample(process, num_jets, seed, samples, args.workers)
                 for name, process, num_jets, seed in wanted if process in tasks}
    generation = {name: summary for name, (_, summary) in generated.items()}
    started = time.perf_counter()

    if not args.report_only:
        for task in tasks:
            train_glob, test_glob = generated[f"{task}_train"][0], generated[f"{task}_test"][0]
            for family in families_of[task]:
                run_family(task, family, train_glob, test_glob, out, epochs[task], args.full)
        if "jec" in tasks:
            fit_and_apply([generated["jec_train"][0]], [generated["jec_test"][0]], out / "jec_standard",
                          overwrite=True)
    records = {f"{task}_{f}": training_record(out / f"{task}_{f}") for task in tasks for f in families_of[task]}
    command = command_line("physics.py", ("--report-only", "--no-write"))
    if "top" in tasks:
        top_report(args, out, families_of["top"], records, generation, command)
    if {"qg", "jec"} <= set(tasks):
        qg_jec_report(args, out, families, records, generation, command, epochs, started)


def top_report(args: argparse.Namespace, out: Path, families: list[str], records: dict, generation: dict,
               command: str) -> None:
    """The top-tagging table (AUC with bootstrap errors, paired difference to DeepSets, Rej@30/50%) beside the
    published numbers, into RESULTS.md between TOP_MARKERS."""
    order = sorted(families, key=lambda f: f != "deepsets")
    plot_models([str(out / f"top_{f}") for f in order], order, out / "figures_top")
    metrics = json.loads((out / "figures_top" / "classification_metrics.json").read_text())
    test_jets = max(100, args.top_jets // 4)
    g = generation["top_train"]
    lines = [f"## Top tagging benchmark (CPU, {torch.get_num_threads()} threads)", "", f"Command: `{command}`", "",
             f"Samples: {args.top_jets} generated top/QCD training jets (20% for validation), {test_jets} independent "
             f"test jets (`--process top`, generated at {g['jets_per_cpu_second']} jets per CPU s). AUC errors: "
             "bootstrap over the test jets; AUC - DeepSets: paired bootstrap on the same jets.", "",
             "| model | AUC | AUC - DeepSets | Rej@30% | Rej@50% | train time [s] | epochs (best) "
             "| published (1.2M jets) |",
             "|---" * 8 + "|"]
    for family in order:
        m, r = metrics[family], records[f"top_{family}"]
        delta = f"{m['delta_auc']:+.4f} ± {m['delta_auc_err']:.4f}" if family != order[0] else ""
        name, auc, rej30, source = PUBLISHED_TOP.get(family, ("", float("nan"), "", ""))
        published = f"{name}: AUC {auc}{f', Rej@30% {rej30}' if rej30 else ''} ({source})" if name else ""
        lines.append(f"| {family} | {m['auc']:.4f} ± {m['auc_err']:.4f} | {delta} | {rejection(m['rej30'])} "
                     f"| {rejection(m['rej50'])} | "
                     f"{r['seconds']:.0f} | {r['epochs']} ({r['best_epoch']}) | {published} |")
    lines += ["", "What differs from the published setting: gnnjet's parametric detector (tracks, ECAL, HCAL, SVs) "
              "instead "
              "of Delphes, extra particle features (charge, impact parameters, particle ids), a training sample "
              f"{1_200_000 // max(1, args.top_jets)}x smaller, CPU-sized presets and fewer epochs."]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, TOP_MARKERS)


def qg_jec_report(args: argparse.Namespace, out: Path, families: list[str], records: dict, generation: dict,
                  command: str, epochs: dict, started: float) -> None:
    """The q/g and JEC table into RESULTS.md between MARKERS."""
    # DeepSets first: every other model's AUC difference is taken to it, on the same test jets
    qg_order = sorted(families, key=lambda f: f != "deepsets")
    plot_models([str(out / f"qg_{f}") for f in qg_order], qg_order, out / "figures_qg")
    qg = json.loads((out / "figures_qg" / "classification_metrics.json").read_text())
    plot_models([str(out / f"jec_{f}") for f in families] + [str(out / "jec_standard")], [*families, "Standard"],
                out / "figures_jec")
    jec = json.loads((out / "figures_jec" / "jec_summary.json").read_text())["models"]
    rebuilt = " (this table rebuilt from its runs with `--report-only`)" if args.report_only else ""
    lines = [f"## Physics benchmark (CPU, {torch.get_num_threads()} threads)", "",
             f"Command: `{command}`{rebuilt}", "",
             f"Samples: QG {args.qg_jets} training jets (20% of them for validation) + {max(100, args.qg_jets // 4)} "
             f"test jets; JEC {args.jec_jets} training + {max(200, args.jec_jets // 4)} test jets; "
             f"epochs QG {epochs['qg']}, JEC {epochs['jec']} (early stopping as in the configs); "
             f"presets {'full' if args.full else 'as in configs/ (ParticleNet-Lite, small transformer)'}. "
             + ("" if args.report_only else
                f"Training, prediction and figures took {(time.perf_counter() - started) / 60:.1f} min. ") +
             "Generation: " + ", ".join(
                 f"{name.replace('_', ' ')} {s['wall_seconds'] / 60:.1f} min on {s['workers']} processes "
                 f"({s['jets_per_cpu_second']} jets per CPU s)"
                 for name, s in generation.items()) + ".",
             "", f"QG AUC errors: bootstrap standard deviation over the {max(100, args.qg_jets // 4)} test jets; "
             "AUC - DeepSets: difference on the same jets with its paired-bootstrap error. Train time: training "
             "passes summed over epochs (validation excluded).",
             "", "| model | QG acc | QG AUC | AUC - DeepSets | QG Rej@30% | QG Rej@50% | JEC res. impr. pt>30 | 30-100 "
             "| 100-300 | 300-1000 | flavour impr. | train time QG / JEC [s] | epochs QG / JEC (best) |",
             "|---" * 13 + "|"]
    for family in families:
        q, j = qg[family], jec[family]
        rq, rj = records[f"qg_{family}"], records[f"jec_{family}"]
        compared = "deepsets" in families and family != "deepsets"
        delta = f"{q['delta_auc']:+.4f} ± {q['delta_auc_err']:.4f}" if compared else ""
        lines.append(f"| {family} | {q['accuracy']:.3f} | {q['auc']:.4f} ± {q['auc_err']:.4f} | {delta} | "
                     f"{rejection(q['rej30'])} | {rejection(q['rej50'])} | "
                     f"{j['resolution_improvement_pt>30_%']:.1f}% | {j['resolution_improvement_30-100_%']:.1f}% | "
                     f"{j['resolution_improvement_100-300_%']:.1f}% | {j['resolution_improvement_300-1000_%']:.1f}% | "
                     f"{j.get('flavour_improvement_%', float('nan')):.0f}% | "
                     f"{rq['seconds']:.0f} / {rj['seconds']:.0f} | "
                     f"{rq['epochs']} ({rq['best_epoch']}) / {rj['epochs']} ({rj['best_epoch']}) |")
    s = jec["Standard"]
    lines.append(f"\nStandard correction (|eta|<2.5): resolution IQR/median {s['resolution_pt>30']:.4f} for pt>30 GeV, "
                 f"median response {s['median_response_pt>30']:.3f}.")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text)
    print(json.dumps({"qg": qg, "jec": jec, "training": records, "generation": generation}, default=float))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
