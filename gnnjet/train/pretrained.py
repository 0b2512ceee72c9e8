"""Pretrained weights: import a weaver-core checkpoint as a gnnjet model directory, export one back.

A model directory written here is an ordinary one (config.yaml, preprocess.json, best.pt, last.pt)
that `gnnjet.predict` reads; its checkpoint records where the weights came from and their sha256.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import torch

from gnnjet.config import dump_config
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.nn.registry import build_model
from gnnjet.nn.weaver import gnnjet_to_weaver, read_state_dict, weaver_to_gnnjet
from gnnjet.tasks import build_task
from gnnjet.train.checkpoint import save_checkpoint

log = logging.getLogger(__name__)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_weaver(checkpoint: str | Path, config: dict[str, Any], out_dir: str | Path) -> Path:
    """Map weaver-core `checkpoint` onto the model of `config` (validated) and write a model directory.

    The config's preprocessing must be manual (numbers, no ``auto``): the published models come
    with fixed center/scale. Raises GnnjetError naming the file and the mismatch.
    """
    spec = DataSpec.from_config(config)
    preprocessing = Preprocessing.manual(spec)
    task = build_task(config["task"])
    inputs = {"num_node_features": len(spec.columns), "num_jet_features": len(spec.jet_features),
              "num_node_types": len(spec.node_types)}
    model = build_model(config["model"], **inputs, out_dim=task.out_dim)
    state = weaver_to_gnnjet(read_state_dict(checkpoint), model, source=str(checkpoint))
    model.load_state_dict(state)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dump_config(config, out_dir / "config.yaml")
    preprocessing.save(out_dir / "preprocess.json")
    record = {"model": model.state_dict(), "config": config, "inputs": inputs, "epoch": -1,
              "source": {"checkpoint": str(Path(checkpoint).resolve()), "sha256": sha256(checkpoint), "from": "weaver"}}
    for name in ("best.pt", "last.pt"):
        save_checkpoint(out_dir / name, record)
    log.info("imported %s (%d tensors) into %s", checkpoint, len(state), out_dir)
    return out_dir


def export_weaver(model: torch.nn.Module, path: str | Path) -> None:
    """Write `model`'s weights as a state dict that weaver-core's ParticleNet loads with strict=True."""
    state = gnnjet_to_weaver(model)
    save_checkpoint(path, state)

