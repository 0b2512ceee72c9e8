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

In training, weaver's input BatchNorm also counts the padded particles (zeros) up to the padded length, which its
SequenceTrimmer sets to about the batch's largest jet: ``batchnorm_padding`` (`gnnjet.nn.padded_norm`; "batch" in
preset ``weaver``) reproduces that. Its pair BatchNorms take their statistics from the real pairs i <= j only in
weaver-core >= 0.5 (sparse pair embedding), as here; weaver-core < 0.5, which trained the published ParT_*.pt,
embedded every pair of the trimmed length, padded ones included, which is not reproduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Batch

from gnnjet.errors import ConfigError
from gnnjet.nn.blocks import InputEmbedding, JetModel, max_nodes, num_jets
from gnnjet.nn.interchange import WeaverName, module_names
from gnnjet.nn.knn import largest_jet
from gnnjet.nn.padded_norm import check_padding, padded_batch_norm, padded_nodes

DEFAULTS: dict[str, Any] = {"embed_dims": [32, 64], "pair_features": "lorentz", "pair_dims": [16, 16], "heads": 4,
                            "blocks": 2, "class_blocks": 1, "ffn_ratio": 2, "head": [], "dropout": 0.1,
                            "layout": "gnnjet", "batchnorm_padding": None}
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
               "ffn_ratio": 4, "layout": "weaver", "batchnorm_padding": "batch"},
}
EPS = 1e-8
# gnnjet pair feature g is weaver-core pair feature PAIR_ORDER[g]: (Delta, kT, z, m^2) <- weaver's (kT, z, Delta, m^2)
PAIR_ORDER = (2, 0, 1, 3)


def check_options(params: dict[str, Any], path: str) -> None:
    """Config-time check of a resolved section: `check_heads`; only the weaver layout has padded BatchNorm
    statistics."""
    check_heads(params, path)
    check_padding(params, path)


def check_heads(params: dict[str, Any], path: str) -> None:
    """The heads split the embedding width evenly."""
    dim, heads = params["embed_dims"][-1], params["heads"]
    if dim % heads:
        raise ConfigError(f"{path}.heads: the embedding width embed_dims[-1]={dim} must be divisible by "
                          f"heads={heads}")


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

    def forward(self, p4: Tensor, mask: Tensor, padding: Tensor, taps: tuple[int, ...] = ()) -> Tensor | list[Tensor]:
        """p4 [B, P, 4] (padding: anything), mask [B, P] (real nodes), padding [B, P] (0 or -inf, the key padding)
        -> attention bias [B, heads, P, P]: the pair MLP's output for real pairs (i, j), padding[b, j] added to
        every entry (so 0 for a padded query and a real key); with `taps`, the outputs after each of those layers
        of `net` instead, [B, C, P, P] each, built the same way.

        The features are symmetric, so the MLP runs once per real pair i <= j (BatchNorm statistics from
        those alone, as weaver-core's) and the result is written to both (i, j) and (j, i) of a tensor that
        starts as the broadcast padding: no work on padding pairs, no separate addition of the padding. Under
        torch.export (data-dependent sizes are not exportable) every pair goes through the MLP with running
        statistics, which gives the same numbers in eval mode.
        """
        batch, size = mask.shape
        stops = taps or (len(self.net),)
        key_padding = padding[:, None, None, :]  # [B, 1, 1, P]
        if torch.compiler.is_exporting():
            valid = (mask.unsqueeze(2) & mask.unsqueeze(1)).unsqueeze(-1)
            values = self._run(pair_features(p4.unsqueeze(2), p4.unsqueeze(1)).reshape(-1, 4), stops)
            outs = [(v.reshape(batch, size, size, -1) * valid).permute(0, 3, 1, 2) + key_padding for v in values]
        else:
            jet, i, j = torch.nonzero((mask.unsqueeze(2) & mask.unsqueeze(1)).triu()).unbind(1)
            outs = []
            for value in self._run(pair_features(p4[jet, i], p4[jet, j]), stops):  # [M, C] each
                out = key_padding.expand(batch, value.size(1), size, size).contiguous()
                value = value.to(out.dtype)
                out[jet, :, i, j] = value
                out[jet, :, j, i] = value
                outs.append(out)
        return outs if taps else outs[0]

    @property
    def last_hidden(self) -> int:
        """The tap (a stop index of `forward`) after the last hidden stage: the output of its GELU."""
        return max(i for i, module in enumerate(self.net) if isinstance(module, nn.Linear))

    def weaver_names(self, prefix: str, weaver_prefix: str) -> dict[str, WeaverName]:
        """weaver's PairEmbed (Conv1d layers, features ordered ln kT, ln z, ln Delta, ln m^2): the input
        BatchNorm's channels and the first layer's inputs are reordered (`WEAVER_PAIR_ORDER`)."""
        first_linear = min(i for i, module in enumerate(self.net) if isinstance(module, nn.Linear))
        names: dict[str, WeaverName] = {}
        for i, module in enumerate(self.net):
            permute = None
            if i == 0:  # the input BatchNorm
                permute = {name: (0, PAIR_ORDER) for name in ("weight", "bias", "running_mean", "running_var")}
            elif i == first_linear:
                permute = {"weight": (1, PAIR_ORDER)}
            names |= module_names(f"{prefix}.net.{i}", module, f"{weaver_prefix}.{i}",
                                  trailing=1 if isinstance(module, nn.Linear) else 0, permute=permute)
        return names

    def _run(self, x: Tensor, stops: tuple[int, ...]) -> list[Tensor]:
        """Apply `net`, keeping the output after layer index stop - 1 for each stop."""
        outputs, start = [], 0
        for stop in stops:
            x = self.net[start:stop](x)
            outputs.append(x)
            start = stop
        return outputs


