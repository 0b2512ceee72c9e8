"""Checkpoints on disk: written atomically, read without running code, and checked to be gnnjet's own.

Checkpoints hold only tensors and plain Python values (RNG states included), so every load is
``torch.load(weights_only=True)``: a model directory received from someone else cannot execute code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path
from gnnjet.nn.state import load_weights_only


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
