"""A per-jet resolution end to end: a quantile (and a Gaussian-NLL) JEC head trains, predicts intervals of pt_corr
through bin/predict.py, and bin/plot.py draws coverage, pulls and calibration with regression_metrics tables."""

import json

import numpy as np
import pytest
import uproot
import yaml

from tests.cli import run_bin
from tests.training.test_trainer import tiny_config


@pytest.mark.parametrize("task", [{"loss": "quantile", "quantiles": [0.16, 0.5, 0.84]}, {"loss": "gaussian_nll"}])
def test_intervals_train_predict_and_plot(tmp_path, task):
    config = tiny_config(tmp_path, num_jets=600, epochs=3)
    config["task"] = {"type": "regression", "target": "log(pt_gen / pt)", "labels": None, **task}
    config["data"]["observers"] = ["pt", "eta", "pt_gen", "eta_gen", "hadron_flavor"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run").returncode == 0
    pred = tmp_path / "run" / "pred.root"
    assert run_bin("predict.py", "-m", tmp_path / "run", "-i", config["data"]["train"][0], "-o", pred).returncode == 0
    columns = uproot.open(pred)["Jets"].arrays(library="np")
    valid = columns["valid"] == 1
    low, point, high = (columns[k][valid] for k in ("pt_corr_q16", "pt_corr", "pt_corr_q84"))
    assert (low <= point).all() and (point <= high).all() and (high > low).any()
    np.testing.assert_allclose(columns["pt_corr_sigma"][valid], (high - low) / 2, rtol=1e-4)
    if task["loss"] != "quantile":  # the figures once (they take the same columns)
        return
    assert run_bin("plot.py", "-i", tmp_path / "run", "-n", "quantile", "-o", tmp_path / "figs").returncode == 0
    for figure in ("coverage_central.png", "pulls.png", "calibration.pdf", "regression_metrics.md"):
        assert (tmp_path / "figs" / figure).exists(), figure
    metrics = json.loads((tmp_path / "figs" / "regression_metrics.json").read_text())["models"]["quantile"]
    inside = (columns["pt_gen"][valid] >= low) & (columns["pt_gen"][valid] <= high)
    central = np.abs(columns["eta_gen"][valid]) < 2.5
    assert metrics["coverage"] == pytest.approx(inside[central].mean())
    assert len(metrics["terciles"]) == 3


def test_pt_and_mass_train_and_predict_each_target_with_its_interval(tmp_path):
    """task.targets {pt, mass} with a quantile head: metrics per target during training, and per target the point
    estimate, its interval and the corrected quantity in the predictions."""
    config = tiny_config(tmp_path, num_jets=400, epochs=2)
    config["task"] = {"type": "regression", "labels": None, "loss": "quantile",
                      "targets": {"pt": "log(pt_gen / pt)", "mass": "log(mass_gen / mass)"},
                      "target_abs_max": {"mass": 2.0}}
    config["data"]["observers"] = ["pt", "eta", "mass", "pt_gen", "eta_gen", "mass_gen"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run").returncode == 0
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"val_pt_resolution", "val_mass_resolution", "val_pt_coverage", "val_mass_coverage"} <= set(header)
    pred = tmp_path / "run" / "pred.root"
    assert run_bin("predict.py", "-m", tmp_path / "run", "-i", config["data"]["train"][0], "-o", pred).returncode == 0
    columns = uproot.open(pred)["Jets"].arrays(library="np")
    valid = columns["valid"] == 1
    for name in ("pt", "mass"):
        np.testing.assert_allclose(columns[f"target_{name}"][valid],
                                   np.log(columns[f"{name}_gen"] / columns[name])[valid], atol=1e-6)
        np.testing.assert_allclose(columns[f"{name}_corr"][valid],
                                   (columns[name] * np.exp(columns[f"pred_{name}"]))[valid], rtol=1e-5)
        low, high = columns[f"{name}_corr_q16"][valid], columns[f"{name}_corr_q84"][valid]
        assert (low <= columns[f"{name}_corr"][valid]).all() and (columns[f"{name}_corr"][valid] <= high).all()
    assert not np.allclose(columns["pred_pt"][valid], columns["pred_mass"][valid])


def test_a_target_with_a_missing_branch_fails_before_training(tmp_path):
    config = tiny_config(tmp_path, num_jets=100, epochs=1)
    config["task"] = {"type": "regression", "labels": None, "targets": {"mass": "log(mass_true / mass)"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "mass_true" in result.stderr and "task.targets.mass" in result.stderr
    assert not (tmp_path / "run" / "best.pt").exists()
