"""Jet tagging: softmax over the one-hot `label_*` classes, cross-entropy loss."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from gnnjet import columns as column_names
from gnnjet.evaluate.calibration import softmax
from gnnjet.evaluate.stats import classification_summary
from gnnjet.tasks.base import LossFunction, Task, user_losses


class Classification(Task):
    """Classes = the config's label branches (``label_q`` -> class name ``q``). With `label_smoothing` e, the
    cross-entropy's target puts 1 - e + e / C on the true class and e / C on the others (training.label_smoothing;
    training and validation losses both)."""

    def __init__(self, labels: list[str], label_smoothing: float = 0.0, loss_function: LossFunction | None = None):
        self.labels, self.loss_function = labels, loss_function
        self.names = [label.removeprefix("label_") for label in labels]
        self.out_dim = len(labels)
        self.label_smoothing = label_smoothing

    @classmethod
    def from_section(cls, task_section: dict[str, Any], training_section: dict[str, Any] | None = None,
                     loss_function: LossFunction | None = None) -> "Classification":
        smoothing = (training_section or {}).get("label_smoothing", 0.0)
        return cls(list(task_section["labels"]), smoothing, loss_function)  # the class names of a list or a mapping

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        if self.loss_function is not None:
            losses = user_losses(self.loss_function, output.float(), target)
        else:
            losses = torch.nn.functional.cross_entropy(output.float(), target, reduction="none",
                                                       label_smoothing=self.label_smoothing)
        if weight is None:
            return losses.sum(), torch.tensor(float(len(losses)), device=losses.device)
        return (losses * weight).sum(), weight.float().abs().sum()

    def loss(self, output: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
        if weight is None and self.loss_function is None:  # torch's mean, as unweighted runs always trained
            return torch.nn.functional.cross_entropy(output.float(), target, label_smoothing=self.label_smoothing)
        return super().loss(output, target, weight)

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        return classification_summary(softmax(outputs), targets, self.names, weights=weights)

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        probabilities = softmax(outputs)
        columns = {column_names.score(label): probabilities[:, i].astype(np.float32)
                   for i, label in enumerate(self.labels)}
        columns.update({label: (targets == i).astype(np.int32) for i, label in enumerate(self.labels)})
        return {**columns, **observers}
