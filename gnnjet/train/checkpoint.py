"""Checkpoints: everything needed to continue a run exactly, written atomically, read without running code.

Checkpoints hold only tensors and plain Python values (RNG states included), so every load is
``torch.load(weights_only=True)``: a model directory received from someone else cannot execute code.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path
from gnnjet.nn.state import load_weights_only


def rng_states() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) random states."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    numpy_state = [name, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss)]
    states = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    name, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def seed_everything(seed: int) -> None:
    """One seed for python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary file, then rename: an interrupted write leaves the old file intact."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint with weights_only=True; a damaged file or one that needs code is a GnnjetError naming it."""
    return load_weights_only(path, hint="; use best.pt or start a fresh run", device=device)


def load_run_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """`load_checkpoint` of a checkpoint gnnjet wrote (best.pt, last.pt), checked by `check_gnnjet_checkpoint`."""
    state = load_checkpoint(path, device)
    check_gnnjet_checkpoint(state, Path(path))
    return state


def check_gnnjet_checkpoint(state: Any, path: Path) -> None:
    """A GnnjetError naming `path` and what it holds unless it is a gnnjet checkpoint: a mapping with the run's
    `config` (a mapping) and the `model` state dict (names -> tensors)."""
    if not isinstance(state, dict):
        raise GnnjetError(f"{path} holds a {type(state).__name__}, not a gnnjet checkpoint (a mapping with the "
                          "model's state dict and the run's config): is it a checkpoint of another tool?")
    model = state.get("model")
    if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
        held = ", ".join(map(str, list(state)[:4])) + (", ..." if len(state) > 4 else "")
        raise GnnjetError(f"{path} is not a gnnjet checkpoint: it holds {{{held}}} without a 'model' state dict "
                          "(a bare state dict, or another tool's checkpoint: bin/import_weights.py imports weaver-core "
                          "and LorentzNet checkpoints)")
    if not isinstance(state.get("config"), dict):
        raise GnnjetError(f"{path} is not a gnnjet checkpoint: it has no 'config' of the run that wrote it")
