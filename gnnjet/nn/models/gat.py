"""Graph attention network with GATv2 layers (Brody, Alon, Yahav, arXiv:2105.14491) on a knn graph."""

from __future__ import annotations

from typing import Any

from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.nn import GATv2Conv

from gnnjet.nn.blocks import InputEmbedding, JetModel, Pooling, max_nodes, num_jets
from gnnjet.nn.knn import knn_padded
from gnnjet.nn.models.gcn import GraphStack

DEFAULTS: dict[str, Any] = {"embed_dim": 64, "k": 16, "hidden": [64, 64, 64], "heads": 4, "pooling": "mean",
                            "head": [128], "dropout": 0.1}
PRESETS = {"small": {"embed_dim": 32, "k": 8, "hidden": [32, 32], "heads": 2, "head": [64]}}


class GAT(JetModel):
    """Multi-head GATv2Conv layers (heads concatenated) with residuals on the (deta, dphi) knn graph."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dim: int, k: int,
                 hidden: list[int], heads: int, pooling: str, head: list[int], dropout: float):
        super().__init__(num_jet_features, out_dim, head, dropout)
        if any(h % heads for h in hidden):
            raise ValueError(f"gat: every hidden size {hidden} must be divisible by heads={heads}")
        self.k = k
        self.embedding = InputEmbedding(num_node_features, embed_dim)
        dims = [embed_dim, *hidden]
        self.stack = GraphStack([GATv2Conv(a, b // heads, heads=heads) for a, b in zip(dims[:-1], dims[1:])], dims)
        self.pool = Pooling(pooling, dims[-1])
        self.build_head(dims[-1])

    def encode(self, batch: Batch) -> Tensor:
        edges = knn_padded(batch.pos, self.k, batch.ptr, batch.batch, max_nodes(batch))
        h = self.stack(self.embedding(batch.x, batch.node_type), edges)
        return self.pool(h, batch.batch, num_jets(batch))
