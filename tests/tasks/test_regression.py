"""Regression (JEC): each loss on known numbers, the |target| mask, corrected pt and response metrics."""

import numpy as np
import pytest
import torch

from gnnjet.config import LOSSES
from gnnjet.tasks import Regression, build_task
from gnnjet.tasks.regression import DISTRIBUTION_LOSSES, PER_JET_LOSSES


def test_built_from_the_task_section():
    task = build_task({"type": "regression", "loss": "mse", "target_abs_max": 0.5, "labels": None,
                       "target": "log(pt_gen / pt)"})
    assert isinstance(task, Regression) and task.out_dim == 1
    assert (task.loss_name, task.target_abs_max) == ("mse", 0.5)


def test_every_regression_loss_of_the_config_has_a_per_jet_loss():
    assert set(PER_JET_LOSSES) | set(DISTRIBUTION_LOSSES) == set(LOSSES["regression"])


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


def test_quantile_outputs_never_cross():
    from gnnjet.tasks.regression import quantile_values

    raw = torch.randn(2000, 5) * 10  # any network output
    values = quantile_values(raw, 2)
    assert (values.diff(dim=1) >= 0).all()
    torch.testing.assert_close(values[:, 2], raw[:, 2])  # the median is the output itself


def fit_constant_output(task, target, steps):
    """The one output vector [out_dim] (the same for every jet) that minimises the task's loss on `target` [J]."""
    raw = torch.zeros(1, task.out_dim, requires_grad=True)
    optimizer = torch.optim.Adam([raw], lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        task.loss(raw.expand(len(target), task.out_dim), target).backward()
        optimizer.step()
    return raw.detach()[0]


def test_pinball_fit_finds_the_quantiles_of_a_known_distribution():
    """A constant quantile head fitted to exponential samples reaches their 10/50/90% quantiles (-ln(1 - tau) for
    the distribution, up to the sample's fluctuation)."""
    torch.manual_seed(0)
    target = torch.distributions.Exponential(1.0).sample((20000,))
    raw = fit_constant_output(Regression("quantile", quantiles=[0.1, 0.5, 0.9]), target, steps=600)
    from gnnjet.tasks.regression import quantile_values

    fitted = quantile_values(raw[None], 1)[0].numpy()
    np.testing.assert_allclose(fitted, np.quantile(target.numpy(), [0.1, 0.5, 0.9]), atol=0.015)
    np.testing.assert_allclose(fitted, -np.log(1 - np.array([0.1, 0.5, 0.9])), atol=0.08)  # the distribution's


def test_gaussian_nll_fit_finds_mean_and_sigma():
    generator = torch.Generator().manual_seed(1)
    target = 0.3 + 0.2 * torch.randn(20000, generator=generator)
    mean, log_sigma = fit_constant_output(Regression("gaussian_nll"), target, steps=500).tolist()
    assert mean == pytest.approx(0.3, abs=0.01) and np.exp(log_sigma) == pytest.approx(0.2, abs=0.01)


def test_interval_columns_and_coverage_metric():
    task = Regression("quantile", quantiles=[0.16, 0.5, 0.84])
    # raw outputs: median 0.1, offsets softplus(x) = 0.05 and 0.08
    offset = lambda v: float(np.log(np.expm1(v)))  # noqa: E731  inverse softplus
    outputs = np.array([[offset(0.05), 0.1, offset(0.08)]] * 4, np.float32)
    targets = np.log(np.array([1.0, 1.2, 1.1, 1.15], np.float32))
    columns = task.columns(outputs, targets, {"pt": np.full(4, 100.0)})
    np.testing.assert_allclose(columns["pred"], 0.1, rtol=1e-6)
    np.testing.assert_allclose(columns["pt_corr_q16"], 100 * np.exp(0.05), rtol=1e-5)
    np.testing.assert_allclose(columns["pt_corr_q84"], 100 * np.exp(0.18), rtol=1e-5)
    np.testing.assert_allclose(columns["pt_corr_sigma"], 50 * (np.exp(0.18) - np.exp(0.05)), rtol=1e-5)
    # log(1.0) = 0 below 0.05, log(1.2) = 0.18 above 0.18: two of four inside
    assert task.metrics(outputs, targets)["coverage"] == pytest.approx(0.5)
    gaussian = Regression("gaussian_nll").columns(np.array([[0.1, np.log(0.05)]], np.float32), targets[:1],
                                                  {"pt": np.array([100.0])})
    np.testing.assert_allclose(gaussian["pt_corr_q84"], 100 * np.exp(0.15), rtol=1e-5)


@pytest.mark.parametrize("task, message", [
    ({"loss": "quantile", "quantiles": [0.84, 0.5, 0.16]}, "must increase"),
    ({"loss": "quantile", "quantiles": [0.0, 0.5, 1.0]}, r"must lie in \(0, 1\)"),
    ({"loss": "quantile", "quantiles": [0.25, 0.75]}, "odd number of quantiles including 0.5"),
    ({"loss": "quantile", "quantiles": [0.2, 0.4, 0.8]}, "odd number of quantiles including 0.5"),
    ({"loss": "huber", "quantiles": [0.16, 0.5, 0.84]}, "set task.loss: quantile"),
    ({"type": "classification", "labels": ["label_q", "label_g"], "loss": "quantile"},
     "'quantile' is not a classification loss"),
])
def test_quantile_config_errors(task, message):
    from gnnjet.config import validate_config
    from gnnjet.errors import ConfigError
    from tests.conftest import BASE_CONFIG

    config = {**BASE_CONFIG, "task": {"type": "regression", **task}}
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_a_median_only_quantile_head_writes_no_interval():
    """task.quantiles: [0.5] (allowed: odd, with the median) is median regression: no interval, no sigma (the
    sigma's Gaussian scale divided by zero before)."""
    task = Regression("quantile", quantiles=[0.5])
    outputs, targets = np.array([[0.1], [0.2]], np.float32), np.zeros(2, np.float32)
    columns = task.columns(outputs, targets, {"pt": np.array([100.0, 50.0])})
    assert "pt_corr_sigma" not in columns and "pred_q16" not in columns
    np.testing.assert_allclose(columns["pt_corr"], [100 * np.exp(0.1), 50 * np.exp(0.2)], rtol=1e-6)
    assert "coverage" not in task.metrics(outputs, targets)


def test_several_targets_pool_their_jets_in_one_loss_and_mask_each_target_alone():
    """Two targets (pt, mass): the loss is the mean over (jet, target) pairs, each target read from its own outputs;
    a mass beyond its own limit masks that jet's mass alone (its pt still counts)."""
    task = Regression("l1", {"mass": 1.0}, targets=["pt", "mass"])
    assert task.out_dim == 2 and task.limits == [np.inf, 1.0]
    outputs = torch.tensor([[0.1, 0.5], [0.2, 0.0]])
    targets = torch.tensor([[0.0, 0.2], [0.0, 3.0]])  # jet 2's mass target 3 > 1: masked
    losses = task.jet_losses(outputs, targets)
    torch.testing.assert_close(losses, torch.tensor([[0.1, 0.3], [0.2, 3.0]]))
    assert float(task.loss(outputs, targets)) == pytest.approx((0.1 + 0.3 + 0.2) / 3)
    # weights multiply every target of a jet
    weighted = task.loss(outputs, targets, torch.tensor([2.0, 1.0]))
    assert float(weighted) == pytest.approx((2 * 0.1 + 2 * 0.3 + 0.2) / 5)


def test_several_quantile_targets_have_their_own_heads_columns_and_metrics():
    task = Regression("quantile", quantiles=[0.16, 0.5, 0.84], targets=["pt", "mass"])
    offset = lambda v: float(np.log(np.expm1(v)))  # noqa: E731  inverse softplus
    # pt: median 0.1, offsets 0.05 / 0.08; mass: median 0.4, offsets 0.2 / 0.3
    outputs = np.array([[offset(0.05), 0.1, offset(0.08), offset(0.2), 0.4, offset(0.3)]] * 2, np.float32)
    targets = np.array([[0.1, 0.9], [0.12, 0.35]], np.float32)
    observers = {"pt": np.array([100.0, 50.0]), "mass": np.array([10.0, 20.0])}
    columns = task.columns(outputs, targets, observers)
    assert "pred" not in columns and "pt_corr" in columns
    np.testing.assert_allclose(columns["pred_pt"], 0.1, rtol=1e-6)
    np.testing.assert_allclose(columns["pred_mass"], 0.4, rtol=1e-6)
    np.testing.assert_allclose(columns["target_mass"], [0.9, 0.35])
    np.testing.assert_allclose(columns["pred_mass_q16"], 0.2, rtol=1e-5)
    np.testing.assert_allclose(columns["mass_corr"], [10 * np.exp(0.4), 20 * np.exp(0.4)], rtol=1e-5)
    np.testing.assert_allclose(columns["mass_corr_q84"], [10 * np.exp(0.7), 20 * np.exp(0.7)], rtol=1e-5)
    np.testing.assert_allclose(columns["pt_corr_q84"], [100 * np.exp(0.18), 50 * np.exp(0.18)], rtol=1e-5)
    metrics = task.metrics(outputs, targets)
    # pt: both targets inside [0.05, 0.18]; mass: 0.9 above 0.7, 0.35 inside [0.2, 0.7]
    assert metrics["pt_coverage"] == pytest.approx(1.0) and metrics["mass_coverage"] == pytest.approx(0.5)
    assert metrics["mass_median_response"] == pytest.approx(np.median(np.exp(0.4 - targets[:, 1])), rel=1e-5)
    assert "coverage" not in metrics and "resolution" not in metrics


def test_a_single_named_target_keeps_the_plain_column_names():
    """A mass-only model (task.targets: {mass: ...}) writes pred/target and mass_corr, no pt_corr."""
    task = build_task({"type": "regression", "loss": "huber", "target_abs_max": None,
                       "targets": {"mass": "log(mass_gen / mass)"}})
    columns = task.columns(np.array([[0.5]], np.float32), np.array([0.4], np.float32),
                           {"pt": np.array([100.0]), "mass": np.array([10.0])})
    assert "pt_corr" not in columns and {"pred", "target"} <= set(columns)
    assert columns["mass_corr"][0] == pytest.approx(10 * np.exp(0.5))


@pytest.mark.parametrize("task, message", [
    ({"target": "log(pt_gen / pt)", "targets": {"pt": "log(pt_gen / pt)"}}, "not both"),
    ({"targets": {"1mass": "log(mass_gen / mass)"}}, "target name '1mass'"),
    ({"targets": {}}, "task.targets: expected a mapping"),
    ({"targets": {"pt": "a", "mass": "b"}, "target_abs_max": {"mas": 1.0}},
     r"task.target_abs_max.mas: not a target; the targets are pt, mass; did you mean 'mass'\?"),
    ({"type": "classification", "labels": ["label_q", "label_g"], "targets": {"pt": "pt_gen"}},
     "task.targets: regression targets, but task.type is classification"),
])
def test_target_config_errors(task, message):
    from gnnjet.config import validate_config
    from gnnjet.errors import ConfigError
    from tests.conftest import BASE_CONFIG

    config = {**BASE_CONFIG, "task": {"type": "regression", **task}}
    with pytest.raises(ConfigError, match=message):
        validate_config(config)


def test_targets_resolve_once_and_validate_again_unchanged():
    """task.target (or the default) becomes task.targets {pt: ...}; the resolved config (a run's config.yaml)
    validates to itself."""
    from gnnjet.config import validate_config
    from tests.conftest import BASE_CONFIG

    for task, expected in (({}, {"pt": "log(pt_gen / pt)"}), ({"target": "pt_gen / pt"}, {"pt": "pt_gen / pt"}),
                           ({"targets": {"pt": "a", "mass": "b"}}, {"pt": "a", "mass": "b"})):
        resolved = validate_config({**BASE_CONFIG, "task": {"type": "regression", **task}})
        assert resolved["task"]["targets"] == expected and resolved["task"]["target"] is None
        assert validate_config(resolved) == resolved
