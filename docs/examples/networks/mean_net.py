"""An own network for gnnjet (README, "Your own network"): a per-particle MLP, a type embedding, the mean over each
jet's particles and an MLP head, written against gnnjet's PyG Batch with torch alone. configs/qg_own_network.yaml
trains it:

    model:
      name: docs/examples/networks/mean_net.py:MeanNet
      options: {hidden: 64}

gnnjet calls MeanNet(num_node_features=F, num_jet_features=G, out_dim=K, num_node_types=T, **options); forward
gets a Batch with x [N, F] (preprocessed features), node_type [N], pos [N, 2], p4 [N, 4], batch [N] (each node's jet),
ptr [B + 1] (jet b's nodes are ptr[b]:ptr[b + 1]) and u [B, G] (jet features), and returns [B, K]. The output layer
is named `head` (its last Linear is what fine-tuning replaces, and `training.freeze: [backbone]` keeps the rest).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MeanNet(nn.Module):
    def __init__(self, num_node_features: int, num_jet_features: int, out_dim: int, num_node_types: int,
                 hidden: int = 64):
        super().__init__()
        self.types = nn.Embedding(num_node_types, hidden)
        self.particle = nn.Sequential(nn.Linear(num_node_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                      nn.ReLU())
        self.head = nn.Sequential(nn.Linear(hidden + num_jet_features, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))

    def forward(self, batch) -> Tensor:  # noqa: ANN001 - a torch_geometric Batch
        h = self.particle(batch.x) + self.types(batch.node_type)  # [N, hidden]
        jets = batch.ptr.numel() - 1
        sums = h.new_zeros(jets, h.shape[1]).index_add_(0, batch.batch, h)
        counts = (batch.ptr[1:] - batch.ptr[:-1]).clamp(min=1).unsqueeze(1)
        return self.head(torch.cat([sums / counts, batch.u], dim=1))


def focal_loss(output: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    """A per-jet loss for task.loss (docs/examples/networks/mean_net.py:focal_loss): the focal loss of class logits
    output [B, C] for class indices target [B] -> [B] (gnnjet weights and averages it)."""
    log_p = torch.log_softmax(output, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    return -((1 - log_p.exp()) ** gamma) * log_p
