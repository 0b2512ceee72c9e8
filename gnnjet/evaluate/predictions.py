"""Reading prediction files of several models for comparison: task detection and jet matching."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import uproot

from gnnjet import columns as column_names
from gnnjet.config import LOSSES
from gnnjet.errors import DataError
from gnnjet.runs.layout import PREDICTIONS

FLAVOURS = {"uds": (1, 2, 3), "c": (4,), "b": (5,), "g": (21,)}
# the tasks of predictions files: gnnjet's, and bin/puppi.py's per-particle pile-up weights
RECORDED_TASKS = (*LOSSES, column_names.PUPPI_TASK)
# tasks whose files compare with each other: a node classification of pile-up with PUPPI's weights
COMPARABLE = {column_names.PUPPI_TASK: "node_classification"}


@dataclass
class Predictions:
    """One model's predictions file: its name, task, branches and (if known) its run directory."""

    name: str
    path: Path
    task: str  # one of RECORDED_TASKS
    columns: dict[str, np.ndarray]
    run_dir: Path | None = None
    weighted: bool = False  # the `weight` branch holds the jets' weights (`load_predictions`)

    @property
    def weights(self) -> np.ndarray | None:
        """The jets' weights [J], or None: the `weight` branch of a run with data.weights.expr (bin/predict.py
        notes it beside the tree) or of a file from another tool; a gnnjet observer that happens to be called
        `weight` is not taken for one."""
        return self.columns.get(column_names.WEIGHT) if self.weighted else None

    @property
    def labels(self) -> list[str]:
        return column_names.scored_labels(self.columns)


def resolve(entry: str) -> tuple[Path, Path | None]:
    """A run directory (-> its pred.root) or a predictions file."""
    path = Path(entry)
    if path.is_dir():
        if not (path / PREDICTIONS).exists():
            raise DataError(f"{path} is a directory without {PREDICTIONS}; run bin/predict.py -m {path} ... "
                            f"-o {path}/{PREDICTIONS}")
        return path / PREDICTIONS, path
    if not path.exists():
        raise DataError(f"predictions file {path} does not exist")
    return path, None


def load_predictions(entry: str, name: str) -> Predictions:
    path, run_dir = resolve(entry)
    try:
        with uproot.open(path) as file:
            columns = file["Jets"].arrays(library="np")
            recorded = str(file[column_names.TASK]) if column_names.TASK in file else None
            weighted = column_names.WEIGHTS in file if recorded else column_names.WEIGHT in columns
    except Exception as err:
        raise DataError(f"cannot read predictions file {path}: {type(err).__name__}: {err}") from None
    if column_names.VALID in columns:  # rows of jets the reader dropped carry no prediction
        predicted = columns[column_names.VALID] != 0
        columns = {name: values[predicted] for name, values in columns.items()}
    if not len(next(iter(columns.values()), [])):
        rows = f"rows with {column_names.VALID} = 1" if column_names.VALID in columns else "rows"
        raise DataError(f"{path}: no predicted jets (the tree has no {rows}): nothing to compare; predict on files "
                        "(or with a selection) that have jets")
    if recorded in RECORDED_TASKS:  # bin/predict.py (and bin/puppi.py) record the task beside the tree
        task = recorded
    elif column_names.scored_labels(columns):  # files of other tools and older gnnjet: the branches tell
        task = "classification"
    elif column_names.PRED in columns:
        task = "regression"
    else:
        raise DataError(f"{path}: neither score_* (classification) nor pred (regression) branches: "
                        "is it a bin/predict.py output?")
    return Predictions(name, path, task, dict(columns), run_dir, weighted)


def _keys(columns: dict[str, np.ndarray]) -> np.ndarray:
    """One 64-bit key per jet from its float32 (pt, eta) bits, or (events without pt, e.g. air showers) its event
    number."""
    if "pt" not in columns and "event" in columns:
        return np.asarray(columns["event"]).astype(np.uint64)
    pt = np.asarray(columns["pt"], dtype=np.float32).view(np.uint32).astype(np.uint64)
    eta = np.asarray(columns["eta"], dtype=np.float32).view(np.uint32).astype(np.uint64)
    return (pt << np.uint64(32)) | eta


def load_all(entries: list[str], names: list[str]) -> list[Predictions]:
    """Load several models' predictions and keep only the jets common to all, in one order.

    Different tasks, or files with no jets in common (matched on reco pt and eta), are errors
    naming the files.
    """
    if len(names) != len(entries):
        raise DataError(f"{len(entries)} input(s) but {len(names)} name(s); give one name per input")
    models = [load_predictions(e, n) for e, n in zip(entries, names)]
    tasks = {COMPARABLE.get(m.task, m.task) for m in models}
    if len(tasks) > 1:
        listing = ", ".join(f"{m.path} ({m.task})" for m in models)
        raise DataError(f"cannot compare files of different tasks: {listing}")
    if len(models) == 1:
        return models
    if tasks == {"classification"} and len({tuple(m.labels) for m in models}) > 1:
        listing = ", ".join(f"{m.path} ({', '.join(m.labels)})" for m in models)
        raise DataError(f"cannot compare classifiers of different classes: {listing}")
    for m in models:
        if not ({"pt", "eta"} <= set(m.columns) or "event" in m.columns):
            raise DataError(f"{m.path}: needs pt and eta observer branches (or event, for events without pt) to "
                            "match jets across files")
    common = _keys(models[0].columns)
    for m in models[1:]:
        common = np.intersect1d(common, _keys(m.columns))
        if not len(common):
            raise DataError(f"{models[0].path} and {m.path} have no jets in common (matched on pt, eta): "
                            "were they predicted on the same input files?")
    for m in models:
        keys = _keys(m.columns)
        order = np.argsort(keys, kind="stable")
        position = order[np.searchsorted(keys, common, sorter=order)]
        m.columns = {k: v[position] for k, v in m.columns.items()}
    return models


def flavour_groups(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Masks of uds, c, b and g jets: flavour = hadron_flavor if nonzero else |parton_flavor|."""
    if "hadron_flavor" not in columns or "parton_flavor" not in columns:
        return {}
    flavour = np.where(columns["hadron_flavor"] != 0, columns["hadron_flavor"], np.abs(columns["parton_flavor"]))
    return {name: np.isin(flavour, codes) for name, codes in FLAVOURS.items()}
