#!/usr/bin/env python
"""CPU prediction jets/s of every family through bin/predict.py's inference loop (`runs.inference.evaluate`: batches
gathered from the cache with prefetch, eval-mode forward, outputs collected), at batch 512, against weaver-core's
ParticleNet and ParticleTransformer forward passes on the same jets (dense padded tensors built before timing, as
weaver-core's own loader delivers them; benchmarks/models.py's peers).

Families at their published size (ParticleNet, the transformer at ParT's, LorentzNet, L-GATr; the others at their
defaults), untrained (the timing does not depend on the weights); jets of the committed q/g sample
(configs/qg_particlenet.yaml's inputs; LorentzNet and L-GATr see the four-vectors). Each figure is the median over
--rounds, the models alternating within a round.

    python benchmarks/predict_speed.py --jets 2048 --rounds 3

Prints a table and, last, one JSON line ({model}_jets_per_s, and particlenet_ratio_vs_weaver,
part_ratio_vs_weaver).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gnnjet.config import load_config  # noqa: E402
from gnnjet.data.dataset import JetDataset  # noqa: E402
from gnnjet.data.spec import DataSpec  # noqa: E402
from gnnjet.nn.registry import FAMILIES, build_model  # noqa: E402
from gnnjet.runs.inference import evaluate  # noqa: E402

from models import PARTICLENET_BLOCKS, dense_inputs  # noqa: E402

SLOW = {"lgatr": 256}  # jets measured for families too slow for --jets on the CPU (L-GATr: ~9 jets/s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--families", default=",".join(FAMILIES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(ROOT / "configs" / "qg_particlenet.yaml")
    dataset = JetDataset.from_files(DataSpec.from_config(config), [str(ROOT / "data" / "qg" / "*.root")],
                                    progress=False)
    features, types = dataset.num_node_features, len(dataset.spec.node_types)
    cpu = torch.device("cpu")

    def ours(family: str):
        torch.manual_seed(0)
        model = build_model({"name": family, "preset": FAMILIES[family].published}, features, 0, 2,
                            num_node_types=types).eval()
        index = np.arange(min(args.jets, SLOW.get(family, args.jets))) % len(dataset)
        return lambda: evaluate(model, dataset, index, args.batch_size, cpu), len(index)

    from weaver.nn.model.ParticleNet import ParticleNet
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    batches = [dense_inputs(dataset.batch(torch.arange(lo, min(lo + args.batch_size, args.jets)) % len(dataset)), cpu)
               for lo in range(0, args.jets, args.batch_size)]

    def theirs(build, call):
        torch.manual_seed(0)
        model = build().eval()

        def run() -> None:
            with torch.no_grad():
                for inputs in batches:
                    call(model, inputs)
        return run, args.jets

    runs = {family: ours(family) for family in args.families.split(",")}
    runs["weaver_particlenet"] = theirs(
        lambda: ParticleNet(features, 2, conv_params=PARTICLENET_BLOCKS, fc_params=[(256, 0.1)], use_fusion=False),
        lambda m, d: m(d["points"], d["features"], d["mask"]))
    runs["weaver_part"] = theirs(lambda: ParticleTransformer(features, num_classes=2),
                                 lambda m, d: m(d["features"], v=d["vectors"], mask=d["mask"]))
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for number in range(args.rounds):
        for name, (run, jets) in runs.items():
            if number == 0:
                run()  # warm-up
            start = time.perf_counter()
            run()
            rates[name].append(jets / (time.perf_counter() - start))
        print(f"round {number + 1} of {args.rounds} done", flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\nbatch {args.batch_size}, {args.threads} threads, q/g sample ({dataset.x.shape[0] / len(dataset):.1f} "
          f"nodes per jet), medians of {args.rounds} rounds")
    print("| model | jets/s | rounds |\n|---|---|---|")
    for name, value in median.items():
        print(f"| {name} | {value:,.0f} | {', '.join(f'{v:,.0f}' for v in rates[name])} |")
    summary = {f"{name}_jets_per_s": round(value, 1) for name, value in median.items()}
    if "particlenet" in median:
        summary["particlenet_ratio_vs_weaver"] = round(median["particlenet"] / median["weaver_particlenet"], 3)
    if "transformer" in median:
        summary["part_ratio_vs_weaver"] = round(median["transformer"] / median["weaver_part"], 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
