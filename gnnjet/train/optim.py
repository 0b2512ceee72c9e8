"""Optimizers (AdamW, Adam, SGD with momentum) and learning-rate schedules from the training section."""

from __future__ import annotations

import math
from typing import Any

import torch


def build_optimizer(model: torch.nn.Module, training: dict[str, Any], fast: frozenset[str] = frozenset(),
                    multiplier: float = 1.0) -> torch.optim.Optimizer:
    """The trainable parameters in two groups: "base" at training.lr, "fast" (the names in `fast`, e.g. a new
    output layer when fine-tuning) at `multiplier` x training.lr; frozen parameters are left out."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    lr, decay = training["lr"], training["weight_decay"]
    params = [{"params": [p for name, p in named if name not in fast], "lr": lr, "name": "base"},
              {"params": [p for name, p in named if name in fast], "lr": lr * multiplier, "name": "fast"}]
    params = [group for group in params if group["params"]]
    if training["optimizer"] == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    if training["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    return torch.optim.SGD(params, lr=lr, momentum=training["momentum"], weight_decay=decay, nesterov=True)


def build_scheduler(optimizer: torch.optim.Optimizer, training: dict[str, Any], steps_per_epoch: int) -> tuple[Any, bool]:
    """(scheduler, stepped per batch?). cosine (with linear warm-up) and onecycle step per batch;
    plateau (on the validation loss), step and none per epoch."""
    kind, epochs = training["scheduler"], training["epochs"]
    total = max(1, epochs * steps_per_epoch)
    if kind == "cosine":
        warmup = int(training["warmup_epochs"] * steps_per_epoch)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1 + math.cos(math.pi * progress))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True
    if kind == "onecycle":
        max_lr = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total), True
    if kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=training["gamma"],
                                                          patience=training["plateau_patience"]), False
    if kind == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=training["step_epochs"], gamma=training["gamma"]), False
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0), False
