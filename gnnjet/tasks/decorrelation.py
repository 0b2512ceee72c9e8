"""Mass decorrelation as a loss term beside the task: DisCo (Kasieczka, Nachman, Shih, Schwartz, arXiv:2001.05310).

The penalty is strength x dCorr^2(s, m) between the score s of one class and a jet-level variable m (the jet mass,
task.decorrelation.expr) over the background jets of a batch, with the jets' weights. Distance correlation is zero
only for independent variables, so the penalty pushes the background score distribution to be the same at every
mass: a cut on the score then keeps the background mass spectrum's shape instead of sculpting a peak.

It is computed on each training batch from B x B matrices of pairwise distances: memory and time O(B^2) per
batch (B = 1024 background jets: 4 MB a matrix), and the estimate is noisier for small batches. Under DDP each
rank's penalty is taken on its own shard and the gradients are averaged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def distance_correlation(x: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
    """Squared weighted distance correlation dCorr^2 in [0, 1] of samples x [B] and y [B] with weights [B] (None: 1).

    With normalised weights p (sum 1) and the distance matrix a_ij = |x_i - x_j|, double centring gives
    A_ij = a_ij - a_i. - a_.j + a_.. (a_i. = sum_j p_j a_ij, a_.. = sum_i p_i a_i.), likewise B for y; then
    dCov^2(x, y) = sum_ij p_i p_j A_ij B_ij and dCorr^2 = dCov^2(x, y) / sqrt(dCov^2(x, x) dCov^2(y, y)). Integer
    weights equal repeated samples (tested)."""
    dtype = torch.promote_types(x.dtype, torch.float32)  # float32 at least (bfloat16 under AMP), float64 kept
    with torch.autocast(x.device.type, enabled=False):  # AMP would run the matrix products in bfloat16
        x, y = x.to(dtype), y.to(dtype)
        p = torch.ones_like(x) if weight is None else weight.to(dtype)
        p = p / p.sum().clamp(min=torch.finfo(p.dtype).tiny)

        def centred(values: Tensor) -> Tensor:
            distances = (values[:, None] - values[None, :]).abs()
            row = distances @ p
            return distances - row[:, None] - row[None, :] + row @ p

        a, b = centred(x), centred(y)

        def covariance(u: Tensor, v: Tensor) -> Tensor:
            return p @ (u * v) @ p

        denominator = torch.sqrt((covariance(a, a) * covariance(b, b)).clamp(min=0))
        return covariance(a, b) / denominator.clamp(min=torch.finfo(x.dtype).tiny)


class DisCo:
    """strength x dCorr^2 of the softmax score of class `score` against the decorrelation variable, on the jets
    of the `background` classes (class indices)."""

    def __init__(self, strength: float, score: int, background: list[int]):
        self.strength, self.score, self.background = strength, score, background

    @classmethod
    def from_task(cls, task_section: dict[str, Any]) -> "DisCo | None":
        """From a validated task section (None without task.decorrelation)."""
        settings = task_section["decorrelation"]
        if settings is None:
            return None
        names = list(task_section["labels"])
        score = names.index(settings["score"] or names[0])
        background = [names.index(n) for n in settings["classes"]] if settings["classes"] else \
            [i for i in range(len(names)) if i != score]
        return cls(settings["strength"], score, background)

    def penalty(self, output: Tensor, target: Tensor, variable: Tensor, weight: Tensor | None = None) -> Tensor:
        """output [B, C] logits, target [B] class indices, variable [B] (e.g. mass), weight [B] -> scalar penalty
        (0 with fewer than two background jets in the batch)."""
        background = torch.isin(target, torch.as_tensor(self.background, device=target.device))
        if int(background.sum()) < 2:
            return output.sum() * 0.0  # keeps the graph (and DDP's gradient bookkeeping) intact
        score = torch.softmax(output.float(), dim=1)[background, self.score]
        jet_weight = None if weight is None else weight[background].clamp(min=0)  # negative (NLO) weights: 0
        return self.strength * distance_correlation(score, variable[background], jet_weight)
