#!/usr/bin/env python
"""CPU inference: PyTorch (eager, packed batches) against ONNX Runtime running gnnjet's exports of the same model
(its packed convention, and CMSSW's dense inputs padded to each node type's max_nodes as a producer pads them), at
batch 1 (one jet at a time, as a producer in CMSSW calls it) and at batch 256, on jets of the committed q/g sample
(configs/qg_particlenet.yaml's inputs).

Models: ParticleNet at its published size (preset particlenet) and the ParT-like transformer at ParT's size (preset
part), untrained (the timing does not depend on the weights). Each is exported with gnnjet.export.export_model and
export_dense (opset 18) and the backends score the same batches, checked to agree within 1e-4 first. Figures are
medians over the timed repetitions; with --rounds R the backends alternate R times and the ratio is the median of
the rounds' ratios. Prints a table and, last, one JSON line.

    python benchmarks/inference.py [--jets 256] [--repeats 5] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from gnnjet.config import load_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.spec import DataSpec
from gnnjet.export import DenseLayout, dense_inputs, export_dense, export_model
from gnnjet.export.cmssw import ClassifierOutputs
from gnnjet.nn.registry import build_model
from gnnjet.runs.onnx import INPUTS, onnx_inputs
from gnnjet.tasks.classification import Classification

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"particlenet": {"name": "particlenet", "preset": "particlenet"},
          "part": {"name": "transformer", "preset": "part"}}


def seconds_per_call(call: Callable[[int], object], calls: int, repeats: int) -> float:
    """Median over `repeats` of the seconds per call of call(0) ... call(calls - 1), after one untimed pass."""
    for i in range(min(calls, 3)):
        call(i)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(calls):
            call(i)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, default=256, help="jets scored one at a time (batch 1) per repetition")
    parser.add_argument("--batches", type=int, default=2, help="batches of 256 jets per repetition")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="threads of both backends")
    parser.add_argument("--models", default=",".join(MODELS))
    args = parser.parse_args()
    import onnxruntime

    torch.set_num_threads(args.threads)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
    config = load_config(ROOT / "configs" / "qg_particlenet.yaml")
    dataset = JetDataset.from_files(DataSpec.from_config(config), [str(ROOT / "data" / "qg" / "*.root")],
                                    progress=False)
    singles = [dataset.batch([i]) for i in range(args.jets)]
    batches = [dataset.batch(torch.arange(i * 256, (i + 1) * 256) % len(dataset)) for i in range(args.batches)]
    results: dict[str, dict[str, float]] = {}
    rounds: dict[str, list[float]] = {}
    for name in args.models.split(","):
        torch.manual_seed(0)
        model = build_model(MODELS[name], **dataset.spec.model_inputs(), out_dim=2).eval()
        layout = DenseLayout.of(dataset.spec)
        lengths = {group.name: group.length for group in layout.groups}
        with tempfile.TemporaryDirectory() as tmp:
            path, dense_path = Path(tmp) / f"{name}.onnx", Path(tmp) / f"{name}_cmssw.onnx"
            export_model(model, batches[0], path)
            export_dense(model, layout, ClassifierOutputs(Classification(["a", "b"])), dense_path)
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            dense = onnxruntime.InferenceSession(str(dense_path), options, providers=["CPUExecutionProvider"])

        def feeds(batch) -> dict[str, np.ndarray]:  # noqa: ANN001
            return {key: tensor.numpy() for key, tensor in zip(INPUTS, onnx_inputs(batch))}

        single_feeds, batch_feeds = [feeds(b) for b in singles], [feeds(b) for b in batches]
        single_dense = [dense_inputs(b, layout, lengths) for b in singles]
        batch_dense = [dense_inputs(b, layout, lengths) for b in batches]
        with torch.no_grad():
            for batch, fed, fed_dense in zip(batches[:1] + singles[:8], batch_feeds[:1] + single_feeds[:8],
                                             batch_dense[:1] + single_dense[:8]):
                expected = model(batch)
                np.testing.assert_allclose(session.run(None, fed)[0], expected.numpy(), atol=1e-4, rtol=1e-4)
                np.testing.assert_allclose(dense.run(None, fed_dense)[0], torch.softmax(expected, 1).numpy(),
                                           atol=1e-4, rtol=1e-4)
            measured: dict[str, list[float]] = {key: [] for key in ("torch_b1", "ort_b1", "cmssw_b1", "torch_b256",
                                                                    "ort_b256", "cmssw_b256")}
            for _ in range(args.rounds):
                measured["torch_b1"].append(1 / seconds_per_call(lambda i: model(singles[i]), args.jets, args.repeats))
                measured["ort_b1"].append(1 / seconds_per_call(lambda i: session.run(None, single_feeds[i]), args.jets,
                                                               args.repeats))
                measured["cmssw_b1"].append(1 / seconds_per_call(lambda i: dense.run(None, single_dense[i]),
                                                                 args.jets, args.repeats))
                measured["cmssw_b256"].append(256 / seconds_per_call(lambda i: dense.run(None, batch_dense[i]),
                                                                     args.batches, args.repeats))
                measured["torch_b256"].append(256 / seconds_per_call(lambda i: model(batches[i]), args.batches,
                                                                     args.repeats))
                measured["ort_b256"].append(256 / seconds_per_call(lambda i: session.run(None, batch_feeds[i]),
                                                                   args.batches, args.repeats))
        results[name] = {key: statistics.median(values) for key, values in measured.items()}
        for size in ("b1", "b256"):
            rounds[f"{name}_ort_vs_torch_{size}"] = [o / t for o, t in zip(measured[f"ort_{size}"],
                                                                            measured[f"torch_{size}"])]
    print(f"CPU inference jets/s, {args.threads} thread(s), medians of {args.repeats} repetitions, "
          f"{args.rounds} round(s); jets of the committed q/g sample")
    print("| model | PyTorch b1 | ONNX Runtime b1 | ratio | CMSSW convention b1 | PyTorch b256 | ONNX Runtime b256 | "
          "ratio | CMSSW convention b256 |")
    print("|---|---|---|---|---|---|---|---|---|")
    out: dict[str, float] = {}
    for name, r in results.items():
        ratio_1 = statistics.median(rounds[f"{name}_ort_vs_torch_b1"])
        ratio_256 = statistics.median(rounds[f"{name}_ort_vs_torch_b256"])
        print(f"| {name} | {r['torch_b1']:.0f} | {r['ort_b1']:.0f} | {ratio_1:.2f} | {r['cmssw_b1']:.0f} | "
              f"{r['torch_b256']:.0f} | {r['ort_b256']:.0f} | {ratio_256:.2f} | {r['cmssw_b256']:.0f} |")
        out |= {f"{name}_{key}_jets_per_s": round(value, 1) for key, value in r.items()}
        out |= {f"{name}_ort_vs_torch_b1": round(ratio_1, 3), f"{name}_ort_vs_torch_b256": round(ratio_256, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
