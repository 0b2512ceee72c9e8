#!/usr/bin/env python
"""LorentzNet training and forward jets/s: gnnjet's `lorentznet` against the LorentzNet release's own model code,
same jets (the committed top sample, ~54 constituents per jet), published size (6 blocks, 72 hidden, mass scalars,
beams), same batch size, same threads.

The release (github.com/sdogsq/LorentzNet-release, GPL-3.0) is not part of gnnjet: pass the path of a checkout, whose
``models.py`` is imported from there. It is fed as its own collate function feeds it (written here from its
interface): each batch padded to its largest jet plus two beams (sqrt(2), 0, 0, +-1), scalars psi(one-hot (particle,
beam) x mass), node and edge masks, and the real ordered pairs (beams included, i != j) as edges. Batch building is
not timed, for either.

    python benchmarks/lorentznet_speed.py --release /path/to/LorentzNet-release --batch-size 32 --rounds 3

Prints a table of medians over rounds and, last, one JSON line (``train_ratio``, ``forward_ratio``: gnnjet / release).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnjet.config import load_config  # noqa: E402
from gnnjet.data.dataset import JetDataset  # noqa: E402
from gnnjet.data.spec import DataSpec  # noqa: E402
from gnnjet.nn.models.lorentznet import minkowski, psi  # noqa: E402
from gnnjet.nn.registry import build_model  # noqa: E402


def release_module(path: Path):
    """The release's models.py, imported from the user's checkout."""
    spec = importlib.util.spec_from_file_location("lorentznet_release_models", path / "models.py")
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}/models.py: not found (give a LorentzNet-release checkout)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def release_inputs(batch) -> dict:
    """The release's model inputs for a gnnjet batch, as its collate and training loop build them."""
    counts = (batch.ptr[1:] - batch.ptr[:-1]).tolist()
    size, width = len(counts), max(counts) + 2
    vectors = torch.zeros(size, width, 4)
    real = torch.zeros(size, width, dtype=torch.bool)
    beam = torch.zeros(size, width, 1)
    four = batch.p4[:, [3, 0, 1, 2]]
    for b, (lo, n) in enumerate(zip(batch.ptr[:-1].tolist(), counts)):
        vectors[b, 0] = torch.tensor([math.sqrt(2.0), 0.0, 0.0, 1.0])
        vectors[b, 1] = torch.tensor([math.sqrt(2.0), 0.0, 0.0, -1.0])
        vectors[b, 2:n + 2] = four[lo:lo + n]
        real[b, :n + 2] = True
        beam[b, :2] = 1.0
    pairs = real[:, :, None] & real[:, None, :] & ~torch.eye(width, dtype=torch.bool)
    jet, i, j = pairs.nonzero(as_tuple=True)
    mass = minkowski(vectors, vectors).abs().sqrt()  # [B, P, 1]
    scalars = psi(torch.cat([beam * mass, (1 - beam) * mass], dim=-1)).view(size * width, 2)
    return {"scalars": scalars, "x": vectors.view(size * width, 4), "edges": [jet * width + i, jet * width + j],
            "node_mask": real.view(size * width, 1), "edge_mask": pairs.reshape(-1, 1), "n_nodes": width}


def rate(model: torch.nn.Module, batches: list, call, train: bool) -> float:
    """Jets per second of a training step (AdamW, cross entropy on fixed labels) or of a no-grad forward."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train(train)
    jets = 0
    start = time.perf_counter()
    for batch, inputs, labels in batches:
        if train:
            loss = torch.nn.functional.cross_entropy(call(model, batch, inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                call(model, batch, inputs)
        jets += len(labels)
    return jets / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--release", type=Path, required=True, help="a LorentzNet-release checkout (its models.py)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    release = release_module(args.release)
    spec = DataSpec.from_config(load_config(ROOT / "configs" / "top_lorentznet.yaml"))
    dataset = JetDataset.from_files(spec, [str(ROOT / "data" / "top" / "*.root")], progress=False)
    batches = []
    for k in range(args.batches):
        batch = dataset.batch(torch.arange(k * args.batch_size, (k + 1) * args.batch_size) % len(dataset))
        batches.append((batch, release_inputs(batch), batch.y))
    nodes = sum(int(b.ptr[-1]) for b, _, _ in batches) / (args.batches * args.batch_size)
    torch.manual_seed(0)
    ours = build_model({"name": "lorentznet", "preset": "lorentznet"}, **spec.model_inputs(), out_dim=2)
    theirs = release.LorentzNet(n_scalar=2, n_hidden=72, n_class=2, n_layers=6, c_weight=0.005, dropout=0.2)
    models = {"gnnjet": (ours, lambda model, batch, inputs: model(batch)),
              "release": (theirs, lambda model, batch, inputs: model(**inputs))}
    results: dict[str, dict[str, list[float]]] = {name: {"train": [], "forward": []} for name in models}
    for _ in range(args.rounds):
        for name, (model, call) in models.items():
            rate(model, batches[:1], call, train=True)  # warm-up
            results[name]["train"].append(rate(model, batches, call, train=True))
            results[name]["forward"].append(rate(model, batches, call, train=False))
    median = {name: {k: statistics.median(v) for k, v in values.items()} for name, values in results.items()}
    print(f"top sample, {nodes:.1f} constituents per jet, batch {args.batch_size}, {args.threads} threads, "
          f"{args.rounds} rounds")
    print("| model | training jets/s | forward jets/s | rounds (training) |\n|---|---|---|---|")
    for name, values in median.items():
        runs = ", ".join(f"{v:.1f}" for v in results[name]["train"])
        print(f"| {name} | {values['train']:.1f} | {values['forward']:.1f} | {runs} |")
    summary = {"train_ratio": round(median["gnnjet"]["train"] / median["release"]["train"], 2),
               "forward_ratio": round(median["gnnjet"]["forward"] / median["release"]["forward"], 2),
               "batch_size": args.batch_size, "nodes_per_jet": round(nodes, 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
