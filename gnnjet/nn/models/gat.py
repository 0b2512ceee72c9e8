"""Graph attention network with GATv2 layers (Brody, Alon, Yahav, arXiv:2105.14491) on a knn graph."""

from __future__ import annotations

from typing import Any

from torch_geometric.nn import GATv2Conv

from gnnjet.errors import ConfigError
from gnnjet.nn.graph import KnnGraphNet

DEFAULTS: dict[str, Any] = {"embed_dim": 64, "k": 16, "hidden": [64, 64, 64], "heads": 4, "pooling": "mean",
                            "head": [128], "dropout": 0.1}
PRESETS = {"small": {"embed_dim": 32, "k": 8, "hidden": [32, 32], "heads": 2, "head": [64]}}


def check_options(params: dict[str, Any], path: str) -> None:
    """Config-time check of a resolved section: the heads split every hidden width evenly."""
    if any(h % params["heads"] for h in params["hidden"]):
        raise ConfigError(f"{path}.heads: every hidden size {params['hidden']} must be divisible by "
                          f"heads={params['heads']} (the heads' outputs are concatenated)")


class GAT(KnnGraphNet):
    """Multi-head GATv2Conv layers (heads concatenated) with residuals on the (deta, dphi) knn graph."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, heads: int, **params: Any):
        super().__init__(num_node_features, num_jet_features, out_dim,
                         conv=lambda a, b: GATv2Conv(a, b // heads, heads=heads), **params)
