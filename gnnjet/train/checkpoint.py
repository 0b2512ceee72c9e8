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
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise GnnjetError(f"checkpoint {path} does not exist") from None
    except Exception as err:  # truncated/zero-byte/random bytes, or a pickle that would need code to load
        raise GnnjetError(f"{path} is damaged or not a weights-only checkpoint (it is never unpickled with code): "
                          f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}; use best.pt "
                          "or start a fresh run") from None
