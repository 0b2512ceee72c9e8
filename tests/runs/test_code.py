"""A run of users' code: its network and loss files are copied into the run with their hashes; resuming, predicting
and exporting run the copies, and only with --trust-code."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import uproot

from gnnjet.config import load_config, validate_config
from gnnjet.errors import GnnjetError
from gnnjet.runs.code import trusted_code
from gnnjet.tasks import build_task
from tests.cli import run_bin
from tests.conftest import write_fake
from tests.training.test_trainer import tiny_config

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "networks" / "mean_net.py"


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """A one-epoch run of the example network and its focal loss, trained through bin/train.py from a copy of the
    file in a folder that is then deleted: the run lives on its own copy."""
    tmp = tmp_path_factory.mktemp("own")
    (tmp / "mine").mkdir()
    shutil.copy(EXAMPLE, tmp / "mine" / "net.py")
    config = tiny_config(tmp, epochs=1)
    config["model"] = {"name": f"{tmp / 'mine' / 'net.py'}:MeanNet", "options": {"hidden": 16}}
    config["task"]["loss"] = f"{tmp / 'mine' / 'net.py'}:focal_loss"
    (tmp / "config.yaml").write_text(json.dumps(validate_config(config)))
    result = run_bin("train.py", "-c", tmp / "config.yaml", "-o", tmp / "run", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    shutil.rmtree(tmp / "mine")
    return tmp


def test_the_run_keeps_its_code_with_the_hashes(own_run):
    record = json.loads((own_run / "run" / "code.json").read_text())
    assert set(record) == {"model.name", "task.loss"}
    assert record["model.name"]["file"] == "code/model/net.py" and record["task.loss"]["file"] == "code/loss/net.py"
    assert (own_run / "run" / "code" / "model" / "net.py").read_bytes() == EXAMPLE.read_bytes()
    import hashlib

    assert record["model.name"]["sha256"] == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()


def test_predict_and_export_refuse_the_code_unless_trusted(own_run):
    data = write_fake(own_run / "new.root", 40, seed=3)
    refused = run_bin("predict.py", "-m", own_run / "run", "-i", data, "-o", own_run / "pred.root")
    assert refused.returncode == 1 and not (own_run / "pred.root").exists()
    assert f"loading it runs {own_run / 'run' / 'code' / 'model' / 'net.py'}" in refused.stderr
    assert "pass --trust-code" in refused.stderr
    assert run_bin("export.py", "-m", own_run / "run", "-o", own_run / "m.onnx").returncode == 1
    trusted = run_bin("predict.py", "-m", own_run / "run", "-i", data, "-o", own_run / "pred.root", "--trust-code")
    assert trusted.returncode == 0, trusted.stderr
    scores = uproot.open(own_run / "pred.root")["Jets"].arrays(library="np")["score_label_q"]
    assert len(scores) == 40 and np.all((scores > 0) & (scores < 1))
    import gnnjet

    with pytest.raises(GnnjetError, match="pass --trust-code"):
        gnnjet.load_run(own_run / "run").predict(str(data))
    again = gnnjet.load_run(own_run / "run", trust_code=True).predict(str(data))
    np.testing.assert_allclose(np.asarray(again["score_label_q"]), scores, rtol=1e-6)


def test_resume_runs_the_copy_when_trusted(own_run):
    shutil.copytree(own_run / "run", own_run / "resumed")
    refused = run_bin("train.py", "--resume", "-o", own_run / "resumed", "--epochs", "2")
    assert refused.returncode == 1 and "pass --trust-code" in refused.stderr
    resumed = run_bin("train.py", "--resume", "-o", own_run / "resumed", "--epochs", "2", "--trust-code")
    assert resumed.returncode == 0, resumed.stderr
    assert len((own_run / "resumed" / "metrics.csv").read_text().splitlines()) == 3  # header + 2 epochs


def test_a_changed_copy_is_refused(own_run, tmp_path):
    shutil.copytree(own_run / "run", tmp_path / "run")
    copy = tmp_path / "run" / "code" / "loss" / "net.py"
    copy.write_text(copy.read_text() + "\n# edited\n")
    config = load_config(tmp_path / "run" / "config.yaml")
    with pytest.raises(GnnjetError, match=r"net.py: missing, or changed since the run was trained"):
        trusted_code(tmp_path / "run", config, trust_code=True)


def test_a_loss_that_does_not_return_one_value_per_jet_is_named(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    (tmp_path / "losses.py").write_text("def mean(output, target):\n    return output.mean()\n")
    task = build_task({"type": "classification", "labels": ["a", "b"], "loss": "losses.py:mean"})
    with pytest.raises(GnnjetError, match=r"task.loss mean: must return one float loss per jet, a tensor of shape "
                                          r"\(4,\); it returned \(\)"):
        task.loss(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))


def test_a_regression_trains_with_a_users_point_loss(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)
    (tmp_path / "losses.py").write_text("def squared(prediction, target):\n    return (prediction - target) ** 2\n")
    section = validate_config({**tiny_config(tmp_path), "task": {"type": "regression", "loss": "losses.py:squared"}})
    task = build_task(section["task"])
    output, target = torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 1.0])
    assert task.loss(output, target).item() == pytest.approx((1 + 4) / 2)
    assert task.out_dim == 1
