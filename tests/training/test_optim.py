"""Optimizers and schedules: Ranger is RAdam + Lookahead and resumes exactly; any torch.optim class by name with its
options; flat_decay, flat_linear and flat_cos follow weaver-core."""

import pytest
import torch

from gnnjet.config import validate_config
from gnnjet.errors import ConfigError
from gnnjet.runs.checkpoint import load_checkpoint, save_checkpoint
from gnnjet.training.optim import build_optimizer, build_scheduler

TRAINING = {"lr": 0.01, "weight_decay": 0.0, "momentum": 0.9, "epochs": 10, "warmup_epochs": 0, "gamma": 0.1,
            "optimizer_options": {}, "plateau_patience": 3, "step_epochs": 10}


def model_and_data(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)), torch.randn(64, 4)


def step(model, optimizer, x):
    optimizer.zero_grad()
    (model(x) - x[:, :1]).pow(2).mean().backward()
    optimizer.step()


def test_ranger_is_radam_with_a_lookahead_every_six_steps():
    ranger_model, x = model_and_data()
    radam_model, _ = model_and_data()
    start = [p.detach().clone() for p in ranger_model.parameters()]
    ranger = build_optimizer(ranger_model, {**TRAINING, "optimizer": "ranger"})
    radam = torch.optim.RAdam(radam_model.parameters(), lr=0.01, betas=(0.95, 0.999), eps=1e-5)
    for _ in range(5):
        step(ranger_model, ranger, x)
        step(radam_model, radam, x)
    for a, b in zip(ranger_model.parameters(), radam_model.parameters()):
        torch.testing.assert_close(a, b)  # between synchronisations Ranger is RAdam
    step(ranger_model, ranger, x)
    step(radam_model, radam, x)
    for a, b, slow in zip(ranger_model.parameters(), radam_model.parameters(), start):
        torch.testing.assert_close(a, slow + 0.5 * (b - slow))  # 6th step: halfway back to the slow weights


def test_ranger_resumes_exactly_from_a_weights_only_checkpoint(tmp_path):
    config = {**TRAINING, "optimizer": "ranger", "scheduler": "flat_decay"}
    model, x = model_and_data()
    optimizer = build_optimizer(model, config)
    scheduler, _ = build_scheduler(optimizer, config, steps_per_epoch=1)
    for _ in range(8):  # past one Lookahead synchronisation, two steps into the next cycle
        step(model, optimizer, x)
        scheduler.step()
    save_checkpoint(tmp_path / "last.pt", {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                           "scheduler": scheduler.state_dict()})

    checkpoint = load_checkpoint(tmp_path / "last.pt")  # weights_only=True
    resumed, _ = model_and_data(seed=1)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = build_optimizer(resumed, config)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    resumed_scheduler, _ = build_scheduler(resumed_optimizer, config, steps_per_epoch=1)
    resumed_scheduler.load_state_dict(checkpoint["scheduler"])
    for _ in range(6):
        for m, o, s in ((model, optimizer, scheduler), (resumed, resumed_optimizer, resumed_scheduler)):
            step(m, o, x)
            s.step()
    for a, b in zip(model.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("epochs, expected", [
    (10, [1] * 7 + [0.01 ** (1 / 3), 0.01 ** (2 / 3), 0.01]),
    (2, [1, 0.01]),
    (1, [1]),  # a one-epoch run stays flat (weaver would run it all at 1/100)
])
def test_flat_decay_matches_weavers_flat_plus_decay(epochs, expected):
    model, _ = model_and_data()
    config = {**TRAINING, "optimizer": "adamw", "scheduler": "flat_decay", "epochs": epochs}
    optimizer = build_optimizer(model, config)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch=5)
    assert not per_batch
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"] / config["lr"])
        optimizer.step()  # no gradients: leaves the weights alone
        scheduler.step()
    assert lrs == pytest.approx(expected)


