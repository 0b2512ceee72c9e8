"""Running a model over jets of a dataset in eval mode: the inference loop shared by validation and predict."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch

from gnnjet.data.dataset import JetDataset
from gnnjet.data.loader import JetLoader
from gnnjet.progress import progress_bar


def autocast(device: torch.device, amp: bool) -> AbstractContextManager:
    """bfloat16 autocast on CUDA when `amp`; a no-op context otherwise."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if amp and device.type == "cuda" else nullcontext()


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: JetDataset, index: np.ndarray, batch_size: int,
             device: torch.device, amp: bool = False, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Outputs [J, out_dim] and targets [J] of `model` (eval mode) on jets `index` [J], in order."""
    model.eval()
    outputs, targets = [], []
    loader = JetLoader(dataset, batch_size, indices=index, prefetch=2)
    for batch in progress_bar(loader, progress, desc="evaluating", unit=" batch", leave=False):
        batch = batch.to(device, non_blocking=True)
        with autocast(device, amp):
            outputs.append(model(batch).float().cpu())
        targets.append(batch.y.cpu())
    return torch.cat(outputs).numpy(), torch.cat(targets).numpy()
