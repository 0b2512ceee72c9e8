"""Per-constituent tasks: a class (node_classification, e.g. pile-up or not) or a value (node_regression, e.g. a
per-particle weight) for every node, from task.node_targets.

The model gives one output row per node ([N, out_dim], `nn.blocks.JetModel.predict_nodes`); the target of a node is
its class index or value, NaN where it has none (its node type has no task.node_targets, or the expression gave NaN):
such nodes leave the loss and the metrics. A jet's weight (data.weights.expr) weighs each of its nodes. Predictions
are jagged per-constituent columns, one list per jet and node type, aligned with the node type's input collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import awkward as ak
import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Batch

from gnnjet import columns as column_names
from gnnjet.evaluate.calibration import softmax
from gnnjet.evaluate.stats import classification_summary, half_width, median
from gnnjet.tasks.base import LossFunction, Task
from gnnjet.tasks.regression import PER_JET_LOSSES


@dataclass
class NodeLayout:
    """Where the N output rows of K jets belong: counts [K] nodes per jet (rows in jet order), node_type [N] (the
    position of each node's type in `type_names`), node_index [N] (its place in its type's input collection), p4
    [N, 4] (px, py, pz, E in GeV), collection_size [K, T] (each jet's constituents in each type's collection, nodes
    or not) and labelled [T] (the node types with task.node_targets)."""

    type_names: list[str]
    counts: np.ndarray
    node_type: np.ndarray
    node_index: np.ndarray
    p4: np.ndarray
    collection_size: np.ndarray
    labelled: np.ndarray

    @cached_property
    def jet(self) -> np.ndarray:
        """Each row's jet [N] (its position among the K jets)."""
        return np.repeat(np.arange(len(self.counts)), self.counts)

    @property
    def pt(self) -> np.ndarray:
        """[N] GeV."""
        return np.hypot(self.p4[:, 0], self.p4[:, 1])

    def weighted_jets(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(pt [K], mass [K], GeV) of each jet rebuilt from the nodes of its labelled node types, node i's
        four-vector multiplied by weights [N]."""
        scaled = self.p4.astype(np.float64) * (weights * self.labelled[self.node_type])[:, None]
        total = np.stack([np.bincount(self.jet, scaled[:, k], minlength=len(self.counts)) for k in range(4)], axis=1)
        mass2 = total[:, 3] ** 2 - (total[:, :3] ** 2).sum(axis=1)
        return np.hypot(total[:, 0], total[:, 1]), np.sqrt(np.clip(mass2, 0, None))

    def jagged(self, values: np.ndarray, code: int) -> ak.Array:
        """Per-node values [N] -> the K jets' lists for node type `code`, aligned with its input collection: a
        constituent that is no node (not selected, beyond max_nodes, non-finite kinematics) gets NaN."""
        sizes = self.collection_size[:, code].astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        mine = self.node_type == code
        flat = np.full(int(sizes.sum()), np.nan, dtype=np.float32)
        flat[starts[self.jet[mine]] + self.node_index[mine]] = values[mine]
        return ak.unflatten(flat, sizes)


def node_rows(ptr: np.ndarray, index: np.ndarray) -> np.ndarray:
    """The rows [sum n] of the nodes of jets `index` [J] in a store laid out by ptr [all jets + 1], jet after jet in
    the order of `index` (the rows of a node task's outputs on those jets)."""
    starts = ptr[index]
    counts = ptr[index + 1] - starts
    return np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))


