"""Running a model over jets of a dataset in eval mode: the inference loop shared by validation and predict."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Callable

import numpy as np
import torch
from torch_geometric.data import Batch

from gnnjet.data.dataset import JetDataset
from gnnjet.data.loader import JetLoader
from gnnjet.progress import progress_bar


def autocast(device: torch.device, amp: bool | str) -> AbstractContextManager:
    """Autocast on CUDA for training.amp (`amp`): float16 for "fp16", bfloat16 for "bf16" (or True); a no-op context
    otherwise."""
    if not amp or device.type != "cuda":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.float16 if amp == "fp16" else torch.bfloat16)


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: JetDataset, index: np.ndarray, batch_size: int,
             device: torch.device, amp: bool | str = False, progress: bool = False,
             targets_of: Callable[[Batch], torch.Tensor] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Outputs [R, out_dim] and targets [R] of `model` (eval mode) on jets `index` [J], in order: one row per jet
    (R = J), or per node for a node task's model (its nodes in jet order). `targets_of` (a task's) picks a batch's
    targets (None: the jets' y)."""
    model.eval()
    outputs, targets = [], []
    loader = JetLoader(dataset, batch_size, indices=index, prefetch=2)
    for batch in progress_bar(loader, progress, desc="evaluating", unit=" batch", leave=False):
        batch = batch.to(device, non_blocking=True)
        with autocast(device, amp):
            outputs.append(model(batch).float().cpu())
        targets.append((batch.y if targets_of is None else targets_of(batch)).cpu())
    return torch.cat(outputs).numpy(), torch.cat(targets).numpy()
