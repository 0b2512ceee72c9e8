"""Graph convolutional network (Kipf, Welling, arXiv:1609.02907) on a knn graph in (deta, dphi)."""

from __future__ import annotations

from typing import Any

from torch_geometric.nn import GCNConv

from gnnjet.nn.graph import KnnGraphNet

DEFAULTS: dict[str, Any] = {"embed_dim": 64, "k": 16, "hidden": [64, 64, 64], "pooling": "mean", "head": [128],
                            "dropout": 0.1}
PRESETS = {"small": {"embed_dim": 32, "k": 8, "hidden": [32, 32], "head": [64]}}


class GCN(KnnGraphNet):
    """GCNConv layers with residuals on the (deta, dphi) knn graph."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, **params: Any):
        super().__init__(num_node_features, num_jet_features, out_dim, conv=GCNConv, **params)
