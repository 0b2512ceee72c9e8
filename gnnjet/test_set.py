"""The test set of a run: the predictions of its best model on data.test and the task's metrics on them
(bin/train.py's last step, skipped with --no-test)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from gnnjet.data.inputs import expand_files
from gnnjet.fileio import atomic_write_text
from gnnjet.predict import write_predictions
from gnnjet.runs.layout import TEST_METRICS, TEST_PREDICTIONS
from gnnjet.runs.prediction import run_model
from gnnjet.runs.run import Run

log = logging.getLogger(__name__)


def evaluate_test_set(run_dir: str | Path, files: list[str], device: str = "cpu",
                      progress: bool = True, trust_code: bool = False) -> dict[str, Any]:
    """Predict `files` (data.test) with RUN/best.pt (a k-fold run: the mean of its folds' models) into
    RUN/test_predictions.root (the run's data.test_selection, else its data.selection) and write the task's
    metrics to RUN/test_metrics.json and .md; returns them. `trust_code`: the run's model may be users' code (the
    training that just wrote the run passes it)."""
    run = Run(Path(run_dir))
    kfold = run.kfold is not None  # a k-fold run: the test jets get the mean of its k models
    predicted = run_model(run.path, expand_files(files), device=device, progress=progress, fold_average=kfold,
                          trust_code=trust_code)
    write_predictions(predicted, run.file(TEST_PREDICTIONS))
    record = {"files": files, "jets": len(predicted.dataset), "dropped": len(predicted.dataset.store.dropped),
              "selection": predicted.selection, "metrics": predicted.metrics()}
    atomic_write_text(run.file(f"{TEST_METRICS}.json"), json.dumps(record, indent=1))
    rows = "\n".join(f"| {name} | {value:.4g} |" for name, value in record["metrics"].items())
    atomic_write_text(run.file(f"{TEST_METRICS}.md"),
                      f"Test set: {record['jets']} jets of {len(files)} file pattern(s), selection: "
                      f"{record['selection']}\n\n| metric | value |\n|---|---|\n{rows}\n")
    log.info("test set: %s", ", ".join(f"{k}={v:.4g}" for k, v in record["metrics"].items()))
    return record
