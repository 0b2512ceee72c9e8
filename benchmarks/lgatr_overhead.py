#!/usr/bin/env python
"""What gnnjet adds around the `lgatr` package: training and forward jets/s of the `lgatr` family on gnnjet's packed
batches against the same network (the same module, the same weights) called directly on padded tensors prepared
beforehand (four-momenta embedded with the reference multivectors, scalars, key mask), followed by the same mean
readout and head. The ratio is the cost of the wrapper's per-step work (padding, masks, references, embedding).

    python benchmarks/lgatr_overhead.py --preset small --batch-size 64 --rounds 3

Jets: the committed top sample. Prints a table of medians over rounds and, last, one JSON line
(``train_ratio``, ``forward_ratio``: gnnjet / direct; 1 means no overhead).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch_geometric.utils import to_dense_batch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gnnjet.config import load_config  # noqa: E402
from gnnjet.data.dataset import JetDataset  # noqa: E402
from gnnjet.data.spec import DataSpec  # noqa: E402
from gnnjet.nn.models.lgatr import reference_vectors  # noqa: E402
from gnnjet.nn.registry import build_model  # noqa: E402


def padded_inputs(model, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(channels [B, P, 1 + R, 16], scalars [B, P, 1 + F], key mask [B, 1, 1, P], mask [B, P]) as a user of `lgatr`
    would prepare them once, outside the timed step."""
    from lgatr import embed_vector

    vectors, mask = to_dense_batch(batch.p4[:, [3, 0, 1, 2]] / model.scale, batch.batch)
    scalars = torch.cat([vectors.new_ones(*mask.shape, 1), to_dense_batch(batch.x, batch.batch)[0]], dim=-1)
    spurions = reference_vectors(model.variant, model.reference_kind, vectors.dtype, vectors.device)
    channels = torch.cat([embed_vector(vectors).unsqueeze(-2), spurions.expand(*mask.shape, *spurions.shape)], dim=-2)
    return channels, scalars, mask[:, None, None, :], mask


def direct(model, channels, scalars, key_mask, mask, u) -> torch.Tensor:
    """The network called on prepared tensors, then the same readout and head as the family."""
    vector_out, outputs = model.net(channels, scalars, attn_mask=key_mask)
    outputs = torch.cat([outputs, model.invariant(vector_out[..., 0, :])], dim=-1)
    pooled = model.read_out(outputs, mask)
    return model.head(torch.cat([pooled, u], dim=1)) if u.shape[1] else model.head(pooled)


def rate(step, items: list, train: bool, model) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train(train)
    jets, start = 0, time.perf_counter()
    for item, labels in items:
        if train:
            loss = torch.nn.functional.cross_entropy(step(item), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                step(item)
        jets += len(labels)
    return jets / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small", help="lgatr preset: small (CPU-sized) or lgatr (published)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = DataSpec.from_config(load_config(ROOT / "configs" / "top_lgatr.yaml"))
    dataset = JetDataset.from_files(spec, [str(ROOT / "data" / "top" / "*.root")], progress=False)
    torch.manual_seed(0)
    model = build_model({"name": "lgatr", "preset": args.preset}, **spec.model_inputs(), out_dim=2)
    if model.token or not model.use_features or model.variant != "lgatr":
        raise SystemExit("this comparison covers the lgatr variant with feature scalars and the mean readout")
    batches = [dataset.batch(torch.arange(k * args.batch_size, (k + 1) * args.batch_size) % len(dataset))
               for k in range(args.batches)]
    ours = [(batch, batch.y) for batch in batches]
    theirs = [((*padded_inputs(model, batch), batch.u), batch.y) for batch in batches]
    steps = {"gnnjet": (lambda batch: model(batch), ours), "direct": (lambda item: direct(model, *item), theirs)}
    results: dict[str, dict[str, list[float]]] = {name: {"train": [], "forward": []} for name in steps}
    for round_number in range(args.rounds):
        order = list(steps) if round_number % 2 == 0 else list(steps)[::-1]  # alternate which runs first
        for name in order:
            step, items = steps[name]
            rate(step, items[:1], True, model)  # warm-up
            results[name]["train"].append(rate(step, items, True, model))
            results[name]["forward"].append(rate(step, items, False, model))
    median = {name: {k: statistics.median(v) for k, v in values.items()} for name, values in results.items()}
    print(f"lgatr preset {args.preset}, top sample, batch {args.batch_size}, {args.threads} threads, "
          f"{args.rounds} rounds of {args.batches} batches")
    print("| call | training jets/s | forward jets/s |\n|---|---|---|")
    for name, values in median.items():
        print(f"| {name} | {values['train']:.1f} | {values['forward']:.1f} |")
    print(json.dumps({"train_ratio": round(median["gnnjet"]["train"] / median["direct"]["train"], 3),
                      "forward_ratio": round(median["gnnjet"]["forward"] / median["direct"]["forward"], 3),
                      "preset": args.preset, "batch_size": args.batch_size}))


if __name__ == "__main__":
    main()
