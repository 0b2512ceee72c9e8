"""L-GATr (Spinner, Brehmer, Plehn et al., arXiv:2405.14806, 2411.00446): the Lorentz-equivariant geometric-algebra
transformer of the `lgatr` package (MIT, pinned in requirements.txt), wrapped as a gnnjet family.

Written here: the tagging recipe around the package's nets. Each particle's four-momentum (E, px, py, pz), divided by
``momentum_scale`` GeV, enters as a vector (L-GATr: a multivector channel; L-GATr-slim: a Lorentz vector channel),
with the symmetry-breaking reference vectors ("spurions") as further channels of every particle: ``references:
beam_time`` (as published: the beam axis, for L-GATr the x-y plane as a bivector, for the slim net the two
light-like beams (1, 0, 0, +-1); and the time direction (1, 0, 0, 0)), ``beam`` (no time direction: boosts along
the beam stay a symmetry) or ``none`` (fully Lorentz invariant). The scalar stream starts from a constant channel
and, with ``scalars: features``, the node features of the config (invariants such as particle-ID flags). Jets are
padded for the attention, padded keys masked, so no jet sees another. The invariant outputs (the scalar channels of
the last layer and the invariant of its vector channel) go to the head: averaged over the jet's particles
(``readout: mean``), or those of a global token (``readout: token``, the papers' choice: one extra item per jet with
no four-momentum, the reference channels and a scalar flag, attending to and attended by the particles).
The slim net's beams are light-like vectors, which a boost along the beam rescales: there only rotations about
the beam remain a symmetry with ``references: beam``.

Parameters: 1,685,096 with the published sizes (12 blocks, 16 multivector and 32 scalar channels, 8 heads; 6 node
features, 2 classes) and lgatr 2.0.0's block (MLP ratio 4); the papers' 1.1M came from their own code's block.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.utils import to_dense_batch

from gnnjet.nn.blocks import JetModel, num_jets

DEFAULTS: dict[str, Any] = {"variant": "lgatr", "blocks": 12, "mv_channels": 16, "s_channels": 32, "heads": 8,
                            "references": "beam_time", "scalars": "features", "readout": "mean",
                            "momentum_scale": 100.0, "head": [], "dropout": 0.0}
PRESETS = {
    "lgatr": {},  # the published tagger's sizes
    "small": {"blocks": 2, "mv_channels": 8, "s_channels": 16, "heads": 4, "head": [32]},
    "slim": {"variant": "slim"},
}
VARIANTS = ("lgatr", "slim")
REFERENCES = ("beam_time", "beam", "none")
SCALARS = ("features", "none")
READOUTS = ("mean", "token")
CHOICES = {"variant": VARIANTS, "references": REFERENCES, "scalars": SCALARS,
           "readout": READOUTS}  # the registry's allowed values


def reference_vectors(variant: str, kind: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The spurions of `kind` for `variant`: multivectors [S, 16] (lgatr) or Lorentz vectors [S, 4] (slim)."""
    from lgatr import extract_vector, get_spurions

    beam = {"none": None, "beam": "xyplane", "beam_time": "xyplane"}[kind]
    if variant == "slim" and beam is not None:
        beam = "lightlike"  # a bivector has no vector form: the beams as the two light-like directions
    spurions = get_spurions(beam, add_time_spurion=kind == "beam_time", beam_mirror=True, device=device, dtype=dtype)
    return extract_vector(spurions) if variant == "slim" else spurions


IMPORTS = ("lgatr",)  # imported lazily by the model (slow to import), and computes tensors when imported


