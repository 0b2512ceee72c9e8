"""Particle Transformer (Qu, Li, Qian, arXiv:2202.03772): attention with a pairwise interaction bias.

Nodes are embedded (LayerNorm -> Linear -> GELU per stage) and passed through particle-attention
blocks whose attention logits get a per-head bias U computed from the pair features ln Delta,
ln kT, ln z, ln m^2 of the nodes' four-vectors. Class-attention blocks let a learned class token
attend to the nodes; its final state is the jet representation. Nodes stay packed [N, D] (every
per-node layer runs on real nodes only); only attention sees the padded [B, P] layout (P = the
largest jet of the batch), where padding is masked, so results do not depend on the other jets of
the batch.

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
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch

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


def pair_features(a: Tensor, b: Tensor) -> Tensor:
    """ln Delta, ln kT, ln z, ln m^2 of the particle pairs (a, b) (ParT eq. 4).

    a, b: [..., 4] (px, py, pz, E), broadcastable -> [..., 4]. Symmetric in a and b.
    """
    def rapidity_phi_pt(p: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        px, py, pz, energy = p.unbind(-1)
        rapidity = 0.5 * torch.log((energy + pz).clamp(min=EPS) / (energy - pz).clamp(min=EPS))
        return rapidity, torch.atan2(py, px), torch.sqrt(px**2 + py**2)

    (y_a, phi_a, pt_a), (y_b, phi_b, pt_b) = rapidity_phi_pt(a), rapidity_phi_pt(b)
    d_phi = torch.remainder(phi_a - phi_b + math.pi, 2 * math.pi) - math.pi
    delta = torch.sqrt((y_a - y_b) ** 2 + d_phi**2)
    pt_min = torch.minimum(pt_a, pt_b)
    summed = a + b
    mass2 = summed[..., 3] ** 2 - (summed[..., :3] ** 2).sum(-1)
    values = (delta, pt_min * delta, pt_min / (pt_a + pt_b).clamp(min=EPS), mass2)
    return torch.stack([torch.log(v.clamp(min=EPS)) for v in values], dim=-1)


class PairEmbedding(nn.Module):
    """Four-vectors of the nodes [B, P, 4] -> attention bias [B, heads, P, P] via the pair features.

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

    def forward(self, p4: Tensor, mask: Tensor, taps: tuple[int, ...] = ()) -> Tensor | list[Tensor]:
        """p4 [B, P, 4] (padding: anything), mask [B, P] (real nodes) -> bias [B, heads, P, P], 0 for padding;
        with `taps`, the outputs after each of those layers of `net` instead, [B, C, P, P] each.

        The features are symmetric, so the MLP runs once per real pair i <= j (BatchNorm statistics from
        those alone, as weaver-core's) and the result is mirrored: no work on padding. Under torch.export
        (data-dependent sizes are not exportable) every pair goes through the MLP with running statistics,
        which gives the same numbers in eval mode.
        """
        batch, size = mask.shape
        stops = taps or (len(self.net),)
        if torch.compiler.is_exporting():
            valid = (mask.unsqueeze(2) & mask.unsqueeze(1)).unsqueeze(-1)
            values = self._run(pair_features(p4.unsqueeze(2), p4.unsqueeze(1)).reshape(-1, 4), stops)
            outs = [(v.reshape(batch, size, size, -1) * valid).permute(0, 3, 1, 2) for v in values]
        else:
            jet, i, j = torch.nonzero((mask.unsqueeze(2) & mask.unsqueeze(1)).triu()).unbind(1)
            outs = []
            for value in self._run(pair_features(p4[jet, i], p4[jet, j]), stops):  # [M, C] each
                out = value.new_zeros(batch, size, size, value.size(1))
                out[jet, i, j] = value
                out[jet, j, i] = value
                outs.append(out.permute(0, 3, 1, 2))
        return outs if taps else outs[0]

    def _run(self, x: Tensor, stops: tuple[int, ...]) -> list[Tensor]:
        """Apply `net`, keeping the output after layer index stop - 1 for each stop."""
        outputs, start = [], 0
        for stop in stops:
            x = self.net[start:stop](x)
            outputs.append(x)
            start = stop
        return outputs


def padded(values: Tensor, slots: Tensor, jets: int, size: int) -> Tensor:
    """Packed rows values [N, C] -> the padded layout [B * P, C] (B = jets, P = size), zeros at padding."""
    return values.new_zeros(jets * size, values.size(1)).index_copy(0, slots, values)


