"""Training with jet weights (data.weights) and decorrelation (task.decorrelation): weighted losses, exact under
DDP, the reweighting saved with the run and reused on resume, bad weights refused before training."""


import numpy as np
import pytest
import torch

from gnnjet.config import validate_config
from gnnjet.data.reweight import Reweighting
from gnnjet.errors import DataError
from gnnjet.runs.checkpoint import load_checkpoint
from gnnjet.training.trainer import train
from tests.conftest import write_fake
from tests.training.test_trainer import tiny_config, train_with_torchrun


def weighted_config(tmp_path, weights, decorrelation=None, num_jets=300, **training):
    config = tiny_config(tmp_path, num_jets=num_jets, **training)
    config["data"]["weights"] = weights
    config["task"]["decorrelation"] = decorrelation
    return validate_config(config)


def assert_same_model(a, b, **tolerance):
    for key, value in load_checkpoint(b)["model"].items():
        torch.testing.assert_close(load_checkpoint(a)["model"][key], value, **tolerance)


def test_unit_weights_train_as_no_weights(tmp_path):
    plain = tiny_config(tmp_path, epochs=1, scheduler="none")
    train(plain, tmp_path / "plain", progress=False)
    train(weighted_config(tmp_path, {"expr": "1 + 0 * pt"}, epochs=1, scheduler="none"), tmp_path / "ones",
          progress=False)
    assert_same_model(tmp_path / "plain" / "last.pt", tmp_path / "ones" / "last.pt", rtol=1e-4, atol=1e-6)
    train(weighted_config(tmp_path, {"expr": "pt / 100"}, epochs=1, scheduler="none"), tmp_path / "pt",
          progress=False)
    with pytest.raises(AssertionError):  # the weights change what is learned
        assert_same_model(tmp_path / "plain" / "last.pt", tmp_path / "pt" / "last.pt", rtol=1e-4, atol=1e-6)


def test_ddp_gloo_with_uneven_weights_matches_single_process(tmp_path):
    """Each rank's weight sum differs (weights pt / 100): the loss is sum(w l) / sum(w) over the global batch."""
    config = weighted_config(tmp_path, {"expr": "pt / 100"}, num_jets=260, epochs=1, batch_size=16,
                             scheduler="none", grad_clip=None)
    single = dict(config, training={**config["training"], "batch_size": 32})
    train_with_torchrun(config, tmp_path)
    train(validate_config(single), tmp_path / "single", progress=False)
    assert_same_model(tmp_path / "ddp" / "last.pt", tmp_path / "single" / "last.pt", rtol=1e-4, atol=1e-5)
    # the per-rank mean of per-rank means would differ
    unweighted = dict(single, data={**single["data"], "weights": None})
    train(validate_config(unweighted), tmp_path / "unweighted", progress=False)
    with pytest.raises(AssertionError):
        assert_same_model(tmp_path / "ddp" / "last.pt", tmp_path / "unweighted" / "last.pt", rtol=1e-4, atol=1e-5)


REWEIGHT = {"reweight": {"vars": {"pt": [30, 100, 200, 300], "mass": [5, 15, 30]}, "threshold": 0}}


def test_reweighting_is_saved_with_the_run_and_reused_on_resume(tmp_path, monkeypatch):
    config = weighted_config(tmp_path, REWEIGHT, epochs=1)
    train(config, tmp_path / "run", progress=False)
    saved = Reweighting.load(tmp_path / "run" / "weights.json")
    assert saved.variables == ["pt", "mass"] and saved.classes == ["label_q", "label_g"]
    # the saved histograms are those of the training split, flat after reweighting
    for name in saved.classes:
        after = saved.after(name)
        np.testing.assert_allclose(after[after > 0], after.max(), rtol=1e-6)

    def no_refit(*args, **kwargs):
        raise AssertionError("a resumed run refitted the reweighting")

    monkeypatch.setattr(Reweighting, "fit", no_refit)
    train(config, tmp_path / "run", progress=False, resume=True, epochs=2)
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_decorrelation_adds_the_penalty_to_the_validation_loss(tmp_path):
    config = weighted_config(tmp_path, None, {"expr": "mass", "strength": 3.0}, epochs=1)
    history = train(config, tmp_path / "run", progress=False)
    row = history[-1]
    assert 0 < row["val_disco"] <= 3.0
    assert "val_disco" in (tmp_path / "run" / "metrics.csv").read_text()


def test_negative_weights_are_refused_before_training_unless_allowed(tmp_path):

    weight = np.ones(300, np.float32)
    weight[:5] = -1.0
    path = write_fake(tmp_path / "nlo.root", 300, weight=weight)
    config = weighted_config(tmp_path, {"expr": "weight"}, epochs=1)
    config["data"]["train"] = [str(path)]
    with pytest.raises(DataError, match="a negative weight.*allow_negative"):
        train(config, tmp_path / "refused", progress=False)
    assert not (tmp_path / "refused" / "last.pt").exists()
    config["data"]["weights"]["allow_negative"] = True
    assert len(train(config, tmp_path / "allowed", progress=False)) == 1


def test_predictions_carry_the_weight_expression_and_the_task(tmp_path):
    import uproot

    from gnnjet.evaluate.predictions import load_predictions
    from gnnjet.predict import predict

    config = weighted_config(tmp_path, {"expr": "pt / 100", **REWEIGHT}, epochs=1)
    train(config, tmp_path / "run", progress=False)
    predict(tmp_path / "run", config["data"]["train"], tmp_path / "pred.root", progress=False)
    with uproot.open(tmp_path / "pred.root") as file:
        columns = file["Jets"].arrays(["weight", "pt", "valid"], library="np")
        assert str(file["task"]) == "classification"
    valid = columns["valid"] == 1
    # the physics weight (the expression), not the training reweighting
    np.testing.assert_allclose(columns["weight"][valid], columns["pt"][valid] / 100, rtol=1e-5)
    assert load_predictions(str(tmp_path / "pred.root"), "m").weights is not None


def test_batches_whose_jets_all_have_weight_zero_train_nothing_and_stay_finite(tmp_path):
    """With weight (pt > 285), about 6% of the jets count: a batch of 32 holds none one time in six."""
    config = weighted_config(tmp_path, {"expr": "1.0 * (pt > 285)"}, num_jets=2000, epochs=1)
    history = train(config, tmp_path / "run", progress=False)
    assert np.isfinite(history[-1]["train_loss"]) and np.isfinite(history[-1]["val_loss"])


def test_reweighting_and_disco_train_under_torchrun(tmp_path):
    """Two gloo processes: the reweighting is fitted once (rank 0 writes weights.json), DisCo runs on each rank's
    shard, and the run ends with the penalty in its validation metrics."""
    config = weighted_config(tmp_path, REWEIGHT, {"expr": "mass", "strength": 2.0}, epochs=1)
    run = train_with_torchrun(config, tmp_path)
    assert Reweighting.load(run / "weights.json").classes == ["label_q", "label_g"]
    assert "val_disco" in (run / "metrics.csv").read_text()
