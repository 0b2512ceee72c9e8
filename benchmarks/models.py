#!/usr/bin/env python
"""Model throughput: forward and training (forward + backward + Adam step) jets/s at batch 512.

Every gnnjet family (configs' presets; ParticleNet and ParT at their full published size) and
weaver-core's ParticleNet and ParticleTransformer (PyPI weaver-core, a benchmark peer only) run on
the same jets of the committed q/g sample. weaver-core gets dense padded tensors built before
timing (its own loader delivers those), gnnjet gets its Batch. The ParticleNet pair is matched:
k=16, EdgeConv blocks (64,64,64)(128,128,128)(256,256,256), FC 256, no fusion, same inputs.
Medians over the timed steps; prints a table and, last, one JSON line.

    pip install --no-deps -r requirements-bench.txt      # weaver-core, without its heavy extras
    python benchmarks/models.py [--steps 5] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch_geometric.utils import to_dense_batch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from gnnjet.config import load_config  # noqa: E402
from gnnjet.data.dataset import JetDataset  # noqa: E402
from gnnjet.data.spec import DataSpec  # noqa: E402
from gnnjet.nn.registry import FAMILIES, build_model, count_parameters  # noqa: E402

GNNJET_PRESETS = {"particlenet": "particlenet", "gcn": None, "gat": None, "deepsets": "pfn", "transformer": "part",
                  "mipart": "mipart"}
PARTICLENET_BLOCKS = [(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step: Callable[[int], None], batches: int, steps: int, device: torch.device) -> float:
    """Median seconds of step(i) over `steps` calls after one warm-up call."""
    step(0)
    synchronize(device)
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step((i + 1) % batches)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(model: torch.nn.Module, inputs: list, call: Callable, batch_size: int, steps: int,
               device: torch.device) -> tuple[float, float]:
    """(forward jets/s in eval mode, training jets/s) of `model` on prepared `inputs`."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    targets = [torch.randint(0, 2, (batch_size,), device=device) for _ in inputs]

    def forward(i: int) -> None:
        with torch.no_grad():
            call(model, inputs[i])

    def train(i: int) -> None:
        loss = torch.nn.functional.cross_entropy(call(model, inputs[i]), targets[i])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    model.eval()
    forward_seconds = measure(forward, len(inputs), steps, device)
    model.train()
    train_seconds = measure(train, len(inputs), steps, device)
    return batch_size / forward_seconds, batch_size / train_seconds


def dense_inputs(batch, device: torch.device) -> dict[str, torch.Tensor]:
    """weaver-core's inputs: points [B, 2, P], features [B, F, P], lorentz vectors [B, 4, P], mask [B, 1, P]."""
    size = batch.ptr.numel() - 1
    features, mask = to_dense_batch(batch.x, batch.batch, batch_size=size)
    points, _ = to_dense_batch(batch.pos, batch.batch, batch_size=size)
    vectors, _ = to_dense_batch(batch.p4, batch.batch, batch_size=size)
    as_channels = lambda t: t.transpose(1, 2).contiguous().to(device)  # noqa: E731
    return {"points": as_channels(points), "features": as_channels(features), "vectors": as_channels(vectors),
            "mask": mask.unsqueeze(1).float().to(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", default=str(ROOT / "configs" / "qg_particlenet.yaml"))
    parser.add_argument("-i", "--input", default=str(ROOT / "data" / "qg" / "*.root"))
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--batches", type=int, default=4, help="distinct batches cycled through")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)

    config = load_config(args.config)
    dataset = JetDataset.from_files(DataSpec.from_config(config), [args.input], progress=False)
    batches = [dataset.batch(torch.arange(i * args.batch_size, (i + 1) * args.batch_size) % len(dataset))
               for i in range(args.batches)]
    features = dataset.num_node_features
    results: dict[str, dict[str, float]] = {}

    gnnjet_inputs = [b.to(device) for b in batches]
    for family in args.families.split(","):
        section = {"name": family, "preset": GNNJET_PRESETS[family]}
        model = build_model(section, features, 0, 2).to(device)
        fwd, trn = throughput(model, gnnjet_inputs, lambda m, b: m(b), args.batch_size, args.steps, device)
        results[family] = {"params": count_parameters(model), "fwd_jets_per_s": fwd, "train_jets_per_s": trn}
        print(f"  measured gnnjet {family}", flush=True)

    try:
        from weaver.nn.model.ParticleNet import ParticleNet
        from weaver.nn.model.ParticleTransformer import ParticleTransformer
    except ImportError:
        sys.exit("weaver-core is missing: pip install --no-deps -r requirements-bench.txt")
    dense = [dense_inputs(b, device) for b in batches]
    peers = {
        "weaver_particlenet": (ParticleNet(features, 2, conv_params=PARTICLENET_BLOCKS, fc_params=[(256, 0.1)],
                                           use_fusion=False),
                               lambda m, d: m(d["points"], d["features"], d["mask"])),
        "weaver_part": (ParticleTransformer(features, num_classes=2),
                        lambda m, d: m(d["features"], v=d["vectors"], mask=d["mask"])),
    }
    for name, (model, call) in peers.items():
        model.to(device)
        fwd, trn = throughput(model, dense, call, args.batch_size, args.steps, device)
        results[name] = {"params": count_parameters(model), "fwd_jets_per_s": fwd, "train_jets_per_s": trn}
        print(f"  measured {name}", flush=True)

    nodes = batches[0].num_nodes / args.batch_size
    print(f"\n{'model':<22}{'params':>12}{'forward jets/s':>18}{'train jets/s':>16}")
    for name, r in results.items():
        print(f"{name:<22}{r['params']:>12,}{r['fwd_jets_per_s']:>18,.0f}{r['train_jets_per_s']:>16,.0f}")
    def train_ratio(ours: str, theirs: str) -> float:
        if ours not in results:
            return float("nan")
        return results[ours]["train_jets_per_s"] / results[theirs]["train_jets_per_s"]

    ratio, part_ratio = train_ratio("particlenet", "weaver_particlenet"), train_ratio("transformer", "weaver_part")
    part_forward = (results["transformer"]["fwd_jets_per_s"] / results["weaver_part"]["fwd_jets_per_s"]
                    if "transformer" in results else float("nan"))
    print(f"device {device}, {torch.get_num_threads()} threads, batch {args.batch_size}, {nodes:.1f} nodes/jet, "
          f"{features} node features; medians of {args.steps} steps")
    print(f"ParticleNet training throughput gnnjet / weaver-core = {ratio:.2f}; ParT = {part_ratio:.2f} "
          f"(forward {part_forward:.2f})")
    out = {k: {m: round(v, 1) if isinstance(v, float) else v for m, v in r.items()} for k, r in results.items()}
    out.update(particlenet_train_ratio_vs_weaver=round(ratio, 3), part_train_ratio_vs_weaver=round(part_ratio, 3),
               part_forward_ratio_vs_weaver=round(part_forward, 3),
               device=str(device), batch_size=args.batch_size, nodes_per_jet=round(nodes, 1))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
