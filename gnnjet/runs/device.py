"""The device a run's model is loaded on, from the user's --device text."""

from __future__ import annotations

import torch

from gnnjet.errors import GnnjetError


def parse_device(text: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' -> torch.device; a GPU this machine lacks is a GnnjetError before any work."""
    try:
        device = torch.device(text)
    except RuntimeError:
        raise GnnjetError(f"--device {text}: not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        available = torch.cuda.device_count()
        if (device.index or 0) >= available:
            raise GnnjetError(f"--device {text}: not available (this machine has {available} CUDA device(s)); "
                              "use --device cpu")
    elif device.type != "cpu":
        raise GnnjetError(f"--device {text}: only cpu and cuda devices are supported")
    elif device.index not in (None, 0):
        raise GnnjetError(f"--device {text}: the CPU has no index; use --device cpu")
    return device