def _attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(d) + bias) v for q [B, H, L, d], k, v [B, H, S, d], bias [B, H, L, S].

    `scaled_dot_product_attention` (fused kernels) when running, except on the CPU with a bias that needs its
    gradient (a trainable pair embedding in training): there the fused CPU kernel cannot differentiate the
    bias and torch falls back to its math path, whose separate bias addition and "safe" softmax (a search for
    rows masked entirely, which ours never are: a padded query still sees the real keys) took ~6% of a ParT
    training step, so the bias goes into the matrix product as baddbmm's addend instead. Written out while
    exporting to ONNX, where the exporter's decomposition of the fused op fails (tested equal through
    onnxruntime).
    """
    if torch.compiler.is_exporting():
        return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) + bias, dim=-1) @ v
    if bias.requires_grad and q.device.type == "cpu":
        batch, heads, length, width = q.shape
        flat = lambda t: t.reshape(batch * heads, -1, width)  # noqa: E731  [B * H, L or S, d]
        scores = torch.baddbmm(bias.reshape(batch * heads, length, -1), flat(q), flat(k).transpose(1, 2),
                               alpha=1 / math.sqrt(width))
        return torch.bmm(scores.softmax(dim=-1), flat(v)).view(batch, heads, length, width)
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

    def packed(self, h: Tensor, bias: Tensor, nodes: PackedNodes) -> Tensor:
        """Self-attention of packed nodes: h [N, D] -> [N, D], laid out as `nodes`. Projections run on the N
        real nodes only; q, k and v come from one matrix product. Each is padded into a tensor of its own: three
        [B * P, D] tensors rather than one [B * P, 3D], which stay small enough (below glibc's 32 MB mmap limit at
        batch 512) to be reused from the heap instead of page-faulted in anew in every block."""
        weight = torch.cat([self.query.weight, self.key_value.weight])  # [3D, D]: q, k, v
        qkv = F.linear(h, weight, torch.cat([self.query.bias, self.key_value.bias]))
        q, k, v = (nodes.pad(part).view(nodes.jets, nodes.size, self.heads, -1).transpose(1, 2)
                   for part in qkv.chunk(3, dim=1))  # [B, heads, P, D / heads] each
        return self.out(nodes.unpad(_attention(q, k, v, bias)))


class AttentionBlock(nn.Module):
    """Pre-LN multi-head attention (with additive bias) and feed-forward, as a ParT block (gnnjet's layout:
    dropout after the feed-forward LayerNorm, class attention queried by the normalised class token)."""

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float, attention: nn.Module | None = None):
        super().__init__()
        self.heads = heads
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = attention if attention is not None else Attention(dim, heads)
        self.post_attn = nn.LayerNorm(dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = self.feed_forward(dim, ffn_ratio * dim, dropout)
        self.dropout = nn.Dropout(dropout)

    @staticmethod
    def feed_forward(dim: int, hidden: int, dropout: float) -> nn.Sequential:
        return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.LayerNorm(hidden), nn.Dropout(dropout),
                             nn.Linear(hidden, dim))

    def forward(self, h: Tensor, bias: Tensor, nodes: PackedNodes) -> Tensor:
        """Particle attention of packed nodes h [N, D] laid out as `nodes`; bias [B, heads, P, P]."""
        return self._residuals(h, self.attn.packed(self.norm_attn(h), bias, nodes))

    def attend_class(self, token: Tensor, x: Tensor, bias: Tensor) -> Tensor:
        """Class attention: token [B, 1, D] attends to itself and the padded nodes x [B, P, D];
        bias [B, heads, 1, 1 + P]."""
        keys = self.norm_attn(torch.cat([token, x], dim=1))
        return self._residuals(token, self.attn(self.class_query(token, keys), keys, bias))

    def class_query(self, token: Tensor, keys: Tensor) -> Tensor:
        """The class token's query: its normalised state (keys[:, :1])."""
        return keys[:, :1]

    def scale_heads(self, attended: Tensor) -> Tensor:
        """The attention output [..., D] before its residual (weaver's layout scales it per head)."""
        return attended

    def scale_residual(self, x: Tensor) -> Tensor:
        """The residual of the feed-forward branch (weaver's layout scales it per channel)."""
        return x

    def _residuals(self, x: Tensor, attended: Tensor) -> Tensor:
        x = x + self.dropout(self.post_attn(self.scale_heads(attended)))
        return self.scale_residual(x) + self.dropout(self.ffn(self.norm_ffn(x)))


