"""Particle Transformer (Qu, Li, Qian, arXiv:2202.03772): attention with a pairwise interaction bias.

Nodes are embedded (LayerNorm -> Linear -> GELU per stage), scattered into a padded [B, P, D]
tensor with `to_dense_batch`, and passed through particle-attention blocks whose attention logits
get a per-head bias U computed from the pair features ln Delta, ln kT, ln z, ln m^2 of the nodes'
four-vectors. Class-attention blocks let a learned class token attend to the nodes; its final
state is the jet representation. Padding is masked everywhere, so results do not depend on the
other jets of the batch.

``layout: weaver`` (preset ``weaver``) is weaver-core's ParticleTransformer as the ParT repository's
``example_ParticleTransformer.py`` builds it, so that its JetClass-pretrained checkpoints import
(`gnnjet.nn.weaver`): input BatchNorm and LayerNorm -> Linear -> GELU from the raw features (no
node-type embedding), the pair MLP ending in BatchNorm + GELU (``use_pre_activation_pair=False``),
a learned scale per head on the attention output and per channel on the residual of the
feed-forward branch (``c_attn``, ``w_resid``), dropout before the feed-forward LayerNorm, and class
blocks whose query is the raw class token. Scores equal weaver-core's to 1e-5 (tested); weaver's
dropout on the attention weights is left out in both layouts (see `Attention`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.utils import to_dense_batch

from gnnjet.nn.blocks import NUM_NODE_TYPES, InputEmbedding, JetModel, max_nodes, num_jets
from gnnjet.nn.knn import largest_jet

DEFAULTS: dict[str, Any] = {"embed_dims": [32, 64], "pair_features": "lorentz", "pair_dims": [16, 16], "heads": 4,
                            "blocks": 2, "class_blocks": 1, "ffn_ratio": 2, "head": [], "dropout": 0.1,
                            "layout": "gnnjet"}
# "lorentz": ln Delta, ln kT, ln z, ln m^2 from the nodes' four-vectors; "none": plain attention (point clouds
# without four-vectors, e.g. detector hits)
PAIR_FEATURES = ("lorentz", "none")
PRESETS = {
    "small": {},
    # ParT as published: embedding 128-512-128, 8 blocks and 2 class blocks of 8 heads, pair 64-64-64
    "part": {"embed_dims": [128, 512, 128], "pair_dims": [64, 64, 64], "heads": 8, "blocks": 8, "class_blocks": 2,
             "ffn_ratio": 4},
    # weaver-core's layout of the same (the ParT repository's example_ParticleTransformer.py): imports ParT_*.pt
    "weaver": {"embed_dims": [128, 512, 128], "pair_dims": [64, 64, 64], "heads": 8, "blocks": 8, "class_blocks": 2,
               "ffn_ratio": 4, "layout": "weaver"},
}
EPS = 1e-8


def pair_features(p4: Tensor) -> Tensor:
    """ln Delta, ln kT, ln z, ln m^2 for all node pairs (ParT eq. 4). p4: [B, P, 4] (px, py, pz, E) -> [B, P, P, 4]."""
    px, py, pz, energy = p4.unbind(-1)
    pt = torch.sqrt(px**2 + py**2)
    rapidity = 0.5 * torch.log((energy + pz).clamp(min=EPS) / (energy - pz).clamp(min=EPS))
    phi = torch.atan2(py, px)
    d_rapidity = rapidity.unsqueeze(2) - rapidity.unsqueeze(1)
    d_phi = torch.remainder(phi.unsqueeze(2) - phi.unsqueeze(1) + math.pi, 2 * math.pi) - math.pi
    delta = torch.sqrt(d_rapidity**2 + d_phi**2)
    pt_min = torch.minimum(pt.unsqueeze(2), pt.unsqueeze(1))
    kt = pt_min * delta
    z = pt_min / (pt.unsqueeze(2) + pt.unsqueeze(1)).clamp(min=EPS)
    summed = p4.unsqueeze(2) + p4.unsqueeze(1)
    mass2 = summed[..., 3] ** 2 - (summed[..., :3] ** 2).sum(-1)
    return torch.stack([torch.log(x.clamp(min=EPS)) for x in (delta, kt, z, mass2)], dim=-1)


class PairEmbedding(nn.Module):
    """[B, P, P, 4] pair features -> [B, heads, P, P] attention bias.

    A pointwise MLP with BatchNorm (ParT's 1x1 convolutions, written as Linear layers on [pairs, C]
    so that they run as plain matrix products); `activate_last` ends it in BatchNorm + GELU as
    weaver-core's ParT does.
    """

    def __init__(self, dims: list[int], heads: int, activate_last: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(4)]
        for a, b in zip([4, *dims[:-1]], dims):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.GELU()]
        layers.append(nn.Linear(dims[-1], heads))
        if activate_last:
            layers += [nn.BatchNorm1d(heads), nn.GELU()]
        self.net = nn.Sequential(*layers)

    def forward(self, pairs: Tensor, valid: Tensor) -> Tensor:
        """pairs [B, P, P, 4], valid [B, P, P] (both nodes real) -> bias [B, heads, P, P], 0 for padding."""
        batch, size = pairs.shape[:2]
        if self.training:  # only real pairs enter the BatchNorm statistics
            bias = self.net(pairs[valid])  # [M, heads]
            out = bias.new_zeros(batch, size, size, bias.size(1))
            out[valid] = bias
        else:  # running statistics: every pair can go through, padding is zeroed after (no data-dependent shapes)
            out = self.net(pairs.reshape(-1, 4)).reshape(batch, size, size, -1) * valid.unsqueeze(-1)
        return out.permute(0, 3, 1, 2)


class Attention(nn.Module):
    """Multi-head attention with an additive bias: softmax(QK^T / sqrt(d) + bias) V (ParT eq. 3).

    No dropout on the [B, heads, L, S] attention weights: on CPUs drawing that mask cost a quarter
    of a training step; the block applies dropout to its residual branches instead.
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, context: Tensor, bias: Tensor) -> Tensor:
        """x [B, L, D], context [B, S, D], bias [B, heads, L, S] -> [B, L, D]."""
        batch, length, dim = x.shape
        head_dim = dim // self.heads
        q = self.query(x).reshape(batch, length, self.heads, head_dim).transpose(1, 2)
        k, v = self.key_value(context).reshape(batch, -1, 2, self.heads, head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(head_dim) + bias, dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(batch, length, dim))


