"""The one place a config becomes a model, and a run directory (config.yaml, preprocess.json, a checkpoint) a
trained model again: training, fine-tuning, import, predict and export all go through here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gnnjet.config import RESUMABLE_KEYS, flatten_config, load_config, validate_config
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.errors import GnnjetError
from gnnjet.nn.registry import build_model
from gnnjet.nn.weaver_network import WeaverRun
from gnnjet.runs.checkpoint import load_run_checkpoint
from gnnjet.runs.code import trusted_code
from gnnjet.runs.layout import BEST, CONFIG, PREPROCESS
from gnnjet.tasks import Task, build_task


@dataclass
class RunModel:
    """What a config defines before any data is read: the compiled data spec, the task and the (untrained)
    model, built for the spec's input sizes and the task's output width."""

    config: dict[str, Any]
    spec: DataSpec
    task: Task
    model: torch.nn.Module

    @classmethod
    def from_config(cls, config: dict[str, Any], code: dict[str, Path] | None = None) -> "RunModel":
        """Build from a validated config; users' code it names from `code` ({config key: a run's copy of its file},
        `runs.code.trusted_code`) where given, else from where the config says."""
        code = code or {}
        spec = DataSpec.from_config(config)
        if config["weaver"] is not None:  # a weaver-core network file on its data config's input groups
            weaver = WeaverRun.of(config, code)
            task = build_task(config["task"], config["training"], loss_function=weaver.loss())
            model = weaver.model([f.name for f in spec.columns], [f.name for f in spec.jet_features],
                                 len(spec.node_types), task.out_dim)
            return cls(config, spec, task, model)
        task = build_task(config["task"], config["training"], code.get("task.loss"),
                          node_types=[t.name for t in spec.node_types])
        model = build_model(config["model"], **spec.model_inputs(), out_dim=task.out_dim,
                            code_file=code.get("model.name"), per_node=task.per_node)
        return cls(config, spec, task, model)


@dataclass
class TrainedModel(RunModel):
    """A trained model loaded from a run directory (eval mode), with the preprocessing that feeds it."""

    preprocessing: Preprocessing


def load_trained(model_dir: str | Path, checkpoint: str = BEST, device: str | torch.device = "cpu", *,
                 trust_code: bool = False) -> TrainedModel:
    """Load config, preprocess.json and a checkpoint (best.pt by default) of a run directory; a directory that
    is not one, or a damaged file in it, is a GnnjetError naming it, and so is a model of users' code unless
    `trust_code` (`runs.code.trusted_code`)."""
    model_dir = Path(model_dir)
    path = model_dir / checkpoint
    for needed in (path, model_dir / PREPROCESS):
        if not needed.exists():
            raise GnnjetError(f"{model_dir} is not a trained model directory: {needed.name} is missing")
    state = load_run_checkpoint(path, device)
    config = validate_config(state["config"])
    check_same_run(config, model_dir, path)
    built = RunModel.from_config(config, trusted_code(model_dir, config, trust_code))
    built.model.load_state_dict(state["model"])
    built.model.to(device).eval()
    preprocessing = Preprocessing.load(model_dir / PREPROCESS, built.spec)
    return TrainedModel(built.config, built.spec, built.task, built.model, preprocessing)


def check_same_run(config: dict[str, Any], model_dir: Path, path: Path) -> None:
    """Refuse a checkpoint whose embedded config differs from the run directory's config.yaml beyond the keys a
    resume may change: a best.pt copied in from another run would otherwise predict silently with that run's
    features."""
    own = model_dir / CONFIG
    if not own.exists():
        return
    ours, theirs = flatten_config(load_config(own)), flatten_config(config)
    differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k) and k not in RESUMABLE_KEYS)
    if differing:
        shown = ", ".join(differing[:5]) + (f" and {len(differing) - 5} more" if len(differing) > 5 else "")
        raise GnnjetError(f"{path} was not written by the run of {own}: their configs differ in {shown}. Was it "
                          "copied from another run? Use that run's directory, or retrain")
