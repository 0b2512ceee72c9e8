"""Graph convolutional network (Kipf, Welling, arXiv:1609.02907) on a knn graph in (deta, dphi)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import GCNConv

from gnnjet.nn.blocks import InputEmbedding, JetModel, Pooling, max_nodes, num_jets
from gnnjet.nn.knn import knn_padded

DEFAULTS: dict[str, Any] = {"embed_dim": 64, "k": 16, "hidden": [64, 64, 64], "pooling": "mean", "head": [128],
                            "dropout": 0.1}
PRESETS = {"small": {"embed_dim": 32, "k": 8, "hidden": [32, 32], "head": [64]}}


class GraphStack(nn.Module):
    """Residual stack of message-passing layers on a fixed graph with a dummy node (see knn)."""

    def __init__(self, convs: list[nn.Module], dims: list[int]):
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(nn.BatchNorm1d(d) for d in dims[1:])
        self.skips = nn.ModuleList(nn.Identity() if a == b else nn.Linear(a, b, bias=False)
                                   for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, h: Tensor, edges: Tensor) -> Tensor:
        for conv, norm, skip in zip(self.convs, self.norms, self.skips):
            padded = torch.cat([h, h.new_zeros(1, h.size(1))])
            h = torch.relu(norm(conv(padded, edges)[:-1]) + skip(h))
        return h


class GCN(JetModel):
    """GCNConv layers with residuals on the (deta, dphi) knn graph."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dim: int, k: int,
                 hidden: list[int], pooling: str, head: list[int], dropout: float):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.k = k
        self.embedding = InputEmbedding(num_node_features, embed_dim)
        dims = [embed_dim, *hidden]
        self.stack = GraphStack([GCNConv(a, b) for a, b in zip(dims[:-1], dims[1:])], dims)
        self.pool = Pooling(pooling, dims[-1])
        self.build_head(dims[-1])

    def encode(self, batch: Batch) -> Tensor:
        edges = knn_padded(batch.pos, self.k, batch.ptr, batch.batch, max_nodes(batch))
        h = self.stack(self.embedding(batch.x, batch.node_type), edges)
        return self.pool(h, batch.batch, num_jets(batch))
