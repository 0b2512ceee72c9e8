"""Reading checkpoints without running code, and checking a state dict against the one a model expects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gnnjet.errors import GnnjetError


def load_weights_only(path: str | Path, hint: str = "", device: torch.device | str = "cpu") -> Any:
    """torch.load(weights_only=True): tensors and plain Python values only. A missing, truncated, zero-byte or
    random-bytes file, or a pickle that would need code to load, is a GnnjetError naming the file (+ `hint`)."""
    path = Path(path)
    if not path.is_file():
        raise GnnjetError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # damaged, not a torch file, or a pickle needing code (refused, never run)
        reason = str(err).splitlines()[0] if str(err) else ""
        raise GnnjetError(f"{path} is damaged or not a weights-only checkpoint (a file that needs code to unpickle "
                          f"is refused, never run): {type(err).__name__}: {reason}{hint}") from None


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


def without_replaced(found: dict[str, Tensor], expected: dict[str, Tensor],
                     layer: set[str]) -> tuple[dict[str, Tensor], dict[str, Tensor], bool]:
    """(found, expected, replaced): both without the keys of `layer` when any of them differs in shape (a layer
    that is to be replaced, e.g. an output layer for another number of classes), else unchanged."""
    if not any(k in found and k in expected and found[k].shape != expected[k].shape for k in layer):
        return found, expected, False
    return ({k: v for k, v in found.items() if k not in layer}, {k: v for k, v in expected.items() if k not in layer},
            True)


def output_layer_keys(model: torch.nn.Module) -> list[str]:
    """State-dict keys of a model's output layer, which fine-tuning replaces and training.head_lr_mult scales: a
    built-in family's own (`JetModel.output_layer_keys`), else those of the last torch.nn.Linear a user's module
    registers."""
    if hasattr(model, "output_layer_keys"):
        return model.output_layer_keys()
    linears = [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    if not linears:
        return []
    prefix = f"{linears[-1]}."
    return [key for key in model.state_dict() if key.startswith(prefix)]
