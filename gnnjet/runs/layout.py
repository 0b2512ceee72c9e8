"""The files of a run directory, named once: every module that writes or reads a run takes the names from here.

A run directory (bin/train.py -o RUN) holds:

- ``config.yaml``: the resolved config (every default spelled out);
- ``preprocess.json``: the fitted preprocessing; ``weights.json``: the reweighting histograms (with
  data.weights.reweight);
- ``best.pt`` (the best epoch under training.monitor) and ``last.pt`` (model, optimizer, scheduler, epoch, RNG
  states);
- ``metrics.csv`` (one row per epoch), ``train.log`` and ``tensorboard/``;
- ``split.npz``: a k-fold run's training and validation jet indices;
- ``test_predictions.root``, ``test_metrics.json`` and ``test_metrics.md``: the test set (data.test);
- ``code/`` and ``code.json``: a copy of the file of users' code the model is (model.name ``file.py:Name``) and its
  SHA-256, which loading the run runs only when trusted (`runs.code`);
- ``calibration.json``: the calibration bin/calibrate.py fitted (`runs.calibration`), applied in prediction;
  ``calibration_jets.json``: the validation jets data.calibration_fraction kept out of training for it;
- ``.lock``: held by the training that writes the run.

A k-fold run is a directory with ``kfold.json`` and ``config.yaml`` whose folds ``fold_0`` ... are ordinary runs.
Every file but the logs (train.log and the TensorBoard events, appended as training goes) is written atomically.
"""

from __future__ import annotations

CONFIG = "config.yaml"
PREPROCESS = "preprocess.json"
WEIGHTS = "weights.json"
BEST = "best.pt"
LAST = "last.pt"
METRICS = "metrics.csv"
TRAIN_LOG = "train.log"
TENSORBOARD = "tensorboard"
SPLIT = "split.npz"
KFOLD = "kfold.json"
TEST_PREDICTIONS = "test_predictions.root"
TEST_METRICS = "test_metrics"  # .json and .md
LOCK = ".lock"
CODE, CODE_RECORD = "code", "code.json"
CALIBRATION = "calibration.json"
CALIBRATION_JETS = "calibration_jets.json"
PREDICTIONS = "pred.root"  # where bin/plot.py looks for a run directory's predictions

RESULTS = (BEST, LAST, METRICS)  # a directory with any of these holds a run
RUN_FILES = (CONFIG, PREPROCESS, WEIGHTS, *RESULTS, TRAIN_LOG, SPLIT, TEST_PREDICTIONS, f"{TEST_METRICS}.json",
             f"{TEST_METRICS}.md", CODE_RECORD, CALIBRATION, CALIBRATION_JETS)  # what a run writes
RUN_DIRECTORIES = (TENSORBOARD, CODE)


def fold_name(fold: int) -> str:
    """The directory of fold `fold` of a k-fold run."""
    return f"fold_{fold}"
