"""Message passing on a fixed knn graph in (deta, dphi): the shared body of the GCN and GAT families."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from gnnjet.nn.blocks import InputEmbedding, JetModel, Pooling, max_nodes, num_jets
from gnnjet.nn.knn import knn_padded


class GraphStack(nn.Module):
    """Residual stack of message-passing layers on a graph whose missing neighbours point at a dummy node."""

    def __init__(self, convs: list[nn.Module], dims: list[int]):
        super().__init__()
        self.convs = nn.ModuleList(convs)
        self.norms = nn.ModuleList(nn.BatchNorm1d(d) for d in dims[1:])
        self.skips = nn.ModuleList(nn.Identity() if a == b else nn.Linear(a, b, bias=False)
                                   for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, h: Tensor, edges: Tensor) -> Tensor:
        for conv, norm, skip in zip(self.convs, self.norms, self.skips):
            padded = torch.cat([h, h.new_zeros(1, h.size(1))])  # row N: the dummy node (see gnnjet.nn.knn)
            h = torch.relu(norm(conv(padded, edges)[:-1]) + skip(h))
        return h


class KnnGraphNet(JetModel):
    """Embedding -> knn graph in (deta, dphi) -> residual conv stack -> pooling -> head.

    `conv(in_dim, out_dim)` builds one message-passing layer (GCNConv, GATv2Conv, ...).
    """

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dim: int, k: int,
                 hidden: list[int], pooling: str, head: list[int], dropout: float,
                 conv: Callable[[int, int], nn.Module], *, num_node_types: int):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.k = k
        self.embedding = InputEmbedding(num_node_features, embed_dim, num_node_types)
        dims = [embed_dim, *hidden]
        self.stack = GraphStack([conv(a, b) for a, b in zip(dims[:-1], dims[1:])], dims)
        self.pool = Pooling(pooling, dims[-1])
        self.build_head(dims[-1])

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        edges = knn_padded(batch.pos, self.k, batch.ptr, batch.batch, max_nodes(batch))
        h = self.stack(self.embedding(batch.x, batch.node_type), edges)
        return self.pool(h, batch.batch, num_jets(batch)), h
