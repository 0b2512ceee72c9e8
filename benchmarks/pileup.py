#!/usr/bin/env python
"""Pile-up identification per particle on generated jets: per-particle networks (node classification) against
PUPPI, charged-hadron subtraction (CHS) and no mitigation, trained at mean pile-up 60 and evaluated at 60 and 140 (issue
41's benchmark).

From --seed it generates q/g jets with `bin/generate.py --pileup MU` (reused if the directory is complete): a
training sample at the first MU and a test sample at each MU. Each network family trains on the training sample with
configs/pileup_particlenet.yaml (its model section replaced), `bin/puppi.py` and `bin/predict.py` run on every test
sample, and bin/plot.py's tables (particle_metrics.json, jet_metrics.json; `gnnjet.evaluate.particles`) give, every
method on the same constituents:
- the per-particle AUC of the hard-interaction score (the network's probability, PUPPI's weight) against the truth,
  over all constituents and over the neutral ones (where PUPPI does the work: charged ones keep their vertex
  association);
- the jet mass and pt resolution: IQR / median of mass_<method> / mass_nopu and pt_<method> / pt_nopu, the network's
  jet rebuilt from its constituents weighted by their hard-interaction probability.
bin/plot.py draws each MU's figures into OUT/figures_pu<MU> (per-particle ROCs, jet mass and pt resolution).

    python benchmarks/pileup.py --train-jets 4000 --test-jets 2000 --epochs 10 --seed 11 --out benchmarks/pileup_runs

Prints a table and, last, one JSON line with auc_<method>_pu<MU>, auc_neutral_<method>_pu<MU>,
mass_resolution_<method>_pu<MU>, mass_response_<method>_pu<MU> (the median) and pt_resolution_<method>_pu<MU> for
method in network (the family with the best AUC at the training MU), each family by its key, puppi, chs, none.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONFIG = ROOT / "configs" / "pileup_particlenet.yaml"
# family key -> (legend name, bin/train.py --set overrides)
FAMILIES = {"particlenet_lite": ("ParticleNet-Lite", ["model={name: particlenet, preset: lite}"]),
            "transformer_small": ("Transformer (small)", ["model={name: transformer, preset: small}"])}
BASELINES = {"PUPPI": "puppi", "CHS": "chs", "no mitigation": "none"}  # method of the PUPPI file -> its key


def sample(directory: Path, mu: float, jets: int, seed: int) -> Path:
    """The generated jets at pile-up `mu` in `directory` (made once)."""
    if not list(directory.glob("*generation.json")):
        subprocess.run([sys.executable, str(ROOT / "bin/generate.py"), "--process", "qg", "-n", str(jets),
                        "--pileup", str(mu), "--seed", str(seed), "-o", str(directory), "--overwrite"], check=True)
    return directory


def train(run: Path, overrides: list[str], train_dir: Path, epochs: int) -> Path:
    """A family trained on `train_dir` (reused if `run` holds a finished run)."""
    if not (run / "best.pt").exists():
        sets = [item for override in overrides for item in ("--set", override)]
        subprocess.run([sys.executable, str(ROOT / "bin/train.py"), "-c", str(CONFIG), "-i", str(train_dir / "*.root"),
                        "-o", str(run), "--epochs", str(epochs), "--overwrite", *sets], check=True)
    return run


def run_bin(script: str, *args: object) -> None:
    subprocess.run([sys.executable, str(ROOT / "bin" / script), *map(str, args)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-jets", type=int, default=4000)
    parser.add_argument("--test-jets", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--pileup", type=float, nargs="+", default=[60.0, 140.0], help="the first is trained on")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "pileup_runs")
    args = parser.parse_args()
    train_dir = sample(args.out / f"samples/train_pu{args.pileup[0]:g}", args.pileup[0], args.train_jets, args.seed)
    runs = {key: train(args.out / f"net_{key}", FAMILIES[key][1], train_dir, args.epochs) for key in args.families}
    keys = {FAMILIES[key][0]: key for key in args.families} | BASELINES
    summary: dict[str, float] = {}
    rows = []
    for mu in args.pileup:
        directory = sample(args.out / f"samples/pu{mu:g}", mu, args.test_jets, args.seed + int(mu))
        puppi = args.out / f"puppi_pu{mu:g}"
        run_bin("puppi.py", "-i", directory / "*.root", "-o", puppi, "--overwrite")
        files = []
        for key, run in runs.items():
            files.append(run / f"pred_pu{mu:g}.root")
            run_bin("predict.py", "-m", run, "-i", directory / "*.root", "-o", files[-1], "--overwrite")
        names = [FAMILIES[key][0] for key in runs] + ["PUPPI file"]
        figures = args.out / f"figures_pu{mu:g}"
        run_bin("plot.py", "-i", ", ".join(map(str, [*files, puppi])), "-n", ", ".join(names), "-o", figures)
        # bin/plot.py's tables (`gnnjet.evaluate.particles`): every method on the same constituents and jets
        particles = json.loads((figures / "particle_metrics.json").read_text())
        jets = json.loads((figures / "jet_metrics.json").read_text())
        for method, key in keys.items():
            tag = f"{key}_pu{mu:g}"
            summary |= {f"auc_{tag}": round(particles[method]["auc"], 4),
                        f"auc_neutral_{tag}": round(particles[method]["auc_neutral"], 4),
                        f"mass_resolution_{tag}": round(jets[method]["mass_resolution"], 4),
                        f"mass_response_{tag}": round(jets[method]["mass_response"], 4),
                        f"pt_resolution_{tag}": round(jets[method]["pt_resolution"], 4)}
            rows.append(f"| {mu:g} | {method} | {summary[f'auc_{tag}']:.4f} | {summary[f'auc_neutral_{tag}']:.4f} | "
                        f"{summary[f'mass_resolution_{tag}']:.3f} | {summary[f'mass_response_{tag}']:.3f} | "
                        f"{summary[f'pt_resolution_{tag}']:.3f} |")
        print(f"MU {mu:g}: {int(particles['PUPPI']['particles'])} constituents compared", flush=True)
    best = max(args.families, key=lambda key: summary[f"auc_{key}_pu{args.pileup[0]:g}"])
    for name in [k for k in summary if k.split("_pu")[0].endswith(best)]:
        summary[name.replace(best, "network")] = summary[name]
    print(f"network: {FAMILIES[best][0]} (best AUC at MU {args.pileup[0]:g})")
    print("| MU | method | AUC (all constituents) | AUC (neutral) | mass IQR/median | mass median | pt IQR/median |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
