"""Jet energy correction: regress y = log(pt_gen / pt); the corrected pt is pt * exp(prediction)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from gnnjet.evaluate.stats import median, resolution
from gnnjet.tasks.base import Task


def _logcosh(difference: Tensor) -> Tensor:
    difference = difference.abs()
    return difference + torch.nn.functional.softplus(-2 * difference) - np.log(2.0)


def _huber(difference: Tensor) -> Tensor:
    """Huber loss with delta 0.1 (a jet's log response is a few tenths at most)."""
    return torch.nn.functional.huber_loss(difference, torch.zeros_like(difference), reduction="none", delta=0.1)


# per-jet loss of prediction - target, for each regression loss of `config.LOSSES`
PER_JET_LOSSES = {"l1": Tensor.abs, "huber": _huber, "mse": Tensor.square, "logcosh": _logcosh}


class Regression(Task):
    """One output; losses l1, huber (delta 0.1), mse, logcosh; jets with |y| > target_abs_max are masked."""

    out_dim = 1

    def __init__(self, loss: str = "huber", target_abs_max: float | None = None):
        self.loss_name, self.target_abs_max = loss, target_abs_max

    @classmethod
    def from_section(cls, task_section: dict[str, Any]) -> "Regression":
        return cls(task_section["loss"], task_section["target_abs_max"])

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        prediction, target = output.float().squeeze(1), target.float()
        weight = torch.ones_like(target) if weight is None else weight.float()
        if self.target_abs_max is not None:
            weight = weight * (target.abs() <= self.target_abs_max).float()
        per_jet = PER_JET_LOSSES[self.loss_name](prediction - target)
        return (per_jet * weight).sum(), weight.abs().sum()

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        """Residual response exp(pred - y) = pt_corr / pt_gen for the default target; the same and the loss
        without any correction (prediction 0). Medians and resolutions count every jet once (`weights` unused)."""
        corrected, raw = np.exp(outputs[:, 0] - targets), np.exp(-targets)
        no_correction = self.loss(torch.zeros(len(targets), 1), torch.from_numpy(targets))
        return {"median_response": median(corrected), "resolution": resolution(corrected),
                "raw_median_response": median(raw), "raw_resolution": resolution(raw),
                "no_correction_loss": float(no_correction)}

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        columns = {"pred": outputs[:, 0].astype(np.float32), "target": targets.astype(np.float32)}
        if "pt" in observers:
            columns["pt_corr"] = (observers["pt"] * np.exp(outputs[:, 0])).astype(np.float32)
        return {**columns, **observers}
