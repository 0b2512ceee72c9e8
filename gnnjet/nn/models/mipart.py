"""More-Interaction Particle Transformer (MIParT; Wu, Wang, Li, Qu, Zhu, arXiv:2407.08682).

The pair MLP of ParT (ln Delta, ln kT, ln z, ln m^2 -> BatchNorm/Linear/GELU stages) is tapped twice:
its last hidden layer gives the interaction matrix U1 with D1 = pair_dims[-1] channels, its output U2
with D2 = heads channels. K more-interaction blocks attend with weights computed from the interaction
alone, MIA(U1, V) = softmax(U1) V (one head per channel of U1, V a bias-free projection, no output
projection), then L ParT blocks attend with softmax(QK^T / sqrt(d) + U2) V, then class-attention
blocks read out the jet. Blocks are laid out as the authors' (weaver-core's ParT blocks: pre- and
post-attention LayerNorm, learned head and residual scales, GELU feed-forward with a LayerNorm),
the input is embedded as ParT's (BatchNorm, then LayerNorm -> Linear -> GELU stages). Nodes stay
packed outside attention, as in `transformer`.

The authors' default (embedding 128-512-64, pair 64-64-64, D1 = 64, D2 = 8, K = L = 5, 2 class blocks)
is the preset `mipart`; its parameter count equals that of their example_MIParticleTransformer.py
(tests/nn/test_models.py derives it layer by layer). Dropout on attention weights is left out, as in
`transformer`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from gnnjet.errors import ConfigError
from gnnjet.nn.models import transformer
from gnnjet.nn.models.transformer import PackedNodes, WeaverAttentionBlock, WeaverParticleTransformer

DEFAULTS: dict[str, Any] = {"embed_dims": [32, 32], "pair_dims": [16, 16, 16], "heads": 4, "mi_blocks": 2,
                            "blocks": 2, "class_blocks": 1, "ffn_ratio": 2, "head": [], "dropout": 0.1}
PRESETS = {
    "small": {},
    # the paper's MIParT (and the authors' example network): K = L = 5, D1 = 64, D2 = 8
    "mipart": {"embed_dims": [128, 512, 64], "pair_dims": [64, 64, 64], "heads": 8, "mi_blocks": 5, "blocks": 5,
               "class_blocks": 2, "ffn_ratio": 4},
}


def check_options(params: dict[str, Any], path: str) -> None:
    """Config-time check of a resolved section: ParT's head split, and one more-interaction head per channel of
    the interaction matrix."""
    transformer.check_heads(params, path)
    dim, interaction_heads = params["embed_dims"][-1], params["pair_dims"][-1]
    if dim % interaction_heads:
        raise ConfigError(f"{path}.pair_dims: the embedding width embed_dims[-1]={dim} must be divisible by "
                          f"pair_dims[-1]={interaction_heads} (one more-interaction head per channel of the "
                          "interaction matrix)")


class InteractionAttention(nn.Module):
    """MIA(U, V) = softmax(U) V with the weights given: one head per channel of U, V = h W (no bias)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.value = nn.Linear(dim, dim, bias=False)

    def packed(self, h: Tensor, weights: Tensor, nodes: PackedNodes) -> Tensor:
        """h [N, D] packed nodes laid out as `nodes`, weights [B, heads, P, P] (rows sum to 1 over real nodes)
        -> [N, D]."""
        value = nodes.pad(self.value(h)).view(nodes.jets, nodes.size, self.heads, -1).transpose(1, 2)
        return nodes.unpad(weights @ value)  # value [B, heads, P, D / heads]


class MIParT(WeaverParticleTransformer):
    """K more-interaction blocks, L ParT blocks and class attention over the jet's nodes (blocks and embeddings in
    weaver-core's layout, as the authors'; no weaver-core checkpoint exists to import)."""

    weaver_architecture = None

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, embed_dims: list[int],
                 pair_dims: list[int], heads: int, mi_blocks: int, blocks: int, class_blocks: int, ffn_ratio: int,
                 head: list[int], dropout: float, *, num_node_types: int):
        dim, interaction_heads = embed_dims[-1], pair_dims[-1]
        super().__init__(num_node_features, num_jet_features, out_dim, embed_dims, "lorentz", pair_dims, heads,
                         blocks, class_blocks, ffn_ratio, head, dropout, num_node_types=num_node_types)
        self.mi_blocks = nn.ModuleList(
            WeaverAttentionBlock(dim, interaction_heads, ffn_ratio, dropout,
                                 attention=InteractionAttention(dim, interaction_heads)) for _ in range(mi_blocks))

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        nodes = self.nodes(batch)
        assert self.pair is not None
        taps = (self.pair.last_hidden, len(self.pair.net))  # U1 after the last hidden GELU, U2 the output
        interaction, bias = self.pair_bias(batch, nodes, taps)  # key padding included
        h = self.attend(nodes.h, nodes, self.mi_blocks, torch.softmax(interaction, dim=-1))  # [B, D1, P, P]
        h = self.attend(h, nodes, self.blocks, bias)
        return self.read_out(nodes, h), h
