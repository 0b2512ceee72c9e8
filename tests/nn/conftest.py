"""Synthetic batches for model tests: jets of chosen sizes with physical four-vectors."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data

NUM_FEATURES, NUM_JET_FEATURES = 6, 2
NUM_NODE_TYPES = 3  # charged, neutral, SV


def make_jet(num_nodes: int, generator: torch.Generator, with_sv: bool = True) -> Data:
    """A jet with random features; node types charged/neutral/(SV unless with_sv is False)."""
    types = torch.randint(0, NUM_NODE_TYPES if with_sv else 2, (num_nodes,), generator=generator)
    pt = torch.rand(num_nodes, generator=generator) * 50 + 1
    eta = torch.randn(num_nodes, generator=generator) * 0.2
    phi = torch.randn(num_nodes, generator=generator) * 0.2
    mass = torch.where(types == 2, torch.full_like(pt, 1.5), torch.zeros_like(pt))
    p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta),
                      torch.sqrt((pt * torch.cosh(eta)) ** 2 + mass**2)], dim=1)
    return Data(x=torch.randn(num_nodes, NUM_FEATURES, generator=generator), node_type=types,
                pos=torch.stack([eta, phi], dim=1), p4=p4, u=torch.randn(1, NUM_JET_FEATURES, generator=generator),
                y=torch.zeros(1, dtype=torch.long))


def make_batch(jets: list[Data]) -> Batch:
    batch = Batch.from_data_list(jets)
    batch.max_num_nodes = max(j.num_nodes for j in jets)
    return batch


def standard_jets(seed: int = 0) -> list[Data]:
    """Jets of 1, 2, 3 and 100 nodes, plus a 20-node jet without SVs."""
    generator = torch.Generator().manual_seed(seed)
    return [make_jet(n, generator) for n in (1, 2, 3, 100)] + [make_jet(20, generator, with_sv=False)]
