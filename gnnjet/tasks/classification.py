"""Jet tagging: softmax over the one-hot `label_*` classes, cross-entropy loss."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gnnjet.evaluate.stats import classification_summary
from gnnjet.tasks.base import Task


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


class Classification(Task):
    """Classes = the config's label branches (``label_q`` -> class name ``q``)."""

    def __init__(self, labels: list[str]):
        self.labels = labels
        self.names = [label.removeprefix("label_") for label in labels]
        self.out_dim = len(labels)

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return torch.nn.functional.cross_entropy(output.float(), target)

    def metrics(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        return classification_summary(softmax(outputs), targets, self.names)

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        probabilities = softmax(outputs)
        columns = {f"score_{label}": probabilities[:, i].astype(np.float32) for i, label in enumerate(self.labels)}
        columns.update({label: (targets == i).astype(np.int32) for i, label in enumerate(self.labels)})
        return {**columns, **observers}
