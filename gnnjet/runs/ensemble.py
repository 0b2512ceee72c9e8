"""Several runs as one prediction: every member predicts the same jets (`runs.prediction.run_model`, each with its
own calibration), the prediction columns are averaged over the members and each point estimate gets its spread.

Averaged: every prediction column (`columns.is_prediction`: scores, pred..., X_corr...), so a tagger's ensemble
score is the mean of the members' probabilities and a regression's the mean of their estimates and bounds.
Spread: the standard deviation over the members of each point estimate (`columns.is_point_estimate`), written as
``<column>_spread``. Everything else (entry, valid, truth, observers, weight) must be the same for every member:
members that read different jets (another selection, another tree) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnnjet import columns as column_names
from gnnjet.errors import GnnjetError
from gnnjet.runs.prediction import Predicted, run_model


@dataclass
class EnsemblePrediction:
    """The members' predictions of the same jets (at least two), and the run directory of each."""

    members: list[Predicted]
    paths: list[Path]

    @property
    def selection(self) -> str:
        return self.members[0].selection

    @property
    def dataset(self):  # noqa: ANN201 - the first member's JetDataset (all members read the same jets)
        return self.members[0].dataset

    def columns(self) -> dict[str, np.ndarray]:
        tables = [member.columns() for member in self.members]
        first = tables[0]
        for path, table in zip(self.paths[1:], tables[1:]):
            if list(table) != list(first):
                raise GnnjetError(f"ensemble: {path} writes other columns than {self.paths[0]} (another task, "
                                  "targets or observers): an ensemble needs runs of the same task")
            for name in table:
                same = np.array_equal(table[name], first[name], equal_nan=table[name].dtype.kind == "f")
                if not column_names.is_prediction(name) and not same:
                    raise GnnjetError(f"ensemble: {path} and {self.paths[0]} differ in {name!r}: the members read "
                                      "different jets (another selection or data section)")
        out: dict[str, np.ndarray] = {}
        for name, values in first.items():
            if not column_names.is_prediction(name):
                out[name] = values
                continue
            stack = np.stack([table[name] for table in tables]).astype(np.float64)
            out[name] = stack.mean(axis=0).astype(values.dtype)
            if column_names.is_point_estimate(name):
                out[column_names.spread(name)] = stack.std(axis=0).astype(np.float32)
        return out

    def notes(self) -> dict[str, str]:
        notes = self.members[0].notes()
        notes[column_names.ENSEMBLE] = f"mean of {len(self.members)} runs: {', '.join(map(str, self.paths))}"
        return notes


def run_ensemble(model_dirs: list[str | Path], files: list[str], **options: object) -> EnsemblePrediction:
    """Every run of `model_dirs` (two or more) on the jets of `files` (`run_model`'s `options`, onnx excepted)."""
    if len(model_dirs) < 2:
        raise GnnjetError("an ensemble needs two runs or more (-m RUN1 -m RUN2 ...)")
    if options.get("onnx") is not None:
        raise GnnjetError("--onnx scores one run's export: predict an ensemble with PyTorch")
    paths = [Path(path) for path in model_dirs]
    first = run_model(paths[0], files, **options)
    if first.trained.task.per_node:
        raise GnnjetError(f"{paths[0]}: an ensemble averages per-jet columns, and a node task's run writes "
                          "per-constituent lists: predict each run on its own")
    return EnsemblePrediction([first, *(run_model(path, files, **options) for path in paths[1:])], paths)
