"""ParticleNet (Qu, Gouskos, arXiv:1902.08570) from PyG's EdgeConv and gnnjet's knn.

Each block builds a k-nearest-neighbour graph (in (deta, dphi) for the first block, in the
block's input features afterwards), applies EdgeConv with a 3-layer edge MLP on
cat(x_i, x_j - x_i) (1x1 convolutions without bias + BatchNorm + ReLU, as weaver-core), averages
over neighbours and adds a shortcut (Linear + BatchNorm). Masked mean pooling and an FC head
follow. The presets reproduce weaver-core's parameter counts (366k full, 26k Lite for 7 inputs
and 2 classes) when ``embed_dim`` is null (= the number of input features).

``layout: weaver`` (preset ``weaver``) is weaver-core's ParticleNet exactly, so that its checkpoints
(the JetClass-pretrained ParticleNet_*.pt) give the same scores: no gnnjet input embedding (no
Linear, no node-type vector), a BatchNorm over the input features (``use_fts_bn``), an identity
shortcut where a block keeps its width, and always k neighbours per node. weaver pads every jet to
the input length and, in a jet of k or fewer particles, gathers padded particles (zero features)
as the missing neighbours; here those are edges from a dummy node with zero features
(`knn_padded(..., zero_neighbours=True)`), so the mean over k neighbours is the same.

In training, weaver's BatchNorm layers also count the padded particles and their edges: ``batchnorm_padding``
(`gnnjet.nn.padded_norm`; 128 in preset ``weaver``, as the JetClass checkpoints were trained) reproduces that
from the packed nodes. The padded positions' edges are exact when every jet has at most P - k - 1 particles (or
exactly P): a padded particle of a jet with fewer padded slots than k + 1 gathers real particles in weaver-core,
in an order fixed by float rounding of its 1e9 coordinate shift, which is not reproduced.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import EdgeConv

from gnnjet.errors import ConfigError
from gnnjet.nn.blocks import InputEmbedding, JetModel, Pooling, max_nodes, num_jets
from gnnjet.nn.interchange import WeaverName, module_names
from gnnjet.nn.knn import knn_padded
from gnnjet.nn.padded_norm import PaddedStatistics, check_padding, padded_batch_norm, padded_nodes

DEFAULTS: dict[str, Any] = {"embed_dim": None, "k": 16, "blocks": [[64, 64, 64], [128, 128, 128], [256, 256, 256]],
                            "aggr": "mean", "pooling": "mean", "head": [256], "dropout": 0.1, "layout": "gnnjet",
                            "batchnorm_padding": None}
PRESETS = {
    "particlenet": {},
    "lite": {"k": 7, "blocks": [[32, 32, 32], [64, 64, 64]], "head": [128]},
    # the ParT repository's example_ParticleNet.py (JetClass-pretrained ParticleNet_*.pt)
    "weaver": {"layout": "weaver", "batchnorm_padding": 128},
}
LAYOUTS = ("gnnjet", "weaver")  # the same names as the transformer's layouts


def check_options(params: dict[str, Any], path: str) -> None:
    """Config-time check of a resolved section: the weaver layout has no input embedding; only it has padded
    BatchNorm statistics."""
    if params["layout"] == "weaver" and params["embed_dim"] is not None:
        raise ConfigError(f"{path}.embed_dim: layout 'weaver' has no input embedding; leave embed_dim null")
    check_padding(params, path)


def _edge_mlp(in_dim: int, channels: list[int]) -> PaddedStatistics:
    layers: list[nn.Module] = []
    for c_in, c_out in zip([2 * in_dim, *channels[:-1]], channels):
        layers += [nn.Linear(c_in, c_out, bias=False), nn.BatchNorm1d(c_out), nn.ReLU()]
    return PaddedStatistics(*layers)


class EdgeConvBlock(nn.Module):
    """knn graph + EdgeConv + shortcut: [N, C_in] -> [N, channels[-1]]."""

    def __init__(self, in_dim: int, channels: list[int], k: int, aggr: str, weaver: bool = False):
        super().__init__()
        self.k, self.zero_neighbours = k, weaver
        self.conv = EdgeConv(_edge_mlp(in_dim, channels), aggr=aggr)
        if weaver and in_dim == channels[-1]:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = PaddedStatistics(nn.Linear(in_dim, channels[-1], bias=False), nn.BatchNorm1d(channels[-1]))
        self.act = nn.ReLU()

    def weaver_names(self, prefix: str, weaver_prefix: str) -> dict[str, WeaverName]:
        """This block's tensors in weaver's EdgeConvBlock: the edge MLP's Linear and BatchNorm layers as its
        ``convs`` (Conv2d) and ``bns``, the shortcut's as ``sc`` (Conv1d) and ``sc_bn``."""
        layers = self.conv.nn
        linears = [name for name, module in layers.named_children() if isinstance(module, nn.Linear)]
        norms = [name for name, module in layers.named_children() if isinstance(module, nn.BatchNorm1d)]
        names: dict[str, WeaverName] = {}
        for i, (linear, norm) in enumerate(zip(linears, norms)):
            names |= module_names(f"{prefix}.conv.nn.{linear}", layers.get_submodule(linear),
                                  f"{weaver_prefix}.convs.{i}", trailing=2)
            names |= module_names(f"{prefix}.conv.nn.{norm}", layers.get_submodule(norm), f"{weaver_prefix}.bns.{i}")
        for name, module in self.shortcut.named_children():  # none for an identity shortcut
            weaver = "sc" if isinstance(module, nn.Linear) else "sc_bn"
            names |= module_names(f"{prefix}.shortcut.{name}", module, f"{weaver_prefix}.{weaver}",
                                  trailing=1 if isinstance(module, nn.Linear) else 0)
        return names

    def forward(self, h: Tensor, coordinates: Tensor, ptr: Tensor, batch: Tensor, largest: int | None,
                padded: Tensor | None = None) -> Tensor:
        """`padded`: padded positions whose rows enter the BatchNorm statistics (`padded_norm`), k edges each."""
        self.conv.nn.padded = None if padded is None else padded * self.k
        if isinstance(self.shortcut, PaddedStatistics):
            self.shortcut.padded = padded
        edges = knn_padded(coordinates, self.k, ptr, batch, largest, self.zero_neighbours)
        with_dummy = torch.cat([h, h.new_zeros(1, h.size(1))])  # row N is the dummy node of missing neighbours
        out = self.conv(with_dummy, edges)[:-1]
        return self.act(out + self.shortcut(h))


