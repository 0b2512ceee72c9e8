"""Model directory + ntuples -> predictions file (docs/architecture.md, "Output files").

Prediction reuses the run's resolved config and preprocess.json: nothing is refitted. A feature
branch missing from the new data is reported by name (with the file and config key). The file has one row per
input jet that passes the data selection, in input order (a friend of the input ntuple when there is no
selection): ``entry`` is the jet's row in the input files taken in order, ``valid`` is 0 for jets the reader
dropped (no constituents, no valid target), whose predictions are NaN. The selection applied is written beside
the tree (``selection``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet.config import apply_overrides
from gnnjet.data.dataset import JetDataset
from gnnjet.data.expressions import Expression
from gnnjet.data.inputs import expand_files
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import check_output_suffix, write_jets
from gnnjet.errors import GnnjetError
from gnnjet.fileio import refuse_to_clobber
from gnnjet.train.distributed import parse_device
from gnnjet.train.inference import evaluate
from gnnjet.train.kfold import KFOLD_FILE, read_kfold
from gnnjet.train.rundir import run_files
from gnnjet.train.saved import TrainedModel, load_trained

log = logging.getLogger(__name__)


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


# keys of a run's config that predictions may override: none of them changes what the model computes
PREDICT_KEYS = ("data.test_selection", "data.observers", "data.tree", "data.cache_dir", "data.workers",
                "data.step_size")


@dataclass
class Predicted:
    """A model's outputs [K, out_dim] and targets [K] on the K jets of `dataset` (the selected, readable jets of
    the input files), with the spec and selection they were read with."""

    trained: TrainedModel
    spec: DataSpec
    dataset: JetDataset
    outputs: np.ndarray
    targets: np.ndarray

    @property
    def selection(self) -> str:
        return self.spec.selection.text if self.spec.selection is not None else "none"

    def columns(self) -> dict[str, np.ndarray]:
        """The predictions file's columns: one row per selected input jet (`aligned`)."""
        obs = self.dataset.obs
        observers = {name: np.asarray(obs[:, i]) for i, name in enumerate(self.spec.observer_names)}
        if self.spec.weight is not None:  # the jets' weight expression (the physics weight, not the reweighting)
            observers["weight"] = self.dataset.weight.numpy().astype(np.float64)
        store = self.dataset.store
        return aligned(self.trained.task.columns(self.outputs, self.targets, observers),
                       np.asarray(store.arrays["entry"]), store.dropped)

    def metrics(self) -> dict[str, float]:
        """The task's metrics on the predicted jets (empty without jets), weighted by their weight expression."""
        weights = self.dataset.weight.numpy() if self.spec.weight is not None else None
        return self.trained.task.metrics(self.outputs, self.targets, weights) if len(self.targets) else {}

    def write(self, output: str | Path) -> None:
        """Write the predictions file (atomically), the selection, the task type and (with data.weights.expr) the
        weight expression beside the tree."""
        columns = self.columns()
        notes = {"selection": self.selection, "task": self.spec.task_type}
        if self.spec.weight is not None:  # the weight branch holds the jets' weights (evaluate/predictions.py)
            notes["weights"] = self.spec.weight.text
        write_jets(output, columns, notes=notes)
        if len(self.dataset.store.dropped):
            log.warning("%d selected jets were dropped by the reader (no constituents or no valid target): their "
                        "rows have valid = 0 and NaN predictions", len(self.dataset.store.dropped))
        log.info("wrote predictions for %d jets (%d rows, selection: %s) to %s", len(self.dataset),
                 len(columns["entry"]), self.selection, output)