class NodeTask(Task):
    """What both node tasks share: per-node targets and weights, the labelled-node mask, metrics per node type, jagged
    columns."""

    per_node = True
    PER_TYPE: tuple[str, ...] = ()  # the metrics also given per node type

    def __init__(self, type_names: list[str]):
        self.type_names = type_names

    def targets_of(self, batch: Batch) -> Tensor:
        return batch.node_target

    def weights_of(self, batch: Batch) -> Tensor:
        return batch.weight.index_select(0, batch.batch)

    def per_row(self, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return np.repeat(values, counts, axis=0)

    def metrics_per_type(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None,
                         node_type: np.ndarray) -> dict[str, float]:
        """`PER_TYPE` of the task's metrics for the rows of each node type (node_type [N], the position of each row's
        type in `type_names`), as '<metric>_<type>' (auc_charged, accuracy_neutral, ...)."""
        out: dict[str, float] = {}
        for code, name in enumerate(self.type_names):
            rows = node_type == code
            metrics = self.metrics(outputs[rows], targets[rows], None if weights is None else weights[rows])
            out |= {f"{key}_{name}": metrics[key] for key in self.PER_TYPE if key in metrics}
        return out

    @staticmethod
    def _sums(losses: Tensor, labelled: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        """(sum w l, sum |w|) over the labelled nodes; losses [N] may be anything where a node is not labelled."""
        w = labelled.to(losses.dtype) if weight is None else torch.where(labelled, weight.to(losses.dtype), 0.0)
        return torch.where(labelled, losses * w, 0.0).sum(), w.abs().sum()

    def node_columns(self, outputs: np.ndarray, targets: np.ndarray, layout: NodeLayout,
                     observers: dict[str, np.ndarray]) -> dict[str, Any]:
        """The predictions' columns: per node type the jagged per-constituent columns of `columns_of_nodes` and
        `<type>_pt`, then the per-jet ones of `jet_columns`, then the observers."""
        out: dict[str, Any] = {}
        per_node = {**self.columns_of_nodes(outputs, targets), column_names.NODE_PT: layout.pt}
        for code, name in enumerate(self.type_names):
            for part, values in per_node.items():
                out[column_names.node_column(name, part)] = layout.jagged(values, code)
        return {**out, **self.jet_columns(outputs, layout), **observers}

    def columns_of_nodes(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
        """The per-node quantities [N] written for every node type (named without the type's prefix)."""
        raise NotImplementedError

    def jet_columns(self, outputs: np.ndarray, layout: NodeLayout) -> dict[str, np.ndarray]:
        """Per-jet columns [K] derived from the nodes' outputs (none by default)."""
        return {}

    def columns(self, outputs: np.ndarray, targets: np.ndarray,
                observers: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError("a node task's columns need the nodes' layout: node_columns")


class NodeClassification(NodeTask):
    """Softmax over task.classes per node, cross-entropy over the labelled nodes (label smoothing as for jets)."""

    PER_TYPE = ("auc", "accuracy")

    def __init__(self, type_names: list[str], classes: list[str], label_smoothing: float = 0.0):
        super().__init__(type_names)
        self.names, self.label_smoothing = classes, label_smoothing
        self.out_dim = len(classes)

    @classmethod
    def from_section(cls, task_section: dict[str, Any], training_section: dict[str, Any] | None = None,
                     loss_function: LossFunction | None = None, type_names: list[str] | None = None
                     ) -> "NodeClassification":
        smoothing = (training_section or {}).get("label_smoothing", 0.0)
        return cls(type_names or [], list(task_section["classes"]), smoothing)

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        labelled = torch.isfinite(target)
        classes = torch.where(labelled, target, 0.0).long()  # no boolean indexing: no host sync on a GPU
        losses = torch.nn.functional.cross_entropy(output.float(), classes, reduction="none",
                                                   label_smoothing=self.label_smoothing)
        return self._sums(losses, labelled, weight)

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        """accuracy and AUC (`classification_summary`) over the labelled nodes."""
        labelled = np.isfinite(targets)
        if not labelled.any():
            return {}
        return classification_summary(softmax(outputs[labelled]), targets[labelled].astype(np.int64), self.names,
                                      weights=None if weights is None else weights[labelled])

    def columns_of_nodes(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
        """score_<class> per class, and label: the true class index (NaN: none)."""
        probabilities = softmax(outputs)
        out = {column_names.score(name): probabilities[:, c] for c, name in enumerate(self.names)}
        return {**out, column_names.NODE_LABEL: targets}

    def jet_columns(self, outputs: np.ndarray, layout: NodeLayout) -> dict[str, np.ndarray]:
        """Per class, the jet rebuilt from its labelled nodes weighted by their probability of the class:
        pt_weighted_<class>, mass_weighted_<class> (GeV; for pile-up, the jet of the hard interaction's particles as
        the network sees it, as PUPPI's weights rebuild it)."""
        probabilities = softmax(outputs)
        out = {}
        for c, name in enumerate(self.names):
            pt, mass = layout.weighted_jets(probabilities[:, c])
            out[column_names.weighted_jet("pt", name)] = pt.astype(np.float32)
            out[column_names.weighted_jet("mass", name)] = mass.astype(np.float32)
        return out


class NodeRegression(NodeTask):
    """One value per node: task.loss (mse, huber with delta 0.1, l1) over the labelled nodes."""

    out_dim = 1
    PER_TYPE = ("median_residual", "rms_residual")

    def __init__(self, type_names: list[str], loss: str = "mse"):
        super().__init__(type_names)
        self.loss_name = loss

    @classmethod
    def from_section(cls, task_section: dict[str, Any], training_section: dict[str, Any] | None = None,
                     loss_function: LossFunction | None = None, type_names: list[str] | None = None
                     ) -> "NodeRegression":
        return cls(type_names or [], task_section["loss"])

    def loss_sums(self, output: Tensor, target: Tensor, weight: Tensor | None) -> tuple[Tensor, Tensor]:
        labelled = torch.isfinite(target)
        difference = output[:, 0].float() - torch.where(labelled, target, 0.0).float()
        return self._sums(PER_JET_LOSSES[self.loss_name](difference), labelled, weight)

    def metrics(self, outputs: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> dict[str, float]:
        """Over the labelled nodes: the median of the residual pred - target, half the width of its central 68%
        and its RMS (every node counts once)."""
        labelled = np.isfinite(targets)
        if not labelled.any():
            return {}
        residual = outputs[labelled, 0].astype(np.float64) - targets[labelled]
        return {"median_residual": median(residual), "residual_width": half_width(residual),
                "rms_residual": float(np.sqrt(np.mean(residual**2)))}

    def columns_of_nodes(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
        return {column_names.PRED: outputs[:, 0], column_names.TARGET: targets}