class LGATrTagger(JetModel):
    """`lgatr`'s L-GATr or L-GATr-slim over each jet's particles, mean of the invariant outputs, then the head."""

    onnx_blocker = ("the wrapper pads jets to the batch's largest (to_dense_batch), a data-dependent size that "
                    "torch.export cannot trace; predict with bin/predict.py (PyTorch) instead")

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, variant: str, blocks: int,
                 mv_channels: int, s_channels: int, heads: int, references: str, scalars: str, readout: str,
                 momentum_scale: float, head: list[int], dropout: float, *, num_node_types: int):
        from lgatr import LGATr, LGATrSlim

        super().__init__(num_jet_features, out_dim, head, dropout)
        self.variant, self.reference_kind, self.scale = variant, references, momentum_scale
        self.use_features, self.token = scalars == "features", readout == "token"
        num_references = reference_vectors(variant, references, torch.float32, torch.device("cpu")).shape[0]
        in_s = 1 + (num_node_features if self.use_features else 0) + int(self.token)
        if variant == "slim":
            self.net: nn.Module = LGATrSlim(blocks, 1 + num_references, 1, mv_channels, in_s, s_channels, s_channels,
                                            num_heads=heads)
        else:
            self.net = LGATr(blocks, 1 + num_references, 1, mv_channels, in_s, s_channels, s_channels,
                             attention={"num_heads": heads}, mlp={})
        self.build_head(s_channels + 1)

    def invariant(self, out: Tensor) -> Tensor:
        """The invariant of the output channel [..., 16 or 4] -> [..., 1]: a multivector's scalar component, a Lorentz
        vector's Minkowski square."""
        if self.variant == "lgatr":
            from lgatr import extract_scalar

            return extract_scalar(out)
        return out[..., :1] ** 2 - (out[..., 1:] ** 2).sum(-1, keepdim=True)

    def encode(self, batch: Batch) -> Tensor:
        return self.read_out(*self.attend(batch))

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        outputs, mask = self.attend(batch)
        particles, real = (outputs[:, 1:], mask[:, 1:]) if self.token else (outputs, mask)
        return self.read_out(outputs, mask), particles[real]  # the nodes in batch order

    def read_out(self, outputs: Tensor, mask: Tensor) -> Tensor:
        """Jet representations [B, s + 1]: the token's outputs, or the mean over the jet's particles."""
        if self.token:
            return outputs[:, 0]
        weights = mask.unsqueeze(-1).to(outputs.dtype)
        return (outputs * weights).sum(1) / weights.sum(1).clamp(min=1)

    def attend(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The network's outputs [B, P, s + 1] (scalars and the output vector's invariant; the token first, with
        readout token) and mask [B, P] (real items)."""
        from lgatr import embed_vector

        jets = num_jets(batch)
        vectors = batch.p4[:, [3, 0, 1, 2]] / self.scale  # (px, py, pz, E) -> (E, px, py, pz)
        # one padding for the four-momenta and the features together (its backward is one gather)
        nodes = torch.cat([vectors, batch.x], dim=1) if self.use_features else vectors
        nodes, mask = to_dense_batch(nodes, batch.batch, batch_size=jets)  # [B, P, 4 (+ F)], [B, P]
        vectors = nodes[..., :4]
        scalars = vectors.new_ones(*mask.shape, 1)
        if self.use_features:
            scalars = torch.cat([scalars, nodes[..., 4:]], dim=-1)
        if self.token:  # item 0 of every jet: no momentum, a flag, zeros for the features
            vectors = torch.cat([vectors.new_zeros(jets, 1, 4), vectors], dim=1)
            mask = torch.cat([mask.new_ones(jets, 1), mask], dim=1)
            scalars = torch.cat([scalars.new_zeros(jets, 1, scalars.shape[-1]), scalars], dim=1)
            scalars[:, :1, 0] = 1.0
            flag = torch.zeros_like(mask, dtype=scalars.dtype)
            flag[:, 0] = 1.0
            scalars = torch.cat([scalars, flag.unsqueeze(-1)], dim=-1)
        spurions = reference_vectors(self.variant, self.reference_kind, vectors.dtype, vectors.device)
        if self.variant == "lgatr":
            channels = embed_vector(vectors).unsqueeze(-2)  # [B, P, 1, 16]
        else:
            channels = vectors.unsqueeze(-2)  # [B, P, 1, 4]
        channels = torch.cat([channels, spurions.expand(*mask.shape, *spurions.shape)], dim=-2)
        key_mask = mask[:, None, None, :]  # [B, 1, 1, P]: padded keys are never attended to
        vector_out, outputs = self.net(channels, scalars, attn_mask=key_mask)  # [B, P, 1, 16 or 4], [B, P, s]
        return torch.cat([outputs, self.invariant(vector_out[..., 0, :])], dim=-1), mask