class WeaverAttentionBlock(AttentionBlock):
    """weaver-core's ParT block: a learned scale per head on the attention output (``c_attn``) and per channel
    on the feed-forward residual (``w_resid``), dropout before the feed-forward LayerNorm, class attention
    queried by the raw class token."""

    def __init__(self, dim: int, heads: int, ffn_ratio: int, dropout: float, attention: nn.Module | None = None):
        super().__init__(dim, heads, ffn_ratio, dropout, attention)
        self.head_scale = nn.Parameter(torch.ones(heads))
        self.residual_scale = nn.Parameter(torch.ones(dim))

    @staticmethod
    def feed_forward(dim: int, hidden: int, dropout: float) -> nn.Sequential:
        return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.LayerNorm(hidden),
                             nn.Linear(hidden, dim))

    def class_query(self, token: Tensor, keys: Tensor) -> Tensor:
        return token

    def scale_heads(self, attended: Tensor) -> Tensor:
        return (attended.unflatten(-1, (self.heads, -1)) * self.head_scale.view(-1, 1)).flatten(-2)

    def scale_residual(self, x: Tensor) -> Tensor:
        return x * self.residual_scale

    def weaver_names(self, prefix: str, weaver_prefix: str) -> dict[str, WeaverName]:
        """This block's tensors in weaver's Block: q and (k, v) both in ``attn.in_proj`` (concatenated), the
        feed-forward's Linear layers as ``fc1``/``fc2`` and its LayerNorm as ``post_fc_norm``."""
        names: dict[str, WeaverName] = {}
        for name, weaver in (("norm_attn", "pre_attn_norm"), ("post_attn", "post_attn_norm"),
                             ("norm_ffn", "pre_fc_norm")):
            names |= module_names(f"{prefix}.{name}", self.get_submodule(name), f"{weaver_prefix}.{weaver}")
        names |= module_names(f"{prefix}.attn.query", self.attn.query, f"{weaver_prefix}.attn.in_proj")
        names |= module_names(f"{prefix}.attn.key_value", self.attn.key_value, f"{weaver_prefix}.attn.in_proj")
        names |= module_names(f"{prefix}.attn.out", self.attn.out, f"{weaver_prefix}.attn.out_proj")
        linears = iter(("fc1", "fc2"))
        for name, module in self.ffn.named_children():
            if isinstance(module, (nn.Linear, nn.LayerNorm)):
                weaver = next(linears) if isinstance(module, nn.Linear) else "post_fc_norm"
                names |= module_names(f"{prefix}.ffn.{name}", module, f"{weaver_prefix}.{weaver}")
        names[f"{prefix}.head_scale"] = WeaverName(f"{weaver_prefix}.c_attn")
        names[f"{prefix}.residual_scale"] = WeaverName(f"{weaver_prefix}.w_resid")
        return names


