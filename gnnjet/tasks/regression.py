"""Regression of named targets; jet energy correction is one target, pt: y = log(pt_gen / pt), the corrected pt is
pt * exp(prediction) (and the same for any target named after an observer, e.g. mass: log(mass_gen / mass)). Point
losses give one number per jet and target; quantile and Gaussian-NLL heads also a per-jet resolution (an interval
of pt_corr)."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gnnjet import columns as column_names
from gnnjet.config import DEFAULT_QUANTILES
from gnnjet.evaluate.stats import median, resolution
from gnnjet.tasks.base import LossFunction, Task, user_losses


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


class Regression(Task):
    """Regression of one or more named targets (JEC: one target, pt, y = log(pt_gen / pt)). Per target, point losses
    l1, huber (delta 0.1), mse, logcosh take one output; `quantile` one per quantile of `quantiles` (non-crossing,
    the median the point estimate), trained with the pinball loss; `gaussian_nll` a mean (the point estimate) and
    a log sigma. Outputs [B, T * K] hold target t's K outputs in columns t K .. (t + 1) K - 1. The loss is the mean
    over the (jet, target) pairs that enter it: a target with |y| > target_abs_max (one number, or one per target)
    is masked for that jet alone."""

    def __init__(self, loss: str = "huber", target_abs_max: float | dict[str, float | None] | None = None,
                 quantiles: list[float] | None = None, targets: list[str] | tuple[str, ...] = ("pt",),
                 loss_function: LossFunction | None = None):
        self.loss_name, self.target_abs_max, self.loss_function = loss, target_abs_max, loss_function
        self.quantiles = list(quantiles or DEFAULT_QUANTILES) if loss == "quantile" else None
        self.targets = list(targets)
        self.outputs_per_target = len(self.quantiles) if self.quantiles else 2 if loss == "gaussian_nll" else 1
        self.out_dim = len(self.targets) * self.outputs_per_target

    @classmethod
    def from_section(cls, task_section: dict[str, Any], training_section: dict[str, Any] | None = None,
                     loss_function: LossFunction | None = None) -> "Regression":
        return cls(task_section["loss"], task_section["target_abs_max"], task_section.get("quantiles"),
                   list(task_section.get("targets") or ["pt"]), loss_function)

    @property
    def limits(self) -> list[float] | None:
        """|y| limit per target (inf: none) from target_abs_max (a number for all, or a mapping per target), or
        None when no target has one."""
        given = self.target_abs_max
        if not isinstance(given, dict):
            given = dict.fromkeys(self.targets, given)
        limits = [given.get(name) for name in self.targets]
        return None if all(v is None for v in limits) else [np.inf if v is None else v for v in limits]

    def head(self, output: Tensor, target: int) -> Tensor:
        """The K outputs [B, K] of target number `target` in outputs [B, T * K]."""
        size = self.outputs_per_target
        return output[:, target * size : (target + 1) * size]

    def by_target(self, target: Tensor) -> Tensor:
        """Targets [B] (one target) or [B, T] -> [B, T]."""
        return target.reshape(len(target), len(self.targets))

    def point(self, head: Tensor) -> Tensor:
        """The point estimate [B] of one target's outputs [B, K]: the median, the Gaussian mean, or the one output."""
        return head[:, self.quantiles.index(0.5)] if self.quantiles else head[:, 0]

    def head_losses(self, head: Tensor, target: Tensor) -> Tensor:
        """Per-jet loss [B] of one target's outputs [B, K] for its values [B]."""
        if self.quantiles:
            values = quantile_values(head, self.quantiles.index(0.5))
            return pinball(values, target, torch.tensor(self.quantiles, device=head.device))
        if self.loss_name == "gaussian_nll":
            return gaussian_nll(head, target)
        if self.loss_function is not None:  # users' point loss: (prediction [B], target [B]) -> [B]
            return user_losses(self.loss_function, head[:, 0], target)
        return PER_JET_LOSSES[self.loss_name](head[:, 0] - target)

    def jet_losses(self, output: Tensor, target: Tensor) -> Tensor:
        """Per-jet, per-target losses [B, T] of outputs [B, T * K] for targets [B] or [B, T]."""
        target = self.by_target(target)
        return torch.stack([self.head_losses(self.head(output, t), target[:, t]) for t in range(len(self.targets))],
                           dim=1)

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        target = self.by_target(target.float())
        weight = torch.ones(len(target), device=target.device) if weight is None else weight.float()
        weight = weight[:, None].expand_as(target)
        limits = self.limits
        if limits is not None:
            weight = weight * (target.abs() <= torch.tensor(limits, device=target.device)).float()
        return (self.jet_losses(output.float(), target) * weight).sum(), weight.abs().sum()

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        """Per target, the residual response exp(pred - y) (pt_corr / pt_gen for the JEC target) and without any
        correction exp(-y): median and resolution; the loss of all outputs 0; with an interval per jet, its coverage
        (fraction of targets inside; 68% for 16-84%). Keys are prefixed with `<target>_` when there are several.
        Medians and resolutions count every jet once (`weights` unused)."""
        output, target = torch.from_numpy(outputs), self.by_target(torch.from_numpy(targets))
        out: dict[str, float] = {}
        coverage: dict[str, float] = {}
        for t, prefix in enumerate(self._prefixes()):
            point = self.point(self.head(output, t)).numpy()
            y = target[:, t].numpy()
            corrected, raw = np.exp(point - y), np.exp(-y)
            out.update({f"{prefix}median_response": median(corrected), f"{prefix}resolution": resolution(corrected),
                        f"{prefix}raw_median_response": median(raw), f"{prefix}raw_resolution": resolution(raw)})
            interval = self.interval(outputs, t)
            if interval is not None:
                coverage[f"{prefix}coverage"] = float(np.mean((y >= interval[0]) & (y <= interval[1])))
        out["no_correction_loss"] = float(self.loss(torch.zeros(len(target), self.out_dim), target))
        return {**out, **coverage}

    def _prefixes(self) -> list[str]:
        """The prefix of each target's metrics and prediction columns: none for one target, '<name>_' else."""
        return [""] if len(self.targets) == 1 else [f"{name}_" for name in self.targets]

    def estimates(self, head: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """One target's point estimate [B] and per-jet bounds {quantile tag: [B]} from its outputs [B, K]: the
        quantile head's ordered quantiles (the median the point), the Gaussian head's mean -+ sigma as its 16% and
        84% bounds, no bounds for point losses. In torch, so that an exported graph computes them as prediction
        does (`export.cmssw`)."""
        if self.quantiles:
            middle = self.quantiles.index(0.5)
            values = quantile_values(head, middle)
            return values[:, middle], {column_names.quantile_tag(q): values[:, i]
                                       for i, q in enumerate(self.quantiles) if q != 0.5}
        if self.loss_name == "gaussian_nll":
            mean, sigma = head[:, 0], torch.exp(head[:, 1].clamp(-7.0, 3.0))
            return mean, {column_names.LOW: mean - sigma, column_names.HIGH: mean + sigma}
        return head[:, 0], {}

    def interval(self, outputs: np.ndarray, target: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
        """The predicted central interval (low [J], high [J]) of target number `target` at the quantiles
        `interval_levels`, or None for point losses and a quantile head of the median alone."""
        levels = self.interval_levels
        if levels is None:
            return None
        _, bounds = self.estimates(self.head(torch.from_numpy(outputs), target))
        low, high = (bounds[column_names.quantile_tag(level)].numpy() for level in levels)
        return low, high

    def _lower_tags(self) -> set[str]:
        """The quantile tags of the bounds below the point estimate."""
        if self.quantiles:
            return {column_names.quantile_tag(q) for q in self.quantiles if q < 0.5}
        return {column_names.LOW}

    def bound_levels(self) -> dict[str, float]:
        """{quantile tag: level} of the per-jet bounds the columns hold (the quantile head's, or the Gaussian head's
        mean -+ sigma as 0.16 and 0.84); empty for point losses."""
        if self.quantiles:
            return {column_names.quantile_tag(q): q for q in self.quantiles if q != 0.5}
        return {column_names.LOW: 0.16, column_names.HIGH: 0.84} if self.loss_name == "gaussian_nll" else {}

    @property
    def interval_levels(self) -> tuple[float, float] | None:
        """The quantile levels of `interval`: those of task.quantiles closest to 16% and 84% (0.16, 0.84 for the
        Gaussian head); None for point losses and for quantiles [0.5] (no interval)."""
        if self.loss_name == "gaussian_nll":
            return 0.16, 0.84
        if not self.quantiles or len(self.quantiles) == 1:
            return None
        return (min(self.quantiles, key=lambda t: abs(t - 0.16)), min(self.quantiles, key=lambda t: abs(t - 0.84)))

    def columns(self, outputs: np.ndarray, targets: np.ndarray, observers: dict[str, np.ndarray],
                corrections: dict[str, dict[str, np.ndarray]] | None = None) -> dict[str, np.ndarray]:
        """Per target: pred (the point estimate of y) and target, and for a target named after an observer X (pt,
        mass) the corrected X_corr = X exp(pred). Quantile heads add pred_<q> per quantile (pred_q16, pred_q84,
        ...) and X_corr_<q>; the Gaussian head pred_q16 and pred_q84 (mean -+ sigma); both then write X_corr_sigma,
        the half-width of the 16-84% interval of X_corr (for other levels, that of `interval_levels` scaled to a
        Gaussian's 16-84%). With several targets the pred and target names end in _<name> (pred_mass,
        pred_mass_q16, target_mass); the X_corr names are the same. `corrections` {target: {quantile tag: [J]}} are
        added to those bounds before anything is derived from them (a run's conformal calibration,
        `runs.calibration`), each bound kept on its side of the point estimate."""
        output, target = torch.from_numpy(outputs), self.by_target(torch.from_numpy(targets)).numpy()
        columns: dict[str, np.ndarray] = {}
        for t, name in enumerate(self.targets):
            named = None if len(self.targets) == 1 else name
            point_tensor, bound_tensors = self.estimates(self.head(output, t))
            point = point_tensor.numpy()
            columns[column_names.pred(named)] = point.astype(np.float32)
            columns[column_names.target(named)] = target[:, t].astype(np.float32)
            bounds = _corrected_bounds({tag: values.numpy() for tag, values in bound_tensors.items()}, point,
                                       (corrections or {}).get(name, {}), self._lower_tags())
            levels = self.interval_levels
            interval = None if levels is None else (bounds[column_names.quantile_tag(levels[0])],
                                                    bounds[column_names.quantile_tag(levels[1])])
            columns.update({column_names.pred(named, q): values.astype(np.float32) for q, values in bounds.items()})
            if name in observers:
                columns.update(self._corrected(name, observers[name], point, bounds, interval))
        return {**columns, **observers}

    def _corrected(self, name: str, base: np.ndarray, point: np.ndarray, bounds: dict[str, np.ndarray],
                   interval: tuple[np.ndarray, np.ndarray] | None) -> dict[str, np.ndarray]:
        """<name>_corr = base exp(point), <name>_corr_<q> for each bound, and <name>_corr_sigma with an interval."""
        columns = {column_names.corrected(name): (base * np.exp(point)).astype(np.float32)}
        columns.update({column_names.corrected(name, q): (base * np.exp(v)).astype(np.float32)
                        for q, v in bounds.items()})
        levels = self.interval_levels
        if interval is not None and levels is not None:  # half the interval, scaled to a Gaussian's 16-84%
            low_level, high_level = levels  # (a factor 1 for those levels)
            scale = 2 * GAUSSIAN_68 / (NormalDist().inv_cdf(high_level) - NormalDist().inv_cdf(low_level))
            low, high = (base * np.exp(v) for v in interval)
            columns[column_names.corrected(name, column_names.SIGMA)] = ((high - low) / 2 * scale).astype(np.float32)
        return columns


def _corrected_bounds(bounds: dict[str, np.ndarray], point: np.ndarray, corrections: dict[str, np.ndarray],
                      lower: set[str]) -> dict[str, np.ndarray]:
    """`bounds` {quantile tag: [J]} with `corrections` {tag: [J]} added, the `lower` bounds kept at or below the
    point estimate and the others at or above it (a narrowing correction never crosses the median)."""
    out = {}
    for tag, values in bounds.items():
        moved = values + corrections[tag] if tag in corrections else values
        out[tag] = np.minimum(moved, point) if tag in lower else np.maximum(moved, point)
    return out
