"""Model directory + ntuples -> predictions ROOT file (DESIGN.md, "Output files"), or an ONNX export.

Prediction reuses the run's resolved config and preprocess.json: nothing is refitted. A feature
branch missing from the new data is reported by name (with the file and config key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnnjet.config import validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.data.writer import write_jets
from gnnjet.errors import GnnjetError
from gnnjet.nn.registry import build_model
from gnnjet.tasks import Task, build_task
from gnnjet.train.checkpoint import load_checkpoint
from gnnjet.train.distributed import parse_device
from gnnjet.train.trainer import evaluate

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    """A trained model loaded from a run directory, with what is needed to feed it."""

    config: dict[str, Any]
    spec: DataSpec
    preprocessing: Preprocessing
    task: Task
    model: torch.nn.Module


def load_trained(model_dir: str | Path, checkpoint: str = "best.pt", device: str | torch.device = "cpu") -> TrainedModel:
    """Load config.yaml, preprocess.json and a checkpoint (best.pt by default) from a run directory."""
    model_dir = Path(model_dir)
    path = model_dir / checkpoint
    for needed in (path, model_dir / "preprocess.json"):
        if not needed.exists():
            raise GnnjetError(f"{model_dir} is not a trained model directory: {needed.name} is missing")
    state = load_checkpoint(path, device)
    config = validate_config(state["config"])
    spec = DataSpec.from_config(config)
    task = build_task(config["task"])
    model = build_model(config["model"], **state["inputs"], out_dim=task.out_dim)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return TrainedModel(config, spec, Preprocessing.load(model_dir / "preprocess.json", spec), task, model)


def predict(model_dir: str | Path, inputs: list[str], output: str | Path, batch_size: int = 512,
            device: str = "cpu", progress: bool = True) -> int:
    """Write the predictions of `model_dir` on `inputs` to `output` (atomically); returns the number of jets."""
    torch_device = parse_device(device)
    trained = load_trained(model_dir, device=torch_device)
    cache = trained.config["data"]["cache_dir"]
    dataset = JetDataset.from_files(trained.spec, inputs, trained.preprocessing, cache_root=cache, progress=progress,
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