@dataclass
class PackedNodes:
    """Embedded nodes h [N, D] of a batch of B = `jets` jets and their padded layout [B, P = `size`]: `jet` and
    `position` [N] each node's place in it, `slots` [N] = jet * P + position, `mask` [B, P] real nodes,
    `key_padding` [B, P] 0 or -inf."""

    h: Tensor
    jet: Tensor
    position: Tensor
    slots: Tensor
    mask: Tensor
    key_padding: Tensor
    jets: int
    size: int

    def pad(self, values: Tensor) -> Tensor:
        """Packed rows values [N, C] -> the padded layout [B * P, C], zeros at padding."""
        return values.new_zeros(self.jets * self.size, values.size(1)).index_copy_(0, self.slots, values)

    def unpad(self, attended: Tensor) -> Tensor:
        """Attention output [B, heads, P, d] -> its real rows [N, heads * d] (gathered, whatever its strides)."""
        return attended.transpose(1, 2)[self.jet, self.position].flatten(1)


class ParticleTransformer(JetModel):
    """ParT-like transformer over the nodes of each jet, in gnnjet's layout (node-type embedding, then
    GELU -> (LayerNorm -> Linear -> GELU) stages)."""

    block = AttentionBlock
    pair_activate_last = False  # the pair MLP ends in its output Linear

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dims: list[int],
                 pair_features: str, pair_dims: list[int], heads: int, blocks: int, class_blocks: int, ffn_ratio: int,
                 head: list[int], dropout: float, batchnorm_padding: int | str | None = None, *, num_node_types: int):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.batchnorm_padding = batchnorm_padding  # used by the weaver layout's input BatchNorm
        dim = embed_dims[-1]
        self.input, self.embed = self.input_embedding(num_node_features, embed_dims, num_node_types)
        uses_pairs = pair_dims and pair_features == "lorentz"
        self.pair = PairEmbedding(pair_dims, heads, activate_last=self.pair_activate_last) if uses_pairs else None
        self.heads = heads
        self.blocks = nn.ModuleList(self.block(dim, heads, ffn_ratio, dropout) for _ in range(blocks))
        self.class_blocks = nn.ModuleList(self.block(dim, heads, ffn_ratio, self.class_dropout(dropout))
                                          for _ in range(class_blocks))
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.class_token, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.build_head(dim)

    @staticmethod
    def input_embedding(num_node_features: int, embed_dims: list[int],
                        num_node_types: int) -> tuple[nn.Module, nn.Sequential]:
        """(input layer, embedding stages): features and node type -> embed_dims[0], then the stages."""
        embedding = InputEmbedding(num_node_features, embed_dims[0], num_node_types)  # initialised first
        stages: list[nn.Module] = [nn.GELU()]
        for a, b in zip(embed_dims[:-1], embed_dims[1:]):
            stages += [nn.LayerNorm(a), nn.Linear(a, b), nn.GELU()]
        return embedding, nn.Sequential(*stages)

    @staticmethod
    def class_dropout(dropout: float) -> float:
        """Dropout of the class-attention blocks."""
        return dropout

    def embed_nodes(self, batch: Batch) -> Tensor:
        """x [N, F] and node types -> embedded nodes [N, D]."""
        return self.embed(self.input(batch.x, batch.node_type))

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Nodes stay packed [N, D] (no work on padding) except inside attention, which sees [B, P] with P
        the largest jet of the batch."""
        nodes = self.nodes(batch)
        if self.pair is not None:
            bias = self.pair_bias(batch, nodes)
        else:
            bias = nodes.key_padding[:, None, None, :].expand(-1, self.heads, nodes.size, -1)  # [B, heads, P, P]
        h = self.attend(nodes.h, nodes, self.blocks, bias)
        return self.read_out(nodes, h), h

    def nodes(self, batch: Batch) -> PackedNodes:
        """Embedded nodes and their places in the padded [B, P] layout."""
        jets = num_jets(batch)
        size = max_nodes(batch) or largest_jet(batch.ptr)
        h = self.embed_nodes(batch)
        position = torch.arange(h.size(0), device=h.device) - batch.ptr[batch.batch]  # [N]
        slots = batch.batch * size + position
        mask = torch.zeros(jets * size, dtype=torch.bool, device=h.device).index_fill(0, slots, True)
        mask = mask.view(jets, size)
        key_padding = torch.zeros(mask.shape, dtype=h.dtype, device=h.device).masked_fill(~mask, float("-inf"))
        return PackedNodes(h, batch.batch, position, slots, mask, key_padding, jets, size)

    def pair_bias(self, batch: Batch, nodes: PackedNodes, taps: tuple[int, ...] = ()) -> Tensor | list[Tensor]:
        """The pair embedding of the batch's four-vectors (`PairEmbedding.forward`), key padding included."""
        assert self.pair is not None
        p4 = nodes.pad(batch.p4).view(nodes.jets, nodes.size, 4)
        return self.pair(p4, nodes.mask, nodes.key_padding, taps)

    @staticmethod
    def attend(h: Tensor, nodes: PackedNodes, blocks: nn.ModuleList, bias: Tensor) -> Tensor:
        """Run `blocks` on packed nodes h [N, D] laid out as `nodes`, with one attention bias (made contiguous
        once, not in every block)."""
        bias = bias.contiguous()
        for block in blocks:
            h = block(h, bias, nodes)
        return h

    def read_out(self, nodes: PackedNodes, h: Tensor) -> Tensor:
        """Class-attention blocks over the final nodes h [N, D] -> jet representation [B, D]."""
        x = nodes.pad(h).view(nodes.jets, nodes.size, -1)
        token = self.class_token.expand(nodes.jets, -1, -1)
        class_bias = torch.cat([torch.zeros_like(nodes.key_padding[:, :1]), nodes.key_padding], dim=1)
        class_bias = class_bias[:, None, None, :].expand(-1, self.heads, -1, -1)  # [B, heads, 1, 1 + P]
        for block in self.class_blocks:
            token = block.attend_class(token, x, class_bias)
        return self.norm(token.squeeze(1))