def run_model(model_dir: str | Path, files: list[str], batch_size: int = 512, device: str = "cpu",
              progress: bool = True, selection: str | None = None, no_selection: bool = False,
              overrides: list[str] | None = None, fold_average: bool = False) -> Predicted:
    """The best model of `model_dir` on the jets of `files` passing `evaluation_selection`; `overrides`
    (KEY=VALUE) may change the run config's `PREDICT_KEYS`. Nothing is refitted.

    For a k-fold run (`train.kfold`), every fold's model runs on the jets and each jet gets the outputs of the
    model that did not train on its fold (out-of-fold), or with `fold_average` the mean of the k models' outputs
    (logits for tagging), for jets of other samples."""
    kfold = read_kfold(model_dir)
    if kfold is not None:
        folds = [run_model(Path(model_dir) / name, files, batch_size, device, progress, selection, no_selection,
                           overrides) for name in kfold["folds"]]
        stack = np.stack([fold.outputs for fold in folds])  # [k, K, out]
        fold_of_jet = np.asarray(folds[0].dataset.store.arrays["fold"])
        outputs = stack.mean(axis=0) if fold_average else stack[fold_of_jet, np.arange(stack.shape[1])]
        log.info("k-fold run: %s of %d models", "mean" if fold_average else "out-of-fold outputs", kfold["k"])
        return replace(folds[0], outputs=outputs)
    if fold_average:
        raise GnnjetError(f"--fold-average: {model_dir} is not a k-fold run (no {KFOLD_FILE})")
    torch_device = parse_device(device)
    trained = load_trained(model_dir, device=torch_device)
    data = apply_overrides(trained.config, overrides or [], allowed=PREDICT_KEYS)["data"]
    config = {**trained.config, "data": {**data, "selection": evaluation_selection(data, selection, no_selection)}}
    spec = DataSpec.from_config(config)
    dataset = JetDataset.from_files(spec, files, trained.preprocessing, cache_root=data["cache_dir"],
                                    progress=progress, workers=data["workers"])
    if len(dataset):
        outputs, targets = evaluate(trained.model, dataset, np.arange(len(dataset)), batch_size, torch_device,
                                    progress=progress)
    else:  # a valid, empty predictions tree: downstream tools see the columns and zero jets
        log.warning("no jets in %s (after the selection): writing an empty predictions tree", ", ".join(files))
        outputs = np.zeros((0, trained.task.out_dim), np.float32)
        targets = np.zeros(0, np.int64 if spec.task_type == "classification" else np.float32)
    return Predicted(trained, spec, dataset, outputs, targets)


def predict(model_dir: str | Path, inputs: list[str], output: str | Path, batch_size: int = 512,
            device: str = "cpu", progress: bool = True, overwrite: bool = False, selection: str | None = None,
            no_selection: bool = False, overrides: list[str] | None = None, fold_average: bool = False) -> int:
    """Write the predictions of `model_dir` on `inputs` to `output` (`run_model`, atomically); returns the number
    of jets predicted. Before any work, an output that is one of the inputs or a file of the model directory is
    refused, and an existing one unless `overwrite`."""
    parse_device(device)
    files = expand_files(list(inputs))
    refuse_to_clobber(output, files, model_files(model_dir), overwrite, what="predictions file")
    check_output_suffix(output)
    predicted = run_model(model_dir, files, batch_size, device, progress, selection, no_selection, overrides,
                          fold_average)
    predicted.write(output)
    return len(predicted.dataset)


def model_files(model_dir: str | Path) -> list[Path]:
    """The files of a run directory (every fold's, for a k-fold run) that no output may overwrite."""
    kfold = read_kfold(model_dir)
    return [f for name in (kfold["folds"] if kfold else ["."]) for f in run_files(Path(model_dir) / name)]


def check_outputs(model_dir: str | Path, outputs: dict[str, str | Path | None], inputs: list[str],
                  overwrite: bool = False) -> None:
    """Before any work: refuse each of `outputs` ({what: path}, None for one not asked for) that is one of
    `inputs` (files or globs), a file of the model directory or another of the outputs, and an existing one
    unless `overwrite` (`fileio.refuse_to_clobber`)."""
    files = expand_files(list(inputs)) if inputs else []
    protected = model_files(model_dir)
    given = [(what, Path(path)) for what, path in outputs.items() if path is not None]
    for number, (what, path) in enumerate(given):
        for other_what, other in given[:number]:
            if path.resolve() == other.resolve():
                raise GnnjetError(f"the {what} and the {other_what} are both {path}: give them different names")
        refuse_to_clobber(path, files, protected, overwrite, what=what)


def aligned(columns: dict[str, np.ndarray], entry: np.ndarray, dropped: np.ndarray) -> dict[str, np.ndarray]:
    """One row per selected input jet, in input order: `columns` [K] hold the K predicted jets, whose input rows
    are `entry` [K]; the D jets of `dropped` (input rows of selected jets the reader dropped) get NaN (0 for
    integer columns). Adds ``entry`` (the row in the input files taken in order) and ``valid`` (1: predicted)
    in front. Returns [K + D] columns."""
    rows = np.concatenate([entry, dropped]).astype(np.int64)
    order = np.argsort(rows, kind="stable")
    valid = np.arange(len(rows)) < len(entry)
    out = {"entry": rows[order], "valid": valid[order].astype(np.int8)}
    for name, values in columns.items():
        padding = np.full(len(dropped), np.nan if values.dtype.kind == "f" else 0, dtype=values.dtype)
        out[name] = np.concatenate([values, padding])[order]
    return out
