"""Checking a state dict against the one a model expects, before anything is loaded."""

from __future__ import annotations

from torch import Tensor

from gnnjet.errors import GnnjetError


def check_state(found: dict[str, Tensor], expected: dict[str, Tensor], source: str) -> None:
    """Same keys and shapes, or a GnnjetError naming `source`, the first offending key and both shapes."""
    for key, value in found.items():
        if key not in expected:
            raise GnnjetError(f"{source}: unexpected key {key} (shape {tuple(value.shape)}): the model has no "
                              "such layer; the checkpoint is of another architecture or size")
    for key, value in expected.items():
        if key not in found:
            raise GnnjetError(f"{source}: missing key {key} (the model expects shape {tuple(value.shape)}); "
                              "the checkpoint is of another architecture or size")
        if found[key].shape != value.shape:
            raise GnnjetError(f"{source}: {key} has shape {tuple(found[key].shape)} but the model expects "
                              f"{tuple(value.shape)}; the checkpoint is of another feature count, class count or size")
