"""A run's predictions on jets: the model of a run directory (every fold's, for a k-fold run) over the jets of
files or of in-memory arrays, as the columns of a predictions file (docs/architecture.md, "Output files").

Prediction reuses the run's resolved config and preprocess.json: nothing is refitted. A feature branch missing
from the new data is reported by name (with the file and config key). There is one row per input jet that passes
the selection, in input order: ``entry`` is the jet's row in the inputs taken in order, ``valid`` is 0 for jets
the reader dropped (no constituents, no valid target), whose predictions are NaN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from gnnjet import columns as column_names
from gnnjet.config import apply_overrides
from gnnjet.data.dataset import JetDataset
from gnnjet.data.expressions import Expression
from gnnjet.data.spec import DataSpec
from gnnjet.errors import GnnjetError
from gnnjet.runs.calibration import Calibration, read_calibration
from gnnjet.runs.device import parse_device
from gnnjet.runs.inference import evaluate
from gnnjet.runs.kfold import read_kfold
from gnnjet.runs.layout import KFOLD
from gnnjet.runs.model import TrainedModel, load_trained
from gnnjet.runs.onnx import evaluate_onnx, open_session
from gnnjet.tasks.node import NodeLayout, NodeTask

log = logging.getLogger(__name__)

# keys of a run's config that predictions may override: none of them changes what the model computes
PREDICT_KEYS = ("data.test_selection", "data.observers", "data.tree", "data.cache_dir", "data.workers",
                "data.step_size")


def evaluation_selection(data: dict[str, Any], selection: str | None = None, no_selection: bool = False
                         ) -> str | None:
    """The selection of predictions: none with `no_selection`, else `selection` (checked), else the config's
    data.test_selection, else its data.selection."""
    if no_selection:
        if selection is not None:
            raise GnnjetError("give --selection EXPR or --no-selection, not both")
        return None
    if selection is not None:
        Expression(selection, "--selection")  # a ConfigError naming --selection if it does not parse
        return selection
    return data["test_selection"] if data["test_selection"] is not None else data["selection"]


@dataclass
class Predicted:
    """A model's outputs [K, out_dim] and targets [K] on the K jets of `dataset` (the selected, readable jets of
    the inputs), with the spec and selection they were read with."""

    trained: TrainedModel
    spec: DataSpec
    dataset: JetDataset
    outputs: np.ndarray
    targets: np.ndarray
    calibration: Calibration | None = None  # the run's calibration.json, applied by `columns`

    @property
    def selection(self) -> str:
        return self.spec.selection.text if self.spec.selection is not None else "none"

    def columns(self) -> dict[str, np.ndarray]:
        """The predictions' columns: one row per selected input jet (`aligned`)."""
        observers = self.dataset.observers()
        if self.spec.weight is not None:  # the jets' weight expression (the physics weight, not the reweighting)
            observers[column_names.WEIGHT] = self.dataset.weight.numpy().astype(np.float64)
        store = self.dataset.store
        task = self.trained.task
        if isinstance(task, NodeTask):
            columns = task.node_columns(self.outputs, self.targets, self.node_layout(), observers)
        elif self.calibration is None:
            columns = task.columns(self.outputs, self.targets, observers)
        else:
            columns = self.calibration.columns(task, self.outputs, self.targets, observers)
        return aligned(columns, np.asarray(store.arrays["entry"]), store.dropped)

    def node_layout(self) -> NodeLayout:
        """Where a node task's output rows belong in the input collections."""
        dataset, arrays, types = self.dataset, self.dataset.store.arrays, self.spec.node_types
        return NodeLayout([t.name for t in types], dataset.node_counts(), dataset.node_type.numpy(),
                          np.asarray(arrays["node_index"])[:, 0], dataset.p4.numpy(),
                          np.asarray(arrays["collection_size"]), np.array([t.target is not None for t in types]))

    def notes(self) -> dict[str, str]:
        """What a predictions file records beside its tree: the selection, the task type and (with
        data.weights.expr) the weight expression, so that `weight` is read as the jets' weights."""
        notes = {column_names.SELECTION: self.selection, column_names.TASK: self.spec.task_type}
        if self.spec.weight is not None:
            notes[column_names.WEIGHTS] = self.spec.weight.text
        if self.calibration is not None:
            notes[column_names.CALIBRATION] = self.calibration.note()
        return notes

    def metrics(self) -> dict[str, float]:
        """The task's metrics on the predicted jets (empty without jets), weighted by their weight expression; a node
        task's also per node type."""
        task = self.trained.task
        if not len(self.targets):
            return {}
        weights = None
        if self.spec.weight is not None:
            weights = task.per_row(self.dataset.weight.numpy(), self.dataset.node_counts())
        metrics = task.metrics(self.outputs, self.targets, weights)
        if isinstance(task, NodeTask):  # the outputs' rows are the dataset's nodes, in order
            metrics |= task.metrics_per_type(self.outputs, self.targets, weights, self.dataset.node_type.numpy())
        return metrics