def _attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(d) + bias) v for q [B, H, L, d], k, v [B, H, S, d], bias [B, H, L, S].

    `scaled_dot_product_attention` (fused kernels) when running; written out while exporting to ONNX,
    where the exporter's decomposition of the fused op fails (tested equal through onnxruntime).
    """
    if torch.compiler.is_exporting():
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) + bias, dim=-1) @ v
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


class Attention(nn.Module):
    """Multi-head attention with an additive bias: softmax(QK^T / sqrt(d) + bias) V (ParT eq. 3), computed by
    `scaled_dot_product_attention` (fused kernels on CPU and GPU).

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
        q = self.query(x).reshape(batch, length, self.heads, -1).transpose(1, 2)
        k, v = self.key_value(context).reshape(batch, -1, 2, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = _attention(q, k, v, bias)
        return self.out(attended.transpose(1, 2).reshape(batch, length, dim))

    def packed(self, h: Tensor, bias: Tensor, slots: Tensor, jets: int, size: int) -> Tensor:
        """Self-attention of packed nodes: h [N, D] -> [N, D]; `slots` [N] are their places in the padded
        [B * P] layout (B = jets, P = size). Projections run on the N real nodes only."""
        dim = h.size(1)
        qkv = torch.cat([self.query(h), self.key_value(h)], dim=1)  # [N, 3D]: q, k, v
        q, k, v = padded(qkv, slots, jets, size).view(jets, size, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = _attention(q, k, v, bias)  # [B, heads, P, D / heads]
        return self.out(attended.transpose(1, 2).reshape(jets * size, dim).index_select(0, slots))


class AttentionBlock(nn.Module):
    """Pre-LN multi-head attention (with additive bias) and feed-forward, as a ParT block.

    `weaver`: weaver-core's block (learned head scale and residual scale, dropout before the
    feed-forward LayerNorm; in class attention the query is the class token itself, not normalised).
    """

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float, weaver: bool = False,
                 attention: nn.Module | None = None):
        super().__init__()
        self.heads, self.weaver = heads, weaver
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = attention if attention is not None else Attention(dim, heads)
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

    def forward(self, h: Tensor, bias: Tensor, slots: Tensor, jets: int, size: int) -> Tensor:
        """Particle attention of packed nodes h [N, D] (see `Attention.packed`); bias [B, heads, P, P]."""
        return self._residuals(h, self.attn.packed(self.norm_attn(h), bias, slots, jets, size))

    def attend_class(self, token: Tensor, x: Tensor, bias: Tensor) -> Tensor:
        """Class attention: token [B, 1, D] attends to itself and the padded nodes x [B, P, D]; bias [B, heads, 1, 1 + P]."""
        keys = self.norm_attn(torch.cat([token, x], dim=1))
        query = token if self.weaver else keys[:, :1]
        return self._residuals(token, self.attn(query, keys, bias))

    def _residuals(self, x: Tensor, attended: Tensor) -> Tensor:
        if self.weaver:
            per_head = attended.unflatten(-1, (self.heads, -1)) * self.head_scale.view(-1, 1)
            attended = per_head.flatten(-2)
        x = x + self.dropout(self.post_attn(attended))
        residual = x * self.residual_scale if self.weaver else x
        return residual + self.dropout(self.ffn(self.norm_ffn(x)))


@dataclass
class PackedNodes:
    """Embedded nodes h [N, D] of a batch of B = `jets` jets and their padded layout [B, P = `size`]:
    `slots` [N] places in B * P, `mask` [B, P] real nodes, `key_padding` [B, P] 0 or -inf, `p4` [B, P, 4]."""

    h: Tensor
    slots: Tensor
    mask: Tensor
    key_padding: Tensor
    p4: Tensor
    jets: int
    size: int


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
        """Nodes stay packed [N, D] (no work on padding) except inside attention, which sees [B, P] with P
        the largest jet of the batch."""
        nodes = self.nodes(batch)
        bias = nodes.key_padding[:, None, None, :].expand(-1, self.heads, nodes.size, -1)  # [B, heads, P, P]
        if self.pair is not None:
            bias = bias + self.pair(nodes.p4, nodes.mask).to(nodes.h.dtype)
        return self.read_out(nodes, self.attend(nodes.h, nodes, self.blocks, bias))

    def nodes(self, batch: Batch) -> PackedNodes:
        """Embedded nodes and their places in the padded [B, P] layout."""
        jets = num_jets(batch)
        size = max_nodes(batch) or largest_jet(batch.ptr)
        h = self.embed(self.input(batch.x) if self.layout == "weaver" else self.input(batch.x, batch.node_type))
        slots = batch.batch * size + torch.arange(h.size(0), device=h.device) - batch.ptr[batch.batch]  # [N]
        mask = torch.zeros(jets * size, dtype=torch.bool, device=h.device).index_fill(0, slots, True)
        mask = mask.view(jets, size)
        key_padding = torch.zeros(mask.shape, dtype=h.dtype, device=h.device).masked_fill(~mask, float("-inf"))
        p4 = padded(batch.p4, slots, jets, size).view(jets, size, 4)
        return PackedNodes(h, slots, mask, key_padding, p4, jets, size)

    @staticmethod
    def attend(h: Tensor, nodes: PackedNodes, blocks: nn.ModuleList, bias: Tensor) -> Tensor:
        """Run `blocks` on packed nodes h [N, D] laid out as `nodes`, with one attention bias (made contiguous
        once, not in every block)."""
        bias = bias.contiguous()
        for block in blocks:
            h = block(h, bias, nodes.slots, nodes.jets, nodes.size)
        return h

    def read_out(self, nodes: PackedNodes, h: Tensor) -> Tensor:
        """Class-attention blocks over the final nodes h [N, D] -> jet representation [B, D]."""
        x = padded(h, nodes.slots, nodes.jets, nodes.size).view(nodes.jets, nodes.size, -1)
        token = self.class_token.expand(nodes.jets, -1, -1)
        class_bias = torch.cat([torch.zeros_like(nodes.key_padding[:, :1]), nodes.key_padding], dim=1)
        class_bias = class_bias[:, None, None, :].expand(-1, self.heads, -1, -1)  # [B, heads, 1, 1 + P]
        for block in self.class_blocks:
            token = block.attend_class(token, x, class_bias)
        return self.norm(token.squeeze(1))
