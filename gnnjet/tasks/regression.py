"""Jet energy correction: regress y = log(pt_gen / pt); the corrected pt is pt * exp(prediction). Point losses
give one number per jet; quantile and Gaussian-NLL heads also a per-jet resolution (an interval of pt_corr)."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gnnjet.config import DEFAULT_QUANTILES
from gnnjet.evaluate.stats import median, resolution
from gnnjet.tasks.base import Task


def _logcosh(difference: Tensor) -> Tensor:
    difference = difference.abs()
    return difference + torch.nn.functional.softplus(-2 * difference) - np.log(2.0)


def _huber(difference: Tensor) -> Tensor:
    """Huber loss with delta 0.1 (a jet's log response is a few tenths at most)."""
    return torch.nn.functional.huber_loss(difference, torch.zeros_like(difference), reduction="none", delta=0.1)


# per-jet loss of prediction - target, for each point-estimate loss of `config.LOSSES`
PER_JET_LOSSES = {"l1": Tensor.abs, "huber": _huber, "mse": Tensor.square, "logcosh": _logcosh}
# losses that predict a distribution per jet: its quantiles (task.quantiles), or a Gaussian's mean and log sigma
DISTRIBUTION_LOSSES = ("quantile", "gaussian_nll")
GAUSSIAN_68 = NormalDist().inv_cdf(0.84)  # 0.994: the 16-84% half-width of a unit Gaussian


def quantile_values(output: Tensor, median_index: int) -> Tensor:
    """Non-crossing quantiles [B, Q] from raw outputs [B, Q]: column `median_index` is the median, the others lie
    above (below) it by cumulated softplus offsets, so quantiles increase whatever the network outputs."""
    median = output[:, median_index : median_index + 1]
    above = median + torch.cumsum(torch.nn.functional.softplus(output[:, median_index + 1 :]), dim=1)
    below = median - torch.cumsum(torch.nn.functional.softplus(output[:, :median_index].flip(1)), dim=1).flip(1)
    return torch.cat([below, median, above], dim=1)


def pinball(values: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean over quantiles of the pinball loss max(tau r, (tau - 1) r), r = y - q: values [B, Q], target [B],
    quantiles [Q] -> [B]. Its expectation is minimal where each q is the tau-quantile of y."""
    residual = target[:, None] - values
    return torch.maximum(quantiles * residual, (quantiles - 1) * residual).mean(dim=1)


def gaussian_nll(output: Tensor, target: Tensor) -> Tensor:
    """Gaussian negative log-likelihood (without the constant) of target [B] under mean output[:, 0] and
    log sigma output[:, 1] (clamped to [-7, 3]) -> [B]."""
    log_sigma = output[:, 1].clamp(-7.0, 3.0)
    return 0.5 * ((target - output[:, 0]) * torch.exp(-log_sigma)) ** 2 + log_sigma


def quantile_name(tau: float) -> str:
    """0.16 -> 'q16', 0.025 -> 'q2p5': the suffix of a quantile's prediction columns."""
    return "q" + f"{tau * 100:g}".replace(".", "p")


class Regression(Task):
    """Regression of y (JEC: log(pt_gen / pt)). Point losses l1, huber (delta 0.1), mse, logcosh: one output.
    `quantile`: one output per quantile of `quantiles` (non-crossing, the median the point estimate), trained with
    the pinball loss; `gaussian_nll`: a mean (the point estimate) and a log sigma. Jets with |y| > target_abs_max
    are masked."""

    def __init__(self, loss: str = "huber", target_abs_max: float | None = None,
                 quantiles: list[float] | None = None):
        self.loss_name, self.target_abs_max = loss, target_abs_max
        self.quantiles = list(quantiles or DEFAULT_QUANTILES) if loss == "quantile" else None
        self.out_dim = len(self.quantiles) if self.quantiles else 2 if loss == "gaussian_nll" else 1

    @classmethod
    def from_section(cls, task_section: dict[str, Any]) -> "Regression":
        return cls(task_section["loss"], task_section["target_abs_max"], task_section.get("quantiles"))

    def point(self, output: Tensor) -> Tensor:
        """The point estimate [B] of outputs [B, out_dim]: the median, the Gaussian mean, or the one output."""
        return output[:, self.quantiles.index(0.5)] if self.quantiles else output[:, 0]

    def jet_losses(self, output: Tensor, target: Tensor) -> Tensor:
        """Per-jet loss [B] of outputs [B, out_dim] for targets [B]."""
        if self.quantiles:
            values = quantile_values(output, self.quantiles.index(0.5))
            return pinball(values, target, torch.tensor(self.quantiles, device=output.device))
        if self.loss_name == "gaussian_nll":
            return gaussian_nll(output, target)
        return PER_JET_LOSSES[self.loss_name](output[:, 0] - target)

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        target = target.float()
        weight = torch.ones_like(target) if weight is None else weight.float()
        if self.target_abs_max is not None:
            weight = weight * (target.abs() <= self.target_abs_max).float()
        return (self.jet_losses(output.float(), target) * weight).sum(), weight.abs().sum()

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        """Residual response exp(pred - y) = pt_corr / pt_gen for the default target; the same and the loss
        without any correction (all outputs 0). Medians and resolutions count every jet once (`weights` unused).
        With an interval per jet, also its coverage (fraction of targets inside; 68% for 16-84%)."""
        point = self.point(torch.from_numpy(outputs)).numpy()
        corrected, raw = np.exp(point - targets), np.exp(-targets)
        no_correction = self.loss(torch.zeros(len(targets), self.out_dim), torch.from_numpy(targets))
        out = {"median_response": median(corrected), "resolution": resolution(corrected),
               "raw_median_response": median(raw), "raw_resolution": resolution(raw),
               "no_correction_loss": float(no_correction)}
        interval = self.interval(outputs)
        if interval is not None:
            out["coverage"] = float(np.mean((targets >= interval[0]) & (targets <= interval[1])))
        return out

    def interval(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The predicted central interval (low [J], high [J]) of y at the quantiles `interval_levels`, or None for
        point losses and a quantile head of the median alone."""
        levels = self.interval_levels
        if levels is None:
            return None
        if self.quantiles:
            values = quantile_values(torch.from_numpy(outputs), self.quantiles.index(0.5)).numpy()
            return values[:, self.quantiles.index(levels[0])], values[:, self.quantiles.index(levels[1])]
        sigma = np.exp(np.clip(outputs[:, 1], -7.0, 3.0))
        return outputs[:, 0] - sigma, outputs[:, 0] + sigma

    @property
    def interval_levels(self) -> tuple[float, float] | None:
        """The quantile levels of `interval`: those of task.quantiles closest to 16% and 84% (0.16, 0.84 for the
        Gaussian head); None for point losses and for quantiles [0.5] (no interval)."""
        if self.loss_name == "gaussian_nll":
            return 0.16, 0.84
        if not self.quantiles or len(self.quantiles) == 1:
            return None
        return (min(self.quantiles, key=lambda t: abs(t - 0.16)), min(self.quantiles, key=lambda t: abs(t - 0.84)))

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """pred (the point estimate of y), target, and with a pt observer pt_corr = pt exp(pred). Quantile heads add
        pred_<q> per quantile (pred_q16, pred_q84, ...) and pt_corr_<q>; the Gaussian head pred_q16 and pred_q84
        (mean -+ sigma); both then write pt_corr_sigma, the half-width of the 16-84% interval of pt_corr (for
        other levels, that of `interval_levels` scaled to a Gaussian's 16-84%)."""
        point = self.point(torch.from_numpy(outputs)).numpy()
        columns = {"pred": point.astype(np.float32), "target": targets.astype(np.float32)}
        interval = self.interval(outputs)
        bounds: dict[str, np.ndarray] = {}
        if self.quantiles:
            values = quantile_values(torch.from_numpy(outputs), self.quantiles.index(0.5)).numpy()
            bounds = {quantile_name(t): values[:, i] for i, t in enumerate(self.quantiles) if t != 0.5}
        elif interval is not None:  # the Gaussian head: mean -+ sigma
            bounds = {"q16": interval[0], "q84": interval[1]}
        columns.update({f"pred_{name}": values.astype(np.float32) for name, values in bounds.items()})
        if "pt" in observers:
            pt = observers["pt"]
            columns["pt_corr"] = (pt * np.exp(point)).astype(np.float32)
            columns.update({f"pt_corr_{name}": (pt * np.exp(v)).astype(np.float32) for name, v in bounds.items()})
            levels = self.interval_levels
            if interval is not None and levels is not None:  # half the interval, scaled to a Gaussian's 16-84%
                low_level, high_level = levels  # (a factor 1 for those levels)
                scale = 2 * GAUSSIAN_68 / (NormalDist().inv_cdf(high_level) - NormalDist().inv_cdf(low_level))
                low, high = (pt * np.exp(v) for v in interval)
                columns["pt_corr_sigma"] = ((high - low) / 2 * scale).astype(np.float32)
        return {**columns, **observers}
