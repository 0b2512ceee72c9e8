"""Model directory + ntuples -> predictions ROOT file (docs/architecture.md, "Output files"), or an ONNX export.

Prediction reuses the run's resolved config and preprocess.json: nothing is refitted. A feature
branch missing from the new data is reported by name (with the file and config key).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from gnnjet.data.dataset import JetDataset
from gnnjet.data.inputs import expand_files
from gnnjet.data.writer import write_jets
from gnnjet.fileio import refuse_to_clobber
from gnnjet.train.distributed import parse_device
from gnnjet.train.inference import evaluate
from gnnjet.train.rundir import run_files
from gnnjet.train.saved import load_trained

log = logging.getLogger(__name__)


def predict(model_dir: str | Path, inputs: list[str], output: str | Path, batch_size: int = 512,
            device: str = "cpu", progress: bool = True, overwrite: bool = False) -> int:
    """Write the predictions of `model_dir` on `inputs` to `output` (atomically); returns the number of jets.

    Before any work, an output that is one of the inputs or a file of the model directory is refused, and an
    existing one unless `overwrite`."""
    torch_device = parse_device(device)
    files = expand_files(list(inputs))
    refuse_to_clobber(output, files, run_files(model_dir), overwrite, what="predictions file")
    trained = load_trained(model_dir, device=torch_device)
    cache = trained.config["data"]["cache_dir"]
    dataset = JetDataset.from_files(trained.spec, files, trained.preprocessing, cache_root=cache, progress=progress,
                                    workers=trained.config["data"].get("workers"))
    if len(dataset):
        outputs, targets = evaluate(trained.model, dataset, np.arange(len(dataset)), batch_size, torch_device,
                                    progress=progress)
    else:  # a valid, empty predictions tree: downstream tools see the columns and zero jets
        log.warning("no jets in %s (after data.selection): writing an empty predictions tree", ", ".join(inputs))
        outputs = np.zeros((0, trained.task.out_dim), np.float32)
        targets = np.zeros(0, np.int64 if trained.spec.task_type == "classification" else np.float32)
    observers = {name: np.asarray(dataset.obs[:, i]) for i, name in enumerate(trained.spec.observer_names)}
    write_jets(output, trained.task.columns(outputs, targets, observers))
    log.info("wrote predictions for %d jets to %s", len(dataset), output)
    return len(dataset)
