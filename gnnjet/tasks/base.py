"""The interface a task offers the trainer and predictor."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch

from gnnjet.errors import GnnjetError

# users' loss (task.loss 'file.py:name'): (output [B, K], target [B] or [B, T]) -> per-jet losses [B]
LossFunction = Callable[[Tensor, Tensor], Tensor]


class Task:
    """Output size, loss, epoch metrics and output columns of one learning task. The trainer selects best.pt and
    stops early on the validation loss."""

    out_dim: int
    per_node = False  # outputs, targets and weights have one row per node (`tasks.node`), not per jet

    @classmethod
    def from_section(cls, task_section: dict[str, Any], training_section: dict[str, Any] | None = None,
                     loss_function: LossFunction | None = None) -> "Task":
        """The task of a validated config's task section (and the training options that shape its loss); with
        `loss_function`, users' loss that task.loss names (`nn.user.load_reference`) replaces the built-in one."""
        raise NotImplementedError

    def targets_of(self, batch: Batch) -> Tensor:
        """The target of each output row of a batch: the jets' y [B]."""
        return batch.y

    def weights_of(self, batch: Batch) -> Tensor:
        """The loss weight of each output row of a batch: the jets' weight [B]."""
        return batch.weight

    def per_row(self, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """Per-jet values [J, ...] (weights, folds) as one per output row, given each jet's nodes counts [J]."""
        return values

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        """(sum_j w_j l_j, sum_j |w_j|) over the B jets of output [B, out_dim], target [B], weight [B] (None: 1):
        the weighted loss is their ratio, under DDP with both sums taken over every rank's jets. |w| keeps the
        normalisation positive in batches with negative (NLO generator) weights; for w >= 0 it is sum(w)."""
        raise NotImplementedError

    def loss(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        """output [B, out_dim], target [B], weight [B] (None: 1) -> scalar weighted mean loss."""
        total, norm = self.loss_sums(output, target, weight)
        return total / norm.clamp(min=torch.finfo(norm.dtype).tiny)

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        """Epoch metrics from all outputs [J, out_dim] and targets [J] (besides the loss), jets weighted by
        weights [J] (None: 1) where the task's metrics take weights."""
        raise NotImplementedError

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Branches of the predictions ROOT file (docs/architecture.md, "Output files")."""
        raise NotImplementedError


def user_losses(function: LossFunction, output: Tensor, target: Tensor) -> Tensor:
    """Per-jet losses [B] of users' loss `function` on output [B, K] and target [B] (or [B, T]); anything but a
    finite-or-not float tensor of B values is a GnnjetError naming the function."""
    losses = function(output, target)
    if not isinstance(losses, Tensor) or losses.shape != (len(output),) or not losses.is_floating_point():
        got = tuple(losses.shape) if isinstance(losses, Tensor) else type(losses).__name__
        raise GnnjetError(f"task.loss {getattr(function, '__name__', function)}: must return one float loss per "
                          f"jet, a tensor of shape ({len(output)},); it returned {got}")
    return losses