def test_cosine_restarts_warm_up_then_restart_with_doubling_periods():
    """1 warm-up epoch, then periods of 2, 4, 8 epochs, each a cosine from the full lr to 0 (2 steps an epoch)."""
    model, _ = model_and_data()
    config = {**TRAINING, "optimizer": "adamw", "scheduler": "cosine_restarts", "epochs": 15, "warmup_epochs": 1,
              "restart_epochs": 2}
    optimizer = build_optimizer(model, config)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch=2)
    assert per_batch
    lrs = []
    for _ in range(2 * 15):
        lrs.append(optimizer.param_groups[0]["lr"] / config["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:2] == pytest.approx([0.5, 1.0])  # warm-up
    starts = [2, 6, 14]  # steps where the periods of 4, 8 and 16 steps begin
    assert all(lrs[s] == pytest.approx(1.0) for s in starts)
    assert [lrs[s + half] for s, half in zip(starts, (2, 4, 8))] == pytest.approx([0.5, 0.5, 0.5])
    assert lrs[5] < 0.2 and lrs[13] < 0.05  # the ends of the first two periods, just before a restart


def test_a_torch_optimizer_by_name_takes_the_lr_and_its_options():
    model, x = model_and_data()
    reference_model, _ = model_and_data()
    optimizer = build_optimizer(model, {**TRAINING, "optimizer": "NAdam", "weight_decay": 0.01,
                                        "optimizer_options": {"betas": [0.8, 0.9], "momentum_decay": 0.002}})
    reference = torch.optim.NAdam(reference_model.parameters(), lr=0.01, weight_decay=0.01, betas=(0.8, 0.9),
                                  momentum_decay=0.002)
    assert type(optimizer) is torch.optim.NAdam and optimizer.param_groups[0]["betas"] == [0.8, 0.9]
    for _ in range(3):
        step(model, optimizer, x)
        step(reference_model, reference, x)
    for a, b in zip(model.parameters(), reference_model.parameters()):
        torch.testing.assert_close(a, b)
    rprop = build_optimizer(model, {**TRAINING, "optimizer": "Rprop"})  # takes no weight_decay: not passed
    assert type(rprop) is torch.optim.Rprop and rprop.param_groups[0]["lr"] == 0.01


@pytest.mark.parametrize("training, message", [
    ({"optimizer": "Nadam"}, r"training.optimizer: 'Nadam' is no optimizer; did you mean 'NAdam'\?"),
    ({"optimizer": "LBFGS"}, r"training.optimizer: torch.optim.LBFGS cannot train here: it needs a closure"),
    ({"optimizer": "NAdam", "optimizer_options": {"betaz": [0.9, 0.99]}},
     r"training.optimizer_options.betaz: torch.optim.NAdam takes no option 'betaz' \(its options: lr, betas"),
    ({"optimizer": "sgd", "optimizer_options": {"dampening": 0.1, "2x": 1}},
     r"training.optimizer_options: option '2x' is not a Python keyword name"),
])
def test_a_bad_optimizer_or_option_is_one_config_error(training, message, base_config):
    with pytest.raises(ConfigError, match=message):
        validate_config({**base_config, "training": training})


@pytest.mark.parametrize("kind", ["flat_linear", "flat_cos"])
def test_flat_linear_and_flat_cos_match_weavers_schedules(kind):
    """weaver-core's flat+linear / flat+cos over 10 epochs of 10 steps, a 5-step warm-up: 0, 0.2, ... up to 1, flat
    until step 69 (0.7 x 100 - 1), then down linearly or as a half cosine, floored at 1/1000."""
    model, _ = model_and_data()
    config = {**TRAINING, "optimizer": "adamw", "scheduler": kind, "warmup_epochs": 0.5}
    optimizer = build_optimizer(model, config)
    scheduler, per_batch = build_scheduler(optimizer, config, steps_per_epoch=10)
    assert per_batch
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"] / config["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[:6] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert lrs[6:70] == pytest.approx([1.0] * 64)
    done = [(step - 69) / 31 for step in range(70, 100)]
    import math

    decay = [1 - d if kind == "flat_linear" else 0.5 * (1 + math.cos(math.pi * d)) for d in done]
    assert lrs[70:] == pytest.approx([max(0.001, v) for v in decay])
