"""LorentzNet (Gong, Meng, Zhang, Qu, Li, Qian et al., JHEP 07 (2022) 030): Lorentz-group-equivariant message passing.

Every jet is a fully connected graph (all ordered pairs (i, j), i != j, built packed, never as a padded
[B, P, P] tensor) whose nodes carry a four-vector x = (E, px, py, pz) [GeV] and scalars h. Each Lorentz group
equivariant block (`LorentzBlock`) computes, for edge (i, j),

    m_ij = phi_e(h_i, h_j, psi(<x_i - x_j, x_i - x_j>), psi(<x_i, x_j>)),   m_ij <- m_ij * phi_m(m_ij)
    x_i  <- x_i + c * mean_j clamp((x_i - x_j) * phi_x(m_ij), -100, 100)      (all blocks but the last)
    h_i  <- h_i + phi_h(h_i, sum_j m_ij, s_i)

with the Minkowski product <a, b> = a0 b0 - a.b and psi(z) = sign(z) log(|z| + 1): h depends on the four-vectors
only through invariants, so the jet's output (mean of h over its nodes, then the head) is Lorentz invariant and
the updated x are equivariant. The details that change the released model's numbers (REFERENCE.md, "LorentzNet")
are kept: both updates use the block's input x, the clamp, means for x and sums for h, no bias in phi_e's first
and phi_x's last layer, the x update left out of the last block.

Inputs: the nodes' four-vectors (every node type needs kinematics: a config error otherwise) and their scalars,
``scalars: mass`` (the published top tagger: one-hot (particle, beam) x |m|, through psi) or ``scalars:
features`` (the node features x of the config, e.g. particle-ID flags for quark/gluon, plus a beam flag when
there are beams). ``beams: true`` adds, per jet and before its particles, two beam nodes (sqrt(2), 0, 0, +-1)
(mass 1), which break the symmetry to rotations about and boosts along the beam axis, as published.

The released model's readout divided the sum over real nodes by the batch's padded length, so its scores depend
on the other jets of a batch; here a jet's mean runs over its own nodes (beams included), which equals the
release evaluating that jet alone.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.utils import scatter

from gnnjet.nn.blocks import JetModel
from gnnjet.nn.knn import batch_vector

DEFAULTS: dict[str, Any] = {"hidden": 72, "blocks": 6, "c": 0.005, "beams": True, "scalars": "mass", "head": [72],
                            "dropout": 0.2}
PRESETS = {
    "lorentznet": {},  # the published top tagger: 224,072 parameters with mass scalars and 2 classes
    "small": {"hidden": 32, "blocks": 3, "head": [32]},
}
SCALARS = ("mass", "features")  # model.scalars (module docstring)
CHOICES = {"scalars": SCALARS}  # the registry's allowed values of the string options
CLAMP = 100.0  # the release's bound on each x-update term


def psi(z: Tensor) -> Tensor:
    """sign(z) log(|z| + 1): compresses Minkowski products spanning many orders of magnitude."""
    return torch.sign(z) * torch.log1p(z.abs())


def minkowski(a: Tensor, b: Tensor) -> Tensor:
    """<a, b> = a0 b0 - a1 b1 - a2 b2 - a3 b3 of four-vectors a, b [..., 4] (E first) -> [..., 1]."""
    return (a[..., :1] * b[..., :1]) - (a[..., 1:] * b[..., 1:]).sum(-1, keepdim=True)


def complete_edges(ptr: Tensor) -> Tensor:
    """Every ordered pair (j -> i), i != j, within each jet of a packed batch: edge_index [2, sum n (n - 1)],
    row 0 the source j, row 1 the target i (PyG's flow). Built from the jet sizes without a [B, P, P] tensor."""
    sizes = ptr[1:] - ptr[:-1]
    jet = batch_vector(ptr, int(ptr[-1]))  # [N]
    degree = (sizes - 1).clamp(min=0)[jet]  # [N] neighbours of each node
    target = torch.repeat_interleave(torch.arange(jet.numel(), device=ptr.device), degree)  # [E]
    first = torch.cumsum(degree, 0) - degree  # [N] position of each node's first edge
    k = torch.arange(target.numel(), device=ptr.device) - first[target]  # 0 .. n - 2 within the target's edges
    local = target - ptr[jet[target]]  # the target's place in its jet
    source = ptr[jet[target]] + k + (k >= local).long()  # skip the target itself
    return torch.stack([source, target])


class LorentzBlock(nn.Module):
    """One Lorentz group equivariant block (module docstring): (h [N, H], x [N, 4]) -> updated (h, x).

    The four-vectors x are float64 whatever the model's dtype or autocast: the pair invariants of nearly collinear
    constituents, <x_i - x_j, x_i - x_j> and <x_i, x_j>, are small differences of large products, which float32 (and
    bfloat16 all the more) would lose; the messages themselves are computed in the model's precision."""

    def __init__(self, hidden: int, num_scalars: int, c: float, update_x: bool):
        super().__init__()
        self.c, self.update_x = c, update_x
        # ReLUs in place: each follows a layer whose backward does not need its output, and the per-edge tensors
        # [E, H] are the model's memory traffic
        self.phi_e = nn.Sequential(nn.Linear(2 * hidden + 2, hidden, bias=False), nn.BatchNorm1d(hidden),
                                   nn.ReLU(inplace=True), nn.Linear(hidden, hidden), nn.ReLU(inplace=True))
        self.phi_h = nn.Sequential(nn.Linear(2 * hidden + num_scalars, hidden), nn.BatchNorm1d(hidden),
                                   nn.ReLU(inplace=True), nn.Linear(hidden, hidden))
        self.phi_m = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
        if update_x:
            self.phi_x = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
                                       nn.Linear(hidden, 1, bias=False))
            nn.init.xavier_uniform_(self.phi_x[2].weight, gain=0.001)  # x moves little at the start (EGNN-style init)

    def forward(self, h: Tensor, x: Tensor, scalars: Tensor, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """h [N, H], x [N, 4] float64, scalars [N, S], edge_index [2, E] (source j, target i) -> (h, x)."""
        source, target = edge_index
        # gathers by index_select: its backward is an index_add, several times faster on the CPU than the
        # accumulating index_put that `tensor[index]` backpropagates through
        x_i, x_j = x.index_select(0, target), x.index_select(0, source)
        difference = x_i - x_j
        invariants = psi(torch.cat([minkowski(difference, difference), minkowski(x_i, x_j)], dim=1))
        # phi_e's first layer (no bias) on [h_i, h_j, a, b] is W_i h_i + W_j h_j + w (a, b): the two node terms are
        # computed once per node [N, H] rather than once per edge, the edges only add them (same weights, same sums)
        weight = self.phi_e[0].weight
        width = h.size(1)
        hidden = weight.size(0)
        node_terms = h @ torch.cat([weight[:, :width], weight[:, width:2 * width]]).T  # [N, 2H]: W_i h, W_j h
        # the invariants' term in the weights' precision, autocast off: under autocast a matmul's inputs would be
        # rounded to bfloat16 (8 bits), coarser than the invariants' differences between constituents
        with torch.autocast(h.device.type, enabled=False):
            m = torch.addmm(node_terms[:, :hidden].index_select(0, target).to(weight.dtype),
                            invariants.to(weight.dtype), weight[:, -2:].T)
        m = m + node_terms[:, hidden:].index_select(0, source)
        for layer in self.phi_e[1:]:  # BatchNorm, ReLU, Linear, ReLU
            m = layer(m)
        m = m * self.phi_m(m)
        nodes = h.size(0)
        # sums over each node's incoming edges with index_add (its backward an index_select): twice as fast on the
        # CPU as a scatter, whose backward is a gather
        messages = m.new_zeros(nodes, m.size(1)).index_add(0, target, m)
        h = h + self.phi_h(torch.cat([h, messages.to(h.dtype), scalars.to(h.dtype)], dim=1))
        if not self.update_x:
            return h, x
        shift = torch.clamp(difference * self.phi_x(m).to(x.dtype), -CLAMP, CLAMP)
        degree = torch.bincount(target, minlength=nodes).clamp(min=1).unsqueeze(1)
        return h, x + self.c * x.new_zeros(x.shape).index_add(0, target, shift) / degree


class LorentzNet(JetModel):
    """LorentzNet over each jet's nodes (and beams): embedding of the scalars, `blocks` LorentzBlocks, mean of h
    over the jet's nodes, then the head."""

    onnx_blocker = ("its complete graph has n (n - 1) edges per jet, a data-dependent size that torch.export cannot "
                    "trace; predict with bin/predict.py (PyTorch) instead")

    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, hidden: int, blocks: int,
                 c: float, beams: bool, scalars: str, head: list[int], dropout: float, *, num_node_types: int):
        super().__init__(num_jet_features, out_dim, head, dropout)
        self.beams, self.scalar_kind = beams, scalars
        num_scalars = 2 if scalars == "mass" else num_node_features + int(beams)
        self.embedding = nn.Linear(num_scalars, hidden)
        self.blocks = nn.ModuleList(LorentzBlock(hidden, num_scalars, c, update_x=b < blocks - 1)
                                    for b in range(blocks))
        self.build_head(hidden)

    def encode(self, batch: Batch) -> Tensor:
        return self.run_blocks(batch)[0]

    def encode_nodes(self, batch: Batch) -> tuple[Tensor, Tensor]:
        jets, h, place = self.run_blocks(batch)
        return jets, h if place is None else h.index_select(0, place)  # the particles' rows, without the beams

    def run_blocks(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor | None]:
        """(jet representations [B, H], final node embeddings [N', H] (beams included), the particles' rows among
        them [N] (None without beams))."""
        vectors = batch.p4[:, [3, 0, 1, 2]].double()  # (px, py, pz, E) -> (E, px, py, pz), float64 (LorentzBlock)
        is_beam = vectors.new_zeros(vectors.size(0), 1)
        features, ptr, place = batch.x, batch.ptr, None
        if self.beams:
            vectors, ptr, place = with_beams(vectors, ptr)
            is_beam = vectors.new_ones(vectors.size(0), 1).index_fill(0, place, 0.0)
            features = features.new_zeros(vectors.size(0), features.size(1)).index_copy(0, place, features)
        jets, h, _ = self.network(vectors, self.scalars(vectors, features, is_beam), ptr)
        return jets, h, place

    def scalars(self, vectors: Tensor, features: Tensor, is_beam: Tensor) -> Tensor:
        """The nodes' scalars [N, S]: psi of one-hot (particle, beam) x |m| (``mass``), or the node features and,
        with beams, a beam flag (``features``)."""
        if self.scalar_kind == "mass":
            mass = minkowski(vectors, vectors).abs().sqrt()
            return psi(torch.cat([(1 - is_beam) * mass, is_beam * mass], dim=1)).to(features.dtype)
        return torch.cat([features, is_beam.to(features.dtype)], dim=1) if self.beams else features

    def network(self, vectors: Tensor, scalars: Tensor, ptr: Tensor) -> tuple[Tensor, Tensor]:
        """Four-vectors [N, 4] (E first) and scalars [N, S] of the nodes (beams included) of jets laid out by
        ptr [B + 1] -> (jet representations [B, H], final node embeddings [N, H], final four-vectors [N, 4])."""
        edges = complete_edges(ptr)
        h, x = self.embedding(scalars), vectors.double()
        for block in self.blocks:
            h, x = block(h, x, scalars, edges)
        return scatter(h, batch_vector(ptr, h.size(0)), 0, ptr.numel() - 1, reduce="mean"), h, x


def with_beams(vectors: Tensor, ptr: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Two beam nodes (sqrt(2), 0, 0, +1), (sqrt(2), 0, 0, -1) before each jet's nodes: (four-vectors [N + 2B, 4],
    ptr [B + 1], the new rows of the original nodes [N])."""
    jets = ptr.numel() - 1
    new_ptr = ptr + 2 * torch.arange(jets + 1, device=ptr.device)
    jet = batch_vector(ptr, vectors.size(0))
    place = torch.arange(vectors.size(0), device=ptr.device) - ptr[jet] + new_ptr[jet] + 2
    beam = vectors.new_tensor([[math.sqrt(2.0), 0.0, 0.0, 1.0], [math.sqrt(2.0), 0.0, 0.0, -1.0]])
    out = vectors.new_zeros(vectors.size(0) + 2 * jets, 4)
    starts = new_ptr[:-1]
    out[starts], out[starts + 1] = beam[0], beam[1]
    return out.index_copy(0, place, vectors), new_ptr, place