class AttentionBlock(nn.Module):
    """Pre-LN multi-head attention (with additive bias) and feed-forward, as a ParT block.

    `weaver`: weaver-core's block (learned head scale and residual scale, dropout before the
    feed-forward LayerNorm; in class attention the query is the class token itself, not normalised).
    """

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float, weaver: bool = False):
        super().__init__()
        self.heads, self.weaver = heads, weaver
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.post_attn = nn.LayerNorm(dim)
        self.norm_ffn = nn.LayerNorm(dim)
        hidden = ffn_ratio * dim
        if weaver:
            self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.LayerNorm(hidden),
                                     nn.Linear(hidden, dim))
            self.head_scale = nn.Parameter(torch.ones(heads))
            self.residual_scale = nn.Parameter(torch.ones(dim))
        else:
            self.ffn = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.LayerNorm(hidden), nn.Dropout(dropout),
                                     nn.Linear(hidden, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, bias: Tensor, context: Tensor | None = None) -> Tensor:
        """x [B, L, D] queries; context [B, S, D] keys/values (x itself if None); bias [B, heads, L, S]."""
        query = self.norm_attn(x)
        keys = query if context is None else self.norm_attn(context)
        if self.weaver and context is not None:
            query = x
        attended = self.attn(query, keys, bias)
        if self.weaver:
            batch, length, dim = attended.shape
            per_head = attended.view(batch, length, self.heads, -1) * self.head_scale.view(-1, 1)
            attended = per_head.view(batch, length, dim)
        x = x + self.dropout(self.post_attn(attended))
        residual = x * self.residual_scale if self.weaver else x
        return residual + self.dropout(self.ffn(self.norm_ffn(x)))


class ParticleTransformer(JetModel):
    """ParT-like transformer over the nodes of each jet."""

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dims: list[int],
                 pair_features: str, pair_dims: list[int], heads: int, blocks: int, class_blocks: int, ffn_ratio: int,
                 head: list[int], dropout: float, layout: str = "gnnjet", num_node_types: int = NUM_NODE_TYPES):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.layout = layout
        weaver = layout == "weaver"
        dim = embed_dims[-1]
        if dim % heads:
            raise ValueError(f"transformer: embedding width {dim} must be divisible by heads={heads}")
        if weaver:  # BatchNorm, then LayerNorm -> Linear -> GELU from the raw features
            self.input: nn.Module = nn.BatchNorm1d(num_node_features)
            widths, stages = [num_node_features, *embed_dims], []
        else:
            self.input = InputEmbedding(num_node_features, embed_dims[0], num_node_types)
            widths, stages = embed_dims, [nn.GELU()]
        for a, b in zip(widths[:-1], widths[1:]):
            stages += [nn.LayerNorm(a), nn.Linear(a, b), nn.GELU()]
        self.embed = nn.Sequential(*stages)
        uses_pairs = pair_dims and pair_features == "lorentz"
        self.pair = PairEmbedding(pair_dims, heads, activate_last=weaver) if uses_pairs else None
        self.heads = heads
        self.blocks = nn.ModuleList(AttentionBlock(dim, heads, ffn_ratio, dropout, weaver) for _ in range(blocks))
        # weaver-core's class blocks have no dropout
        self.class_blocks = nn.ModuleList(AttentionBlock(dim, heads, ffn_ratio, 0.0 if weaver else dropout, weaver)
                                          for _ in range(class_blocks))
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.class_token, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.build_head(dim)

    def encode(self, batch: Batch) -> Tensor:
        jets = num_jets(batch)
        largest = max_nodes(batch) or largest_jet(batch.ptr)
        h = self.embed(self.input(batch.x) if self.layout == "weaver" else self.input(batch.x, batch.node_type))
        x, mask = to_dense_batch(h, batch.batch, batch_size=jets, max_num_nodes=largest)  # [B, P, D], [B, P]
        pair_mask = mask.unsqueeze(2) & mask.unsqueeze(1)  # [B, P, P]
        key_padding = torch.zeros_like(pair_mask, dtype=x.dtype).masked_fill(~mask.unsqueeze(1), float("-inf"))
        bias = key_padding.unsqueeze(1).expand(-1, self.heads, -1, -1)  # [B, heads, P, P]
        if self.pair is not None:
            p4, _ = to_dense_batch(batch.p4, batch.batch, batch_size=jets, max_num_nodes=largest)
            bias = bias + self.pair(pair_features(p4), pair_mask)
        for block in self.blocks:
            x = block(x, bias)
        token = self.class_token.expand(jets, -1, -1)
        class_mask = torch.cat([torch.zeros_like(key_padding[:, :1, :1]), key_padding[:, :1, :]], dim=2)
        class_bias = class_mask.unsqueeze(1).expand(-1, self.heads, -1, -1)  # [B, heads, 1, 1 + P]
        for block in self.class_blocks:
            token = block(token, class_bias, context=torch.cat([token, x], dim=1))
        return self.norm(token.squeeze(1))