def run_model(model_dir: str | Path, files: list[str], *, batch_size: int = 512, device: str = "cpu",
              progress: bool = True, selection: str | None = None, no_selection: bool = False,
              overrides: list[str] | None = None, fold_average: bool = False,
              cache_root: str | Path | None = None, onnx: str | Path | None = None,
              trust_code: bool = False) -> Predicted:
    """The best model of `model_dir` on the jets of `files` (paths, or pseudo paths of in-memory jets) passing
    `evaluation_selection`; `overrides` (KEY=VALUE) may change the run config's `PREDICT_KEYS`; `cache_root`
    replaces the config's data.cache_dir; `onnx`, a file exported from this run, is run with onnxruntime in place
    of the PyTorch model (the same columns: a check that the export scores jets as the run does); `trust_code`
    lets a model of users' code load (`runs.code`). Nothing is refitted.

    For a k-fold run (`runs.kfold`), every fold's model runs on the jets and each jet gets the outputs of the
    model that did not train on its fold (out-of-fold), or with `fold_average` the mean of the k models' outputs
    (logits for tagging), for jets of other samples."""
    options = dict(batch_size=batch_size, device=device, progress=progress, selection=selection,
                   no_selection=no_selection, overrides=overrides, cache_root=cache_root, trust_code=trust_code)
    kfold = read_kfold(model_dir)
    if kfold is not None and onnx is not None:
        raise GnnjetError(f"{model_dir} is a k-fold run: predict one fold's directory with its exported file")
    if kfold is not None:
        folds = [run_model(Path(model_dir) / name, files, **options) for name in kfold["folds"]]
        stack = np.stack([fold.outputs for fold in folds])  # [k, R, out]: a row per jet, or per node
        dataset = folds[0].dataset
        fold_of_row = folds[0].trained.task.per_row(np.asarray(dataset.store.arrays["fold"]), dataset.node_counts())
        outputs = stack.mean(axis=0) if fold_average else stack[fold_of_row, np.arange(stack.shape[1])]
        log.info("k-fold run: %s of %d models", "mean" if fold_average else "out-of-fold outputs", kfold["k"])
        return replace(folds[0], outputs=outputs, calibration=read_calibration(model_dir))
    if fold_average:
        raise GnnjetError(f"--fold-average: {model_dir} is not a k-fold run (no {KFOLD})")
    torch_device = parse_device(device)
    trained = load_trained(model_dir, device=torch_device, trust_code=trust_code)
    data = apply_overrides(trained.config, overrides or [], allowed=PREDICT_KEYS)["data"]
    config = {**trained.config, "data": {**data, "selection": evaluation_selection(data, selection, no_selection)}}
    spec = DataSpec.from_config(config)
    dataset = JetDataset.from_files(spec, files, trained.preprocessing, cache_root=cache_root or data["cache_dir"],
                                    progress=progress, workers=data["workers"])
    if len(dataset) and onnx is not None:
        outputs, targets = evaluate_onnx(open_session(onnx), dataset, np.arange(len(dataset)), batch_size, progress)
    elif len(dataset):
        outputs, targets = evaluate(trained.model, dataset, np.arange(len(dataset)), batch_size, torch_device,
                                    progress=progress, targets_of=trained.task.targets_of)
    else:  # valid, empty predictions: downstream tools see the columns and zero jets
        log.warning("no jets in %s (after the selection): the predictions are empty", ", ".join(files))
        outputs = np.zeros((0, trained.task.out_dim), np.float32)
        targets = np.zeros(0, np.int64 if spec.task_type == "classification" else np.float32)
    return Predicted(trained, spec, dataset, outputs, targets, read_calibration(model_dir))


def aligned(columns: dict[str, np.ndarray], entry: np.ndarray, dropped: np.ndarray) -> dict[str, np.ndarray]:
    """One row per selected input jet, in input order: `columns` [K] hold the K predicted jets, whose input rows
    are `entry` [K]; the D jets of `dropped` (input rows of selected jets the reader dropped) get NaN (0 for
    integer columns). Adds ``entry`` (the row in the input files taken in order) and ``valid`` (1: predicted)
    in front. Returns [K + D] columns."""
    rows = np.concatenate([entry, dropped]).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    valid = np.arange(len(rows)) < len(entry)
    out = {column_names.ENTRY: rows[order], column_names.VALID: valid[order].astype(np.int8)}
    for name, values in columns.items():
        if isinstance(values, ak.Array):  # a node task's per-constituent lists: a dropped jet's is empty
            out[name] = ak.concatenate([values, ak.unflatten(np.zeros(0, np.float32),
                                                             np.zeros(len(dropped), np.int64))])[order]
            continue
        padding = np.full(len(dropped), np.nan if values.dtype.kind == "f" else 0, dtype=values.dtype)
        out[name] = np.concatenate([values, padding])[order]
    return out
