"""Building blocks shared by every model family: type-aware input embedding, pooling, head.

Every model is ``embedding -> backbone -> pooling -> concat jet features -> MLP head``
(docs/architecture.md, "Data flow"); families implement ``encode_nodes(batch) -> ([B, D], [N, D])``, the jets'
representations and the nodes' embeddings. A node task's model (`JetModel.predict_nodes`) puts its head on every
node instead: ``[node embedding, its jet's representation, its jet's features] -> [N, out]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.nn import MLP, AttentionalAggregation, global_add_pool, global_max_pool, global_mean_pool

from gnnjet.nn.interchange import WeaverName, module_names


class InputEmbedding(nn.Module):
    """x [N, F] -> [N, D]: one Linear over x plus a learned per-type vector.

    Each node type fills its own block of columns of x (the others are 0), so the Linear acts as a
    separate projection per type; features shared by name share weights.
    """

    def __init__(self, in_features: int, dim: int, num_node_types: int):
        super().__init__()
        self.linear = nn.Linear(in_features, dim)
        self.type_embedding = nn.Embedding(num_node_types, dim)

    def forward(self, x: Tensor, node_type: Tensor) -> Tensor:
        return self.linear(x) + self.type_embedding(node_type)


class Pooling(nn.Module):
    """Node features [N, D] -> jet features [B, D] by mean, sum, max or attention."""

    KINDS = ("mean", "sum", "max", "attention")

    def __init__(self, kind: str, dim: int):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"unknown pooling {kind!r}; choose one of {self.KINDS}")
        self.kind = kind
        self.attention = AttentionalAggregation(nn.Linear(dim, 1)) if kind == "attention" else None

    def forward(self, h: Tensor, batch: Tensor, num_jets: int) -> Tensor:
        if self.attention is not None:
            return self.attention(h, batch, dim_size=num_jets)
        pool = {"mean": global_mean_pool, "sum": global_add_pool, "max": global_max_pool}[self.kind]
        return pool(h, batch, size=num_jets)


def mlp(channels: list[int], dropout: float = 0.0, norm: str | None = None, plain_last: bool = True) -> MLP:
    """PyG MLP with ReLU; `norm` is None, "batch_norm" or "layer_norm"."""
    return MLP(channels, dropout=dropout, norm=norm, plain_last=plain_last)


class JetModel(nn.Module):
    """The shared skeleton: ``forward(batch) -> [B, out_dim]``.

    Subclasses call ``build_head(encoder_dim)`` and implement ``encode_nodes(batch) -> ([B, encoder_dim], [N,
    encoder_dim])`` (or only ``encode(batch) -> [B, encoder_dim]``, if they have no per-node embeddings).
    Jet-level features u [B, G] are concatenated before the head. A model that imports weaver-core checkpoints
    sets `weaver_architecture` (the weaver family, e.g. "particlenet") and implements `weaver_names`.
    """

    weaver_architecture: str | None = None
    onnx_blocker: str | None = None  # why torch.export cannot trace the model, if it cannot
    per_node = False  # forward gives one output row per node (`predict_nodes`)

    def __init__(self, num_jet_features: int, out_dim: int, head: list[int], head_dropout: float):
        super().__init__()
        self.num_jet_features = num_jet_features
        self._head_spec = (head, head_dropout, out_dim)

    def build_head(self, encoder_dim: int) -> None:
        head, dropout, out_dim = self._head_spec
        self.encoder_dim = encoder_dim
        self.head = mlp([encoder_dim + self.num_jet_features, *head, out_dim], dropout=dropout)

    def predict_nodes(self) -> None:
        """Make forward(batch) give [N, out_dim], one row per node (a node task's model): the head, rebuilt, reads
        each node's embedding beside its jet's representation and its jet's features."""
        head, dropout, out_dim = self._head_spec
        self.per_node = True
        self.onnx_blocker = "its outputs are per node; the exports write one row per jet"
        self.head = mlp([2 * self.encoder_dim + self.num_jet_features, *head, out_dim], dropout=dropout)

    def output_layer_keys(self) -> list[str]:
        """State-dict keys of the output layer (the head's last Linear): what fine-tuning replaces."""
        prefix = f"head.lins.{len(self.head.lins) - 1}."
        return [key for key in self.state_dict() if key.startswith(prefix)]

    def weaver_names(self) -> dict[str, WeaverName]:
        """Each state-dict key -> its place in the weaver-core model's state dict (`gnnjet.nn.weaver`)."""
        raise NotImplementedError(f"{type(self).__name__} has no weaver-core counterpart")

    def weaver_head_names(self) -> dict[str, WeaverName]:
        """The head MLP's Linear layers as weaver's ``fc``: Sequential(Linear, ReLU, Dropout) blocks, then the
        output Linear."""
        last = len(self.head.lins) - 1
        names: dict[str, WeaverName] = {}
        for j, linear in enumerate(self.head.lins):
            names |= module_names(f"head.lins.{j}", linear, f"fc.{j}" if j == last else f"fc.{j}.0")
        return names

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(the jets' representations [B, D], the nodes' embeddings [N, D])."""
        raise NotImplementedError(f"{type(self).__name__} has no per-node embeddings")

    def encode(self, batch: Batch) -> Tensor:
        """The jets' representations [B, D]."""
        return self.encode_nodes(batch)[0]

    def forward(self, batch: Batch) -> Tensor:
        if self.per_node:
            jets, nodes = self.encode_nodes(batch)
            parts = [nodes, jets.index_select(0, batch.batch)]
            if self.num_jet_features:
                parts.append(batch.u.index_select(0, batch.batch))
            return self.head(torch.cat(parts, dim=1))
        z = self.encode(batch)
        if self.num_jet_features:
            z = torch.cat([z, batch.u], dim=1)
        return self.head(z)


def num_jets(batch: Batch) -> int:
    """B, without a host sync (from the shape of ptr)."""
    return batch.ptr.numel() - 1


def max_nodes(batch: Batch) -> int | None:
    """The largest jet of the batch if the loader recorded it (saves a GPU sync)."""
    return getattr(batch, "max_num_nodes", None)
