"""Run directory + ntuples -> predictions file (bin/predict.py; docs/architecture.md, "Output files").

The columns are `runs.prediction`'s (one row per input jet passing the selection, in input order); the file
records the selection, the task and (with data.weights.expr) the weight expression beside the tree. It is written
atomically, and an output that is an input or a file of the run is refused before any work (`check_outputs`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from gnnjet import columns as column_names
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import check_output_suffix, write_jets
from gnnjet.errors import GnnjetError
from gnnjet.fileio import refuse_to_clobber
from gnnjet.runs.device import parse_device
from gnnjet.runs.ensemble import EnsemblePrediction, run_ensemble
from gnnjet.runs.prediction import Predicted, run_model
from gnnjet.runs.run import Run

log = logging.getLogger(__name__)


def write_predictions(predicted: Predicted | EnsemblePrediction, output: str | Path) -> None:
    """Write `predicted`'s columns and notes to `output` (ROOT or Parquet, atomically)."""
    columns = predicted.columns()
    write_jets(output, columns, notes=predicted.notes())
    if len(predicted.dataset.store.dropped):
        log.warning("%d selected jets were dropped by the reader (no constituents or no valid target): their "
                    "rows have valid = 0 and NaN predictions", len(predicted.dataset.store.dropped))
    log.info("wrote predictions for %d jets (%d rows, selection: %s) to %s", len(predicted.dataset),
             len(columns[column_names.ENTRY]), predicted.selection, output)


def predict(model_dir: str | Path | list[str | Path], inputs: list[str], output: str | Path, *,
            batch_size: int = 512, device: str = "cpu", progress: bool = True, overwrite: bool = False,
            selection: str | None = None, no_selection: bool = False, overrides: list[str] | None = None,
            fold_average: bool = False, onnx: str | Path | None = None, trust_code: bool = False) -> int:
    """Write the predictions of the run in `model_dir` on `inputs` to `output` (`runs.prediction.run_model`,
    atomically; with `onnx`, an exported file of the run scores the jets through onnxruntime; `trust_code` lets a
    model of users' code load); returns the number of jets predicted. Several run directories predict as an
    ensemble (`runs.ensemble`). Before any work, an output that is one of the inputs or a file of a run is refused,
    and an existing one unless `overwrite`."""
    parse_device(device)
    files = expand_files(list(inputs))
    model_dirs = _model_dirs(model_dir)
    refuse_to_clobber(output, files, _run_files(model_dirs), overwrite, what="predictions file")
    check_output_suffix(output)
    options = dict(batch_size=batch_size, device=device, progress=progress, selection=selection,
                   no_selection=no_selection, overrides=overrides, trust_code=trust_code)
    if len(model_dirs) > 1:
        predicted = run_ensemble(model_dirs, files, fold_average=fold_average, onnx=onnx, **options)
    else:
        predicted = run_model(model_dirs[0], files, fold_average=fold_average, onnx=onnx, **options)
    write_predictions(predicted, output)
    return len(predicted.dataset)


def check_outputs(model_dir: str | Path | list[str | Path], outputs: dict[str, str | Path | None],
                  inputs: list[str], overwrite: bool = False) -> None:
    """Before any work: refuse each of `outputs` ({what: path}, None for one not asked for) that is one of
    `inputs` (files or globs), a file of the run (of any run of a list) or another of the outputs, and an existing
    one unless `overwrite` (`fileio.refuse_to_clobber`)."""
    files = expand_files(list(inputs)) if inputs else []
    protected = _run_files(_model_dirs(model_dir))
    given = [(what, Path(path)) for what, path in outputs.items() if path is not None]
    for number, (what, path) in enumerate(given):
        for other_what, other in given[:number]:
            if path.resolve() == other.resolve():
                raise GnnjetError(f"the {what} and the {other_what} are both {path}: give them different names")
        refuse_to_clobber(path, files, protected, overwrite, what=what)


def _model_dirs(model_dir: str | Path | list[str | Path]) -> list[str | Path]:
    """One run directory or several (an ensemble), as a list."""
    return [model_dir] if isinstance(model_dir, (str, Path)) else list(model_dir)


def _run_files(model_dirs: list[str | Path]) -> list[Path]:
    """Every file of the runs: what no output may overwrite."""
    return [file for path in model_dirs for file in Run(Path(path)).files()]
