#!/usr/bin/env python
"""LorentzNet's numerical precision: the published-size model's outputs in float32 and under bfloat16 autocast
against the same model and jets in float64, on the committed top sample (data/top: boosted R = 0.8 jets whose
constituents are nearly collinear, where Minkowski products of float32 four-vectors cancel).

The model is the published size (`preset: lorentznet`) with seeded random weights (no trained checkpoint can be
downloaded here), its x updates scaled up (`--x-gain`) so that the four-vectors move as in a trained model.

    python benchmarks/lorentznet_precision.py --jets 500

Prints, per precision, the mean and largest |difference| over the jets of the top score and of the logits, and one
JSON line last (keys ``score_diff_mean_<p>``, ``score_diff_max_<p>``, ``logit_diff_max_<p>`` for p in fp32, bf16).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnjet.config import load_config  # noqa: E402
from gnnjet.data.dataset import JetDataset  # noqa: E402
from gnnjet.data.spec import DataSpec  # noqa: E402
from gnnjet.nn.registry import build_model  # noqa: E402


def outputs(model: torch.nn.Module, batch, dtype: torch.dtype, autocast: bool = False) -> torch.Tensor:
    """Logits of `model` converted to `dtype` on `batch` (its float tensors converted too), or in float32 under
    bfloat16 autocast."""
    model = model.to(dtype)
    converted = batch.clone()
    for name in ("x", "pos", "p4", "u"):
        setattr(converted, name, getattr(batch, name).to(dtype))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return model(converted).double()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--x-gain", type=float, default=1.0, help="xavier gain of each block's last x-update layer "
                        "(the model's own initialisation: 0.001)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = load_config(ROOT / "configs" / "top_lorentznet.yaml")
    spec = DataSpec.from_config(config)
    dataset = JetDataset.from_files(spec, [str(ROOT / "data" / "top" / "*.root")], progress=False)
    torch.manual_seed(args.seed)
    model = build_model({"name": "lorentznet", "preset": "lorentznet"}, **spec.model_inputs(), out_dim=2)
    for block in model.blocks:
        if block.update_x:
            torch.nn.init.xavier_uniform_(block.phi_x[2].weight, gain=args.x_gain)
    model.eval()
    differences: dict[str, list[torch.Tensor]] = {"fp32": [], "bf16": []}
    logits: dict[str, list[torch.Tensor]] = {"fp32": [], "bf16": []}
    for start in range(0, min(args.jets, len(dataset)), args.batch_size):
        batch = dataset.batch(torch.arange(start, min(start + args.batch_size, args.jets, len(dataset))))
        reference = outputs(model, batch, torch.float64)
        for name, result in (("fp32", outputs(model, batch, torch.float32)),
                             ("bf16", outputs(model, batch, torch.float32, autocast=True))):
            differences[name].append((torch.softmax(result, 1) - torch.softmax(reference, 1))[:, 0].abs())
            logits[name].append((result - reference).abs().amax(1))
    summary = {}
    print("| precision | mean abs diff of the top score | max | max abs diff of the logits |\n|---|---|---|---|")
    for name in differences:
        score, logit = torch.cat(differences[name]), torch.cat(logits[name])
        summary |= {f"score_diff_mean_{name}": float(score.mean()), f"score_diff_max_{name}": float(score.max()),
                    f"logit_diff_max_{name}": float(logit.max())}
        print(f"| {name} | {score.mean():.2e} | {score.max():.2e} | {logit.max():.2e} |")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
