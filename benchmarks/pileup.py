#!/usr/bin/env python
"""Pile-up mitigation per particle on generated jets: PUPPI, charged-hadron subtraction (CHS) and no mitigation, at
mean pile-up 60 and 140, against the hard-interaction truth the generator records (issue 41's benchmark; the
per-particle networks join it once node tasks exist).

For each MU it generates q/g jets with `bin/generate.py --pileup MU` (from --seed; reused if the directory is
complete), runs `bin/puppi.py`, and measures per method:
- the per-particle AUC of the weight as a hard-interaction score against the truth (1 - ch_is_pu / ne_is_pu), over
  all constituents and over the neutral ones (where PUPPI does the work: charged ones keep their vertex association);
- the jet mass and pt resolution: IQR / median of mass_<method> / mass_nopu and pt_<method> / pt_nopu.

    python benchmarks/pileup.py --test-jets 2000 --seed 11 --out benchmarks/pileup_runs

Prints a table and, last, one JSON line with auc_<method>_pu<MU>, auc_neutral_<method>_pu<MU>,
mass_resolution_<method>_pu<MU>, mass_response_<method>_pu<MU> (the median) and pt_resolution_<method>_pu<MU>.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnjet.evaluate.stats import auc  # noqa: E402

METHODS = ("puppi", "chs", "none")


def sample(out: Path, mu: float, jets: int, seed: int) -> Path:
    """The generated jets at pile-up `mu` (made once)."""
    directory = out / f"samples/pu{mu:g}"
    if not list(directory.glob("*generation.json")):
        subprocess.run([sys.executable, str(ROOT / "bin/generate.py"), "--process", "qg", "-n", str(jets),
                        "--pileup", str(mu), "--seed", str(seed), "-o", str(directory), "--overwrite"], check=True)
    return directory


def per_particle(columns: ak.Array, method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, hard-interaction truth, is neutral) of every constituent under `method`."""
    if method == "puppi":
        charged, neutral = columns.ch_puppi, columns.ne_puppi
    elif method == "chs":  # charged constituents by their vertex association, as PUPPI weighs them too
        charged, neutral = columns.ch_puppi, ak.ones_like(columns.ne_is_pu)
    else:
        charged, neutral = ak.ones_like(columns.ch_is_pu), ak.ones_like(columns.ne_is_pu)
    weights = np.concatenate([ak.to_numpy(ak.flatten(charged)), ak.to_numpy(ak.flatten(neutral))]).astype(float)
    truth = 1 - np.concatenate([ak.to_numpy(ak.flatten(columns.ch_is_pu)), ak.to_numpy(ak.flatten(columns.ne_is_pu))])
    neutral_flag = np.concatenate([np.zeros(int(ak.sum(ak.num(charged)))), np.ones(int(ak.sum(ak.num(neutral))))])
    return weights, truth, neutral_flag.astype(bool)


def resolution(values: np.ndarray) -> tuple[float, float]:
    """(IQR / median, median) of a ratio."""
    q25, q50, q75 = np.percentile(values, [25, 50, 75])
    return float((q75 - q25) / q50), float(q50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test-jets", type=int, default=2000)
    parser.add_argument("--pileup", type=float, nargs="+", default=[60.0, 140.0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "pileup_runs")
    args = parser.parse_args()
    summary: dict[str, float] = {}
    rows = []
    for mu in args.pileup:
        directory = sample(args.out, mu, args.test_jets, args.seed + int(mu))
        predictions = args.out / f"puppi_pu{mu:g}"
        subprocess.run([sys.executable, str(ROOT / "bin/puppi.py"), "-i", str(directory / "*.root"), "-o",
                        str(predictions), "--overwrite"], check=True)
        columns = uproot.open(predictions / "pred.root")["Jets"].arrays()
        good = ak.to_numpy(columns.mass_nopu) > 1.0  # a jet mass to compare with
        for method in METHODS:
            weights, truth, neutral = per_particle(columns, method)
            key = f"{method}_pu{mu:g}"
            summary[f"auc_{key}"] = round(auc(weights, truth), 4)
            summary[f"auc_neutral_{key}"] = round(auc(weights[neutral], truth[neutral]), 4)
            mass_res, mass_med = resolution(ak.to_numpy(columns[f"mass_{method}"])[good] /
                                            ak.to_numpy(columns.mass_nopu)[good])
            pt_res, _ = resolution(ak.to_numpy(columns[f"pt_{method}"]) / ak.to_numpy(columns.pt_nopu))
            summary |= {f"mass_resolution_{key}": round(mass_res, 4), f"mass_response_{key}": round(mass_med, 4),
                        f"pt_resolution_{key}": round(pt_res, 4)}
            rows.append(f"| {mu:g} | {method} | {summary[f'auc_{key}']:.4f} | {summary[f'auc_neutral_{key}']:.4f} | "
                        f"{mass_res:.3f} | {mass_med:.3f} | {pt_res:.3f} |")
        pu_fraction = float(np.mean(per_particle(columns, 'none')[1] == 0))
        print(f"MU {mu:g}: {len(columns)} jets, {pu_fraction:.1%} of the constituents from pile-up", flush=True)
    print("| MU | method | AUC (all constituents) | AUC (neutral) | mass IQR/median | mass median | pt IQR/median |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
