"""Optimizers (AdamW, Adam, SGD with momentum, Ranger, or any torch.optim class by name, with keyword options) and
learning-rate schedules (weaver-core's flat+decay, flat+linear and flat+cos among them) from the training section."""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch

from gnnjet.config import optimizer_class

# weaver-core's Ranger for ParT: RAdam with these betas/eps, wrapped in Lookahead (every k steps the weights move
# halfway, alpha, back towards the slow weights). torch has RAdam but no Lookahead: pytorch_optimizer's is a
# torch Optimizer (the schedulers and the AMP scaler work on it) whose state_dict loads with weights_only=True.
RANGER_BETAS, RANGER_EPS, LOOKAHEAD_K, LOOKAHEAD_ALPHA = (0.95, 0.999), 1e-5, 6, 0.5
FLAT_DECAY_FRACTION, FLAT_DECAY_FINAL = 0.3, 0.01  # weaver's flat+decay: the last 30% of epochs decay the lr 100x
FLAT_FRACTION, FLAT_MIN_FACTOR = 0.7, 0.001  # weaver's flat+linear / flat+cos: flat for 70% of the steps, then decay


def build_optimizer(model: torch.nn.Module, training: dict[str, Any], fast: frozenset[str] = frozenset(),
                    multiplier: float = 1.0) -> torch.optim.Optimizer:
    """The trainable parameters in two groups: "base" at training.lr, "fast" (the names in `fast`, e.g. a new
    output layer when fine-tuning) at `multiplier` x training.lr; frozen parameters are left out. gnnjet's names
    build their optimizer with training.weight_decay (and momentum, Nesterov, for sgd; Ranger's betas and eps), a
    torch.optim class named as it is spelled there with lr and weight_decay where it takes them; either way
    training.optimizer_options, checked against the class when the config is, are passed last."""
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    lr, decay = training["lr"], training["weight_decay"]
    params = [{"params": [p for name, p in named if name not in fast], "lr": lr, "name": "base"},
              {"params": [p for name, p in named if name in fast], "lr": lr * multiplier, "name": "fast"}]
    params = [group for group in params if group["params"]]
    name, options = training["optimizer"], training["optimizer_options"]
    if name == "ranger":
        from pytorch_optimizer import Lookahead

        radam = torch.optim.RAdam(params, **{"lr": lr, "betas": RANGER_BETAS, "eps": RANGER_EPS, "weight_decay": decay,
                                             "decoupled_weight_decay": True, **options})
        return Lookahead(radam, k=LOOKAHEAD_K, alpha=LOOKAHEAD_ALPHA)
    if name == "sgd":
        return torch.optim.SGD(params, **{"lr": lr, "momentum": training["momentum"], "weight_decay": decay,
                                          "nesterov": True, **options})
    optimizer = optimizer_class(name)
    accepted = inspect.signature(optimizer).parameters
    defaults = {key: value for key, value in (("lr", lr), ("weight_decay", decay)) if key in accepted}
    return optimizer(params, **{**defaults, **options})


def build_scheduler(optimizer: torch.optim.Optimizer, training: dict[str, Any],
                    steps_per_epoch: int) -> tuple[Any, bool]:
    """(scheduler, stepped per batch?). cosine (with linear warm-up), cosine_restarts (the same warm-up, then
    cosine periods of restart_epochs, doubling after each restart: LorentzNet's recipe) and onecycle step per batch;
    plateau (on the validation loss), step, flat_decay and none per epoch. flat_decay is weaver-core's
    `flat+decay`: the lr stays flat, then the last n = max(1, int(0.3 x epochs)) epochs run at lr x (1/100)^(i/n),
    i = 1..n (the last epoch at 1/100); a one-epoch run stays flat. flat_linear and flat_cos are weaver-core's
    `flat+linear` and `flat+cos`, per batch: a linear warm-up from 0 over warmup_epochs, the lr flat up to 70% of
    the steps, then decaying linearly or as a half cosine to 0, never below 1/1000 of it."""
    kind, epochs = training["scheduler"], training["epochs"]
    total = max(1, epochs * steps_per_epoch)
    if kind in ("cosine", "cosine_restarts"):
        warmup = int(training["warmup_epochs"] * steps_per_epoch)
        period = max(1, training["restart_epochs"] * steps_per_epoch)

        def phase(position: int) -> float:
            """Where `position` (steps after the warm-up) lies in its cosine decay, 0 to 1."""
            if kind == "cosine":
                return min(1.0, position / max(1, total - warmup))
            length = period
            while position >= length:  # periods of restart_epochs, 2x, 4x, ... (SGDR with T_mult = 2)
                position, length = position - length, 2 * length
            return position / length

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * phase(step - warmup)))

        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True
    if kind in ("flat_linear", "flat_cos"):
        warmup, flat = int(training["warmup_epochs"] * steps_per_epoch), total * FLAT_FRACTION - 1

        def flat_then_decay(step: int) -> float:
            if step < warmup:
                return step / warmup
            if step <= flat:
                return 1.0
            done = (step - flat) / (total - flat)
            decay = 1 - done if kind == "flat_linear" else 0.5 * (1 + math.cos(math.pi * done))
            return max(FLAT_MIN_FACTOR, decay)

        return torch.optim.lr_scheduler.LambdaLR(optimizer, flat_then_decay), True
    if kind == "onecycle":
        max_lr = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total), True
    if kind == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=training["gamma"],
                                                          patience=training["plateau_patience"]), False
    if kind == "flat_decay":
        if epochs < 2:  # weaver-core would run a single epoch at 1/100 of the lr
            return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0), False
        decay_epochs = max(1, int(epochs * FLAT_DECAY_FRACTION))
        milestones = list(range(epochs - decay_epochs, epochs))
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones,
                                                    gamma=FLAT_DECAY_FINAL ** (1 / decay_epochs)), False
    if kind == "step":
        step = torch.optim.lr_scheduler.StepLR(optimizer, step_size=training["step_epochs"], gamma=training["gamma"])
        return step, False
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0), False