class WeaverParticleTransformer(ParticleTransformer):
    """weaver-core's ParticleTransformer as the ParT repository's ``example_ParticleTransformer.py`` builds it
    (layout ``weaver``): input BatchNorm, then LayerNorm -> Linear -> GELU stages from the raw features (no
    node-type embedding), the pair MLP ending in BatchNorm + GELU, `WeaverAttentionBlock`s, class blocks
    without dropout."""

    block = WeaverAttentionBlock
    pair_activate_last = True  # BatchNorm + GELU after the pair MLP's output Linear
    weaver_architecture: str | None = "transformer"

    @staticmethod
    def input_embedding(num_node_features: int, embed_dims: list[int],
                        num_node_types: int) -> tuple[nn.Module, nn.Sequential]:
        embedding = nn.BatchNorm1d(num_node_features)
        widths, stages = [num_node_features, *embed_dims], []
        for a, b in zip(widths[:-1], widths[1:]):
            stages += [nn.LayerNorm(a), nn.Linear(a, b), nn.GELU()]
        return embedding, nn.Sequential(*stages)

    @staticmethod
    def class_dropout(dropout: float) -> float:
        return 0.0

    def embed_nodes(self, batch: Batch) -> Tensor:
        if self.training and self.batchnorm_padding is not None:
            return self.embed(padded_batch_norm(self.input, batch.x, padded_nodes(batch, self.batchnorm_padding))[0])
        return self.embed(self.input(batch.x))

    def weaver_names(self) -> dict[str, WeaverName]:
        """weaver's ParticleTransformer: ``embed`` (its input BatchNorm and stages), ``pair_embed.embed`` (its
        input BatchNorm and first layer reordered to weaver's pair features), ``blocks``, ``cls_blocks``,
        ``cls_token``, ``norm``, ``fc``."""
        names = module_names("input", self.input, "embed.input_bn") | module_names("embed", self.embed, "embed.embed")
        if self.pair is not None:
            names |= self.pair.weaver_names("pair", "pair_embed.embed")
        stacks = (("blocks", "blocks", self.blocks), ("class_blocks", "cls_blocks", self.class_blocks))
        for prefix, weaver, blocks in stacks:
            for i, block in enumerate(blocks):
                names |= block.weaver_names(f"{prefix}.{i}", f"{weaver}.{i}")
        names["class_token"] = WeaverName("cls_token")
        return names | module_names("norm", self.norm, "norm") | self.weaver_head_names()


LAYOUTS: dict[str, type[ParticleTransformer]] = {"gnnjet": ParticleTransformer, "weaver": WeaverParticleTransformer}


def build(num_node_features: int, num_jet_features: int, out_dim: int, *, layout: str,
          **params: Any) -> ParticleTransformer:
    """The transformer of `layout` ("gnnjet" or "weaver", `LAYOUTS`): the registry's constructor of the family."""
    return LAYOUTS[layout](num_node_features, num_jet_features, out_dim, **params)
