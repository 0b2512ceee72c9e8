"""DeepSets / Particle Flow Network (Komiske, Metodiev, Thaler, arXiv:1810.05165).

Each node is mapped independently by an MLP Phi; a permutation-invariant pooling (sum by
default, as in the PFN) gives the jet representation; the head plays the role of F.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch_geometric.data import Batch

from gnnjet.nn.blocks import InputEmbedding, JetModel, Pooling, mlp, num_jets

DEFAULTS: dict[str, Any] = {"embed_dim": 32, "phi": [64, 128, 256], "pooling": "sum", "head": [256, 128],
                            "dropout": 0.1, "norm": "batch_norm"}
PRESETS = {
    "small": {"embed_dim": 16, "phi": [32, 64], "head": [64]},
    # jec-gnn's PFN: per-node MLP 64-128-256, sum, head 1024-512-256-128-64
    "pfn": {"phi": [64, 128, 256], "head": [1024, 512, 256, 128, 64]},
}


class DeepSets(JetModel):
    """Per-node MLP + pooling."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dim: int, phi: list[int],
                 pooling: str, head: list[int], dropout: float, norm: str | None,
                 *, num_node_types: int):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.embedding = InputEmbedding(num_node_features, embed_dim, num_node_types)
        self.phi = mlp([embed_dim, *phi], norm=norm, plain_last=False)
        self.pool = Pooling(pooling, phi[-1])
        self.build_head(phi[-1])

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        h = self.phi(self.embedding(batch.x, batch.node_type))
        return self.pool(h, batch.batch, num_jets(batch)), h
