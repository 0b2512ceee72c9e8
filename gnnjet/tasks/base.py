"""The interface a task offers the trainer and predictor."""

from __future__ import annotations

import numpy as np
from torch import Tensor


class Task:
    """Output size, loss, epoch metrics and output columns of one learning task. The trainer selects best.pt and
    stops early on the validation loss."""

    out_dim: int

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        """output [B, out_dim], target [B] -> scalar mean loss."""
        raise NotImplementedError

    def metrics(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """Epoch metrics from all outputs [J, out_dim] and targets [J] (besides the loss)."""
        raise NotImplementedError

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Branches of the predictions ROOT file (docs/architecture.md, "Output files")."""
        raise NotImplementedError
