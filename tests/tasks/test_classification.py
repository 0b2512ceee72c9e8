"""Classification: cross-entropy over the label classes, scores that are probabilities, truth columns."""

import numpy as np
import pytest
import torch

from gnnjet.tasks import Classification, build_task


def test_built_from_the_task_section():
    task = build_task({"type": "classification", "labels": ["label_q", "label_g", "label_b"], "loss": "cross_entropy"})
    assert isinstance(task, Classification) and task.out_dim == 3 and task.names == ["q", "g", "b"]


def test_loss_is_cross_entropy_of_the_logits():
    task = Classification(["label_a", "label_b"])
    logits, target = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), torch.tensor([0, 1, 0])
    expected = -np.mean([np.log(np.exp(2) / (np.exp(2) + 1)), np.log(np.e / (1 + np.e)), np.log(0.5)])
    assert float(task.loss(logits, target)) == pytest.approx(expected, rel=1e-6)


def test_columns_hold_probabilities_truth_and_observers():
    task = Classification(["label_a", "label_b"])
    outputs, targets = np.array([[0.0, np.log(3.0)], [5.0, 5.0]], np.float32), np.array([1, 0])
    columns = task.columns(outputs, targets, {"pt": np.array([100.0, 200.0])})
    np.testing.assert_allclose(columns["score_label_b"], [0.75, 0.5], rtol=1e-6)
    np.testing.assert_allclose(columns["score_label_a"] + columns["score_label_b"], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(columns["label_a"], [0, 1])
    np.testing.assert_array_equal(columns["label_b"], [1, 0])
    np.testing.assert_array_equal(columns["pt"], [100.0, 200.0])


def test_metrics_of_a_perfect_and_of_an_inverted_tagger():
    task = Classification(["label_s", "label_b"])
    targets = np.array([0, 0, 1, 1, 0, 1])
    perfect = np.where(targets[:, None] == np.arange(2), 5.0, -5.0)
    assert task.metrics(perfect, targets)["auc"] == 1.0
    assert task.metrics(-perfect, targets)["auc"] == 0.0


@pytest.mark.parametrize("task", [Classification(["label_a", "label_b", "label_c"]),
                                  build_task({"type": "regression", "loss": "huber", "target_abs_max": 1.0})])
def test_weight_two_equals_duplicated_jets_in_loss_and_gradient(task):
    """A jet of weight 2 counts as that jet twice: the weighted mean loss and its gradient equal the unweighted ones
    of the batch with those jets duplicated (also for regression, whose |y| > target_abs_max jets stay masked)."""
    generator = torch.Generator().manual_seed(0)
    jets = 12
    inputs = torch.randn(jets, 4, generator=generator)
    if task.out_dim == 3:
        target = torch.randint(0, 3, (jets,), generator=generator)
    else:
        target = torch.randn(jets, generator=generator) * 0.8
    layer = torch.nn.Linear(4, task.out_dim)
    doubled = torch.tensor([1, 4, 5, 9])
    weight = torch.ones(jets)
    weight[doubled] = 2.0

    def loss_and_grad(x, y, w):
        layer.zero_grad()
        loss = task.loss(layer(x), y, w)
        loss.backward()
        return float(loss.detach()), layer.weight.grad.clone()

    weighted = loss_and_grad(inputs, target, weight)
    duplicated = loss_and_grad(torch.cat([inputs, inputs[doubled]]), torch.cat([target, target[doubled]]), None)
    assert weighted[0] == pytest.approx(duplicated[0], rel=1e-6)
    torch.testing.assert_close(weighted[1], duplicated[1], rtol=1e-5, atol=1e-7)
    unweighted = loss_and_grad(inputs, target, None)
    assert unweighted[0] != pytest.approx(weighted[0], rel=1e-3)  # the weights matter


def test_label_smoothing_moves_the_target_off_one_hot():
    """training.label_smoothing e: the target is 1 - e + e / C on the true class, e / C elsewhere (both losses)."""
    task = build_task({"type": "classification", "labels": ["label_gamma", "label_proton"]}, {"label_smoothing": 0.2})
    logits, target = torch.tensor([[2.0, -1.0], [0.5, 0.3]]), torch.tensor([0, 1])
    log_p = torch.log_softmax(logits, dim=1)
    smoothed = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    expected = -(smoothed * log_p).sum(dim=1)
    assert float(task.loss(logits, target)) == pytest.approx(float(expected.mean()), rel=1e-6)
    weighted = task.loss(logits, target, torch.tensor([3.0, 1.0]))
    assert float(weighted) == pytest.approx(float((expected * torch.tensor([3.0, 1.0])).sum() / 4), rel=1e-6)
    assert float(build_task({"type": "classification", "labels": ["a", "b"]}).loss(logits, target)) != \
        pytest.approx(float(task.loss(logits, target)))


def test_label_smoothing_needs_classification():
    from gnnjet.config import validate_config
    from gnnjet.errors import ConfigError
    from tests.conftest import BASE_CONFIG

    config = {**BASE_CONFIG, "task": {"type": "regression"}, "training": {"label_smoothing": 0.1}}
    with pytest.raises(ConfigError, match="training.label_smoothing: needs a classification task"):
        validate_config(config)
    with pytest.raises(ConfigError, match=r"training.label_smoothing: .*\[0, 1\)"):
        validate_config({**BASE_CONFIG, "training": {"label_smoothing": 1.0}})
