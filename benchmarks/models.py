#!/usr/bin/env python
"""Model throughput: forward and training (forward + backward + Adam step) jets/s at batch 512.

Every gnnjet family (configs' presets; ParticleNet and ParT at their full published size) and
weaver-core's ParticleNet and ParticleTransformer (PyPI weaver-core, a benchmark peer only) run on
the same jets of the committed q/g sample. weaver-core gets dense padded tensors built before
timing (its own loader delivers those), gnnjet gets its Batch. The ParticleNet pair is matched:
k=16, EdgeConv blocks (64,64,64)(128,128,128)(256,256,256), FC 256, no fusion, same inputs.
Medians over the timed steps; with `--rounds R` every model is measured R times in turn (round 1: all models,
round 2: all models, ...) and the figures are medians over the rounds, the ratios to weaver-core medians of the
rounds' ratios, so that a slow minute of a noisy machine hits both sides of a ratio. Prints a table and, last,
one JSON line (`<ratio key>_rounds`: each round's ratio). On CUDA each model also gets its peak GPU memory over its
training and forward measurements (`peak_memory_mb`).

Modes (`--modes`; eager always runs and keeps the published JSON keys): `bf16` = the same under
`torch.autocast(bfloat16)` (forward and loss, as training.amp does), `compile` = `torch.compile(dynamic=True)`
after a warm-up call on every distinct batch (compilation is excluded from the timing). Their figures get the
mode as a prefix (`bf16_train_jets_per_s`) and their ratios to weaver-core the mode as a suffix
(`part_train_ratio_vs_weaver_bf16`). On CUDA all three modes run by default.

    pip install --no-deps -r requirements-bench.txt      # weaver-core, without its heavy extras
    python benchmarks/models.py [--steps 5] [--rounds 3] [--device cuda] [--modes eager,bf16,compile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch_geometric.utils import to_dense_batch

from gnnjet.config import load_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.spec import DataSpec
from gnnjet.nn.registry import FAMILIES, build_model, count_parameters

ROOT = Path(__file__).resolve().parents[1]

PARTICLENET_BLOCKS = [(16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256))]
MODES = ("eager", "bf16", "compile")
# left out of the CPU default: LorentzNet's messages over every pair and L-GATr's multivector attention at batch 512
# ran for more than 25 minutes at 14.6 GB on 2 cores; --families lgatr,lorentznet measures them anyway
SLOW_ON_CPU = ("lorentznet", "lgatr")


def mode_prefix(mode: str) -> str:
    """Prefix of a mode's figures in the results: none for eager (the published keys), else "bf16_" etc."""
    return "" if mode == "eager" else f"{mode}_"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(step: Callable[[int], None], batches: int, steps: int, device: torch.device, warmups: int = 1) -> float:
    """Median seconds of step(i) over `steps` calls after `warmups` untimed calls on batches 0, 1, ..."""
    for i in range(warmups):
        step(i % batches)
    synchronize(device)
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step((i + 1) % batches)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def throughput(model: torch.nn.Module, inputs: list, call: Callable, batch_size: int, steps: int,
               device: torch.device, mode: str = "eager") -> tuple[float, float]:
    """(forward jets/s in eval mode, training jets/s) of `model` on prepared `inputs`, in one of MODES."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    targets = [torch.randint(0, 2, (batch_size,), device=device) for _ in inputs]
    if mode == "compile":
        model = torch.compile(model, dynamic=True)

    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast(device.type, dtype=torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()

    def forward(i: int) -> None:
        with torch.no_grad(), autocast():
            call(model, inputs[i])

    def train(i: int) -> None:
        with autocast():
            loss = torch.nn.functional.cross_entropy(call(model, inputs[i]).float(), targets[i])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    warmups = len(inputs) if mode == "compile" else 1  # a compiled model sees every shape before the clock starts
    # training first: on the CPU, forward passes of any model run ~1.8x faster in a process once a large model has
    # done a backward pass in it (measured for gnnjet's and weaver-core's ParT; flush-to-zero changes nothing), so
    # a forward pass timed before its model's training depends on what ran before it (RESULTS.md, model throughput)
    model.train()
    train_seconds = measure(train, len(inputs), steps, device, warmups)
    model.eval()
    forward_seconds = measure(forward, len(inputs), steps, device, warmups)
    return batch_size / forward_seconds, batch_size / train_seconds


def dense_inputs(batch, device: torch.device, length: int | None = None) -> dict[str, torch.Tensor]:
    """weaver-core's inputs: points [B, 2, P], features [B, F, P], lorentz vectors [B, 4, P], mask [B, 1, P]; P the
    largest jet of the batch, or `length`."""
    size = batch.ptr.numel() - 1
    features, mask = to_dense_batch(batch.x, batch.batch, batch_size=size, max_num_nodes=length)
    points, _ = to_dense_batch(batch.pos, batch.batch, batch_size=size, max_num_nodes=length)
    vectors, _ = to_dense_batch(batch.p4, batch.batch, batch_size=size, max_num_nodes=length)
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
    parser.add_argument("--rounds", type=int, default=1, help="times every model is measured, in turn")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--families", help="comma-separated gnnjet families (default: every family; on the CPU all "
                        f"but {', '.join(SLOW_ON_CPU)}, which take tens of minutes and > 14 GB at batch 512 there)")
    parser.add_argument("--peers", default="weaver_particlenet,weaver_part", help="weaver-core models to measure")
    parser.add_argument("--modes", help=f"comma-separated extra modes besides eager: {', '.join(MODES[1:])} "
                                        "(default: none on CPU, both on CUDA)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds: {args.rounds}; measure every model at least once (--rounds 1)")
    device = torch.device(args.device)
    default_modes = ",".join(MODES[1:]) if device.type == "cuda" else ""
    modes = ["eager", *[m.strip() for m in (args.modes or default_modes).split(",") if m.strip() not in ("", "eager")]]
    if set(modes) - set(MODES):
        parser.error(f"--modes: unknown mode(s) {sorted(set(modes) - set(MODES))}; choose from {', '.join(MODES)}")
    torch.manual_seed(0)

    config = load_config(args.config)
    dataset = JetDataset.from_files(DataSpec.from_config(config), [args.input], progress=False)
    batches = [dataset.batch(torch.arange(i * args.batch_size, (i + 1) * args.batch_size) % len(dataset))
               for i in range(args.batches)]
    features, num_node_types = dataset.num_node_features, len(dataset.spec.node_types)
    failures: dict[str, str] = {}  # "model (mode)" -> the error, for modes torch could not run

    def record(results: dict[str, dict[str, float]], name: str, build: Callable[[], torch.nn.Module], inputs: list,
               call: Callable) -> None:
        """Measure a freshly built model in every mode into results[name]."""
        for mode in modes:
            torch.manual_seed(0)
            model = build().to(device)
            prefix = mode_prefix(mode)
            results.setdefault(name, {"params": count_parameters(model)})
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            try:
                fwd, trn = throughput(model, inputs, call, args.batch_size, args.steps, device, mode)
            except Exception as err:  # noqa: BLE001 - a mode torch cannot run for one model must not end the table
                if mode == "eager":
                    raise
                failures[f"{name} ({mode})"] = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
                fwd = trn = float("nan")
            results[name].update({f"{prefix}fwd_jets_per_s": fwd, f"{prefix}train_jets_per_s": trn})
            if device.type == "cuda":  # the training step's peak: weights, optimizer state, activations
                results[name][f"{prefix}peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
            print(f"  measured {name} ({mode})" + (" FAILED" if fwd != fwd else ""), flush=True)

    # name -> (build, inputs, call) of every model measured, gnnjet's families first
    models: dict[str, tuple[Callable[[], torch.nn.Module], list, Callable]] = {}
    gnnjet_inputs = [b.to(device) for b in batches]
    families = args.families or ",".join(f for f in FAMILIES if device.type == "cuda" or f not in SLOW_ON_CPU)
    for family in families.split(","):
        section = {"name": family, "preset": FAMILIES[family].published}  # the published size (defaults if none)
        models[family] = (lambda section=section: build_model(section, features, 0, 2, num_node_types),
                          gnnjet_inputs, lambda m, b: m(b))

    try:
        from weaver.nn.model.ParticleNet import ParticleNet
        from weaver.nn.model.ParticleTransformer import ParticleTransformer
    except ImportError:
        sys.exit("weaver-core is missing: pip install --no-deps -r requirements-bench.txt")
    dense = [dense_inputs(b, device) for b in batches]
    peers = {
        "weaver_particlenet": (lambda: ParticleNet(features, 2, conv_params=PARTICLENET_BLOCKS,
                                                   fc_params=[(256, 0.1)], use_fusion=False),
                               lambda m, d: m(d["points"], d["features"], d["mask"])),
        "weaver_part": (lambda: ParticleTransformer(features, num_classes=2),
                        lambda m, d: m(d["features"], v=d["vectors"], mask=d["mask"])),
    }
    for name in filter(None, args.peers.split(",")):  # --peers "": gnnjet's families alone
        if name not in peers:
            sys.exit(f"--peers: unknown peer {name!r}; choose from {', '.join(peers)}")
        build, call = peers[name]
        models[name] = (build, dense, call)

    rounds: list[dict[str, dict[str, float]]] = []
    for number in range(args.rounds):
        if args.rounds > 1:
            print(f"round {number + 1} of {args.rounds}", flush=True)
        rounds.append({})
        for name, (build, inputs, call) in models.items():
            record(rounds[-1], name, build, inputs, call)
    results = {name: {key: value if key == "params" else statistics.median(r[name][key] for r in rounds)
                      for key, value in first.items()} for name, first in rounds[0].items()}

    nodes = batches[0].num_nodes / args.batch_size
    memory = device.type == "cuda"
    print(f"\n{'model':<22}{'mode':<9}{'params':>12}{'forward jets/s':>18}{'train jets/s':>16}"
          + f"{'peak MB':>10}" * memory)
    for name, r in results.items():
        for mode in modes:
            prefix = mode_prefix(mode)
            print(f"{name:<22}{mode:<9}{r['params']:>12,}{r[prefix + 'fwd_jets_per_s']:>18,.0f}"
                  f"{r[prefix + 'train_jets_per_s']:>16,.0f}" + (f"{r[prefix + 'peak_memory_mb']:>10,.0f}" if memory
                                                                  else ""))

    def ratios(ours: str, theirs: str, key: str) -> list[float]:
        """results[ours][key] / results[theirs][key] in every round (NaN where either was not measured)."""
        if ours not in results or theirs not in results:
            return [float("nan")]
        return [round(r[ours][key] / r[theirs][key], 3) for r in rounds]

    print(f"device {device}, {torch.get_num_threads()} threads, batch {args.batch_size}, {nodes:.1f} nodes/jet, "
          f"{features} node features; medians of {args.steps} steps" + f", {args.rounds} rounds" * (args.rounds > 1))
    out = {k: {m: round(v, 1) if isinstance(v, float) else v for m, v in r.items()} for k, r in results.items()}
    for mode in modes:
        prefix, suffix = mode_prefix(mode), "" if mode == "eager" else f"_{mode}"
        measured = {"particlenet_train_ratio_vs_weaver": ratios("particlenet", "weaver_particlenet",
                                                                f"{prefix}train_jets_per_s"),
                    "part_train_ratio_vs_weaver": ratios("transformer", "weaver_part", f"{prefix}train_jets_per_s"),
                    "part_forward_ratio_vs_weaver": ratios("transformer", "weaver_part", f"{prefix}fwd_jets_per_s")}
        median = {key: round(statistics.median(values), 3) for key, values in measured.items()}
        print(f"{mode}: ParticleNet training throughput gnnjet / weaver-core = "
              f"{median['particlenet_train_ratio_vs_weaver']:.2f}; ParT = {median['part_train_ratio_vs_weaver']:.2f} "
              f"(forward {median['part_forward_ratio_vs_weaver']:.2f})")
        for key, values in measured.items():
            out[key + suffix] = median[key]
            if args.rounds > 1:
                out[f"{key}{suffix}_rounds"] = values
    for what, error in failures.items():
        print(f"{what} failed: {error}")
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    out.update(failures=failures, device=str(device), device_name=device_name, modes=modes,
               batch_size=args.batch_size, nodes_per_jet=round(nodes, 1), rounds=args.rounds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