class ParticleNet(JetModel):
    """Dynamic graph CNN over the jet's nodes."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dim: int | None, k: int,
                 blocks: list[list[int]], aggr: str, pooling: str, head: list[int], dropout: float,
                 layout: str = "gnnjet", batchnorm_padding: int | str | None = None, *, num_node_types: int):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.layout, self.batchnorm_padding = layout, batchnorm_padding
        weaver = layout == "weaver"
        dim = embed_dim or num_node_features
        if weaver:
            self.embedding: nn.Module = nn.BatchNorm1d(num_node_features)
        else:
            self.embedding = InputEmbedding(num_node_features, dim, num_node_types)
        self.blocks = nn.ModuleList()
        for channels in blocks:
            self.blocks.append(EdgeConvBlock(dim, channels, k, aggr, weaver))
            dim = channels[-1]
        self.pool = Pooling(pooling, dim)
        self.build_head(dim)

    @property
    def weaver_architecture(self) -> str | None:  # type: ignore[override]
        return "particlenet" if self.layout == "weaver" else None

    def weaver_names(self) -> dict[str, WeaverName]:
        """weaver's ParticleNet: the input BatchNorm as ``bn_fts``, block b as ``edge_convs.b``, the head as
        ``fc``."""
        names = module_names("embedding", self.embedding, "bn_fts")
        for b, block in enumerate(self.blocks):
            names |= block.weaver_names(f"blocks.{b}", f"edge_convs.{b}")
        return names | self.weaver_head_names()

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        padded = None
        if self.training and self.batchnorm_padding is not None:
            padded = padded_nodes(batch, self.batchnorm_padding)
        if isinstance(self.embedding, InputEmbedding):
            h = self.embedding(batch.x, batch.node_type)
        elif padded is not None:
            h = padded_batch_norm(self.embedding, batch.x, padded)[0]
        else:
            h = self.embedding(batch.x)
        coordinates, largest = batch.pos, max_nodes(batch)
        for block in self.blocks:
            h = block(h, coordinates, batch.ptr, batch.batch, largest, padded)
            coordinates = h
        return self.pool(h, batch.batch, num_jets(batch)), h
