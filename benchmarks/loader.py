#!/usr/bin/env python
"""Batch-building throughput: gnnjet's vectorised loader vs PyG's stock path, same jets, one run.

Stock path = a list of `Data` objects (dataset[i] for every jet) + torch_geometric.loader.DataLoader.
Both run on one core (torch.set_num_threads(1)), shuffled, batch 512, prefetch off for gnnjet so
that only batch building is timed. Prints a table and, last, one JSON line.

    python benchmarks/loader.py [-i "data/qg/*.root"] [--jets 50000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch_geometric.loader import DataLoader

from gnnjet.config import load_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.loader import JetLoader
from gnnjet.data.spec import DataSpec

ROOT = Path(__file__).resolve().parents[1]


def time_epoch(batches) -> tuple[float, int]:
    start, jets = time.perf_counter(), 0
    for batch in batches:
        jets += batch.num_graphs
    return time.perf_counter() - start, jets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", default=str(ROOT / "configs" / "qg_particlenet.yaml"))
    parser.add_argument("-i", "--input", default=str(ROOT / "data" / "qg" / "*.root"))
    parser.add_argument("--jets", type=int, default=50_000, help="jets used (the sample is tiled up to this)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    spec = DataSpec.from_config(load_config(args.config))
    with tempfile.TemporaryDirectory() as cache:
        dataset = JetDataset.from_files(spec, [args.input], cache_root=cache, progress=False)
        index = torch.arange(args.jets) % len(dataset)
        ours = JetLoader(dataset, batch_size=args.batch_size, shuffle=True, indices=index.numpy(), prefetch=0)
        data_list = [dataset[int(i)] for i in index]
        stock = DataLoader(data_list, batch_size=args.batch_size, shuffle=True)
        rates = {"gnnjet": [], "pyg": []}
        for repeat in range(args.repeats):
            ours.set_epoch(repeat)
            for name, batches in (("gnnjet", ours), ("pyg", stock)):
                seconds, jets = time_epoch(batches)
                rates[name].append(jets / seconds)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"{'loader':<10}{'median jets/s':>16}{'runs':>40}")
    for name, values in rates.items():
        print(f"{name:<10}{median[name]:>16,.0f}   " + ", ".join(f"{v:,.0f}" for v in values))
    print(f"sample: {len(dataset)} distinct jets tiled to {args.jets}, {dataset.x.shape[1]} node features, "
          f"{dataset.x.shape[0] / len(dataset):.1f} nodes/jet, batch {args.batch_size}, 1 thread")
    print(json.dumps({"gnnjet_jets_per_s": round(median["gnnjet"]), "pyg_jets_per_s": round(median["pyg"]),
                      "ratio": round(median["gnnjet"] / median["pyg"], 2), "batch_size": args.batch_size,
                      "jets": args.jets, "nodes_per_jet": round(dataset.x.shape[0] / len(dataset), 1)}))


if __name__ == "__main__":
    main()
