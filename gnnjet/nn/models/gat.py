"""Graph attention network with GATv2 layers (Brody, Alon, Yahav, arXiv:2105.14491) on a knn graph."""

from __future__ import annotations

from typing import Any

from torch_geometric.nn import GATv2Conv

from gnnjet.nn.graph import KnnGraphNet

DEFAULTS: dict[str, Any] = {"embed_dim": 64, "k": 16, "hidden": [64, 64, 64], "heads": 4, "pooling": "mean",
                            "head": [128], "dropout": 0.1}
PRESETS = {"small": {"embed_dim": 32, "k": 8, "hidden": [32, 32], "heads": 2, "head": [64]}}


class GAT(KnnGraphNet):
    """Multi-head GATv2Conv layers (heads concatenated) with residuals on the (deta, dphi) knn graph."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, heads: int, **params: Any):
        if any(h % heads for h in params["hidden"]):
            raise ValueError(f"gat: every hidden size {params['hidden']} must be divisible by heads={heads}")
        super().__init__(num_node_features, num_jet_features, out_dim,
                         conv=lambda a, b: GATv2Conv(a, b // heads, heads=heads), **params)
