"""Regression (JEC): each loss on known numbers, the |target| mask, corrected pt and response metrics."""

import numpy as np
import pytest
import torch

from gnnjet.config import LOSSES
from gnnjet.tasks import Regression, build_task
from gnnjet.tasks.regression import PER_JET_LOSSES


def test_built_from_the_task_section():
    task = build_task({"type": "regression", "loss": "mse", "target_abs_max": 0.5, "labels": None,
                       "target": "log(pt_gen / pt)"})
    assert isinstance(task, Regression) and task.out_dim == 1
    assert (task.loss_name, task.target_abs_max) == ("mse", 0.5)


def test_every_regression_loss_of_the_config_has_a_per_jet_loss():
    assert set(PER_JET_LOSSES) == set(LOSSES["regression"])


@pytest.mark.parametrize("loss, expected", [
    ("l1", [0.3, 0.05, 0.0]),
    ("mse", [0.09, 0.0025, 0.0]),
    ("huber", [0.1 * (0.3 - 0.05), 0.5 * 0.05**2, 0.0]),  # delta 0.1: linear beyond it, quadratic within
    ("logcosh", [np.log(np.cosh(0.3)), np.log(np.cosh(0.05)), 0.0]),
])
def test_losses_on_known_residuals(loss, expected):
    task = Regression(loss)
    prediction, target = torch.tensor([[0.3], [-0.05], [0.2]]), torch.tensor([0.0, 0.0, 0.2])
    assert float(task.loss(prediction, target)) == pytest.approx(np.mean(expected), rel=1e-5, abs=1e-7)


def test_jets_beyond_target_abs_max_do_not_enter_the_loss():
    task = Regression("l1", target_abs_max=1.0)
    prediction, target = torch.tensor([[0.1], [0.0]]), torch.tensor([0.0, 3.0])
    assert float(task.loss(prediction, target)) == pytest.approx(0.1)


def test_columns_correct_pt_and_metrics_measure_the_response():
    task = Regression("huber")
    targets = np.log(np.array([1.1, 0.9, 1.0], np.float32))  # pt_gen / pt
    outputs = targets[:, None].copy()  # a perfect correction
    columns = task.columns(outputs, targets, {"pt": np.array([100.0, 50.0, 20.0])})
    np.testing.assert_allclose(columns["pt_corr"], [110.0, 45.0, 20.0], rtol=1e-5)
    metrics = task.metrics(outputs, targets)
    assert metrics["median_response"] == pytest.approx(1.0) and metrics["resolution"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["raw_median_response"] == pytest.approx(1.0, abs=0.1)
