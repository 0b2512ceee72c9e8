"""bin/calibrate.py on trained runs: the calibration is fitted on new jets, saved in the run and applied by
bin/predict.py and the Python API; training jets and truth variables are refused."""

import json

import numpy as np
import pytest
import uproot

from gnnjet.config import validate_config
from gnnjet.training.trainer import train
from tests.cli import run_bin
from tests.conftest import write_fake
from tests.training.test_trainer import tiny_config


def predictions(path):
    return uproot.open(path)["Jets"].arrays(library="np")


@pytest.fixture(scope="module")
def quantile_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("calibrated")
    config = tiny_config(tmp, epochs=1)
    config["task"] = {"type": "regression", "loss": "quantile", "labels": None, "target_abs_max": 1.0,
                      "quantiles": [0.025, 0.16, 0.5, 0.84, 0.975]}
    train(validate_config(config), tmp / "run", progress=False)
    return tmp


def test_conformal_calibration_is_saved_and_applied(quantile_run):
    tmp = quantile_run
    calibration_jets = write_fake(tmp / "calibration.root", 400, seed=21)
    test_jets = write_fake(tmp / "test.root", 300, seed=22)
    assert run_bin("predict.py", "-m", tmp / "run", "-i", test_jets, "-o", tmp / "raw.root").returncode == 0
    result = run_bin("calibrate.py", "-m", tmp / "run", "-i", calibration_jets, "--by", "pt:0,80,150,10000")
    assert result.returncode == 0, result.stderr
    assert "pt q16/q84 (nominal 0.680)" in result.stdout and "pt q2p5/q97p5 (nominal 0.950)" in result.stdout
    record = json.loads((tmp / "run" / "calibration.json").read_text())
    assert record["kind"] == "conformal" and record["jets"] == 400 and len(record["by"][0]["edges"]) == 4
    entry = record["coverage"]["pt"]["q16/q84"]
    assert sum(entry["jets"]) == 400 and all(after >= 0.68 for after in entry["coverage_after"])

    assert run_bin("predict.py", "-m", tmp / "run", "-i", test_jets, "-o", tmp / "calibrated.root").returncode == 0
    raw, calibrated = predictions(tmp / "raw.root"), predictions(tmp / "calibrated.root")
    np.testing.assert_array_equal(calibrated["pred"], raw["pred"])  # the point estimate is not touched
    group = np.clip(np.searchsorted([0, 80, 150, 10000], raw["pt"], side="right") - 1, 0, 2)
    for tag in ("q16", "q84", "q2p5", "q97p5"):
        shift = np.asarray(record["bounds"]["pt"][tag]["corrections"])[group]
        expected = raw[f"pred_{tag}"] + shift
        expected = np.minimum(expected, raw["pred"]) if tag in ("q16", "q2p5") else np.maximum(expected, raw["pred"])
        np.testing.assert_allclose(calibrated[f"pred_{tag}"], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(calibrated[f"pt_corr_{tag}"], raw["pt"] * np.exp(expected), rtol=1e-4)
    assert not np.allclose(calibrated["pt_corr_sigma"], raw["pt_corr_sigma"])
    notes = {key.split(";")[0]: value for key, value in uproot.open(tmp / "calibrated.root").items()
             if not key.startswith("Jets")}
    assert any("conformal per-bound corrections by pt" in str(value) for value in notes.values())

    import gnnjet

    api = gnnjet.load_run(tmp / "run").predict(str(test_jets))
    np.testing.assert_allclose(np.asarray(api["pred_q84"]), calibrated["pred_q84"], rtol=1e-6)
    again = run_bin("calibrate.py", "-m", tmp / "run", "-i", calibration_jets)
    assert again.returncode == 1 and "already exists: pass --overwrite" in again.stderr


def test_training_jets_and_truth_variables_are_refused(quantile_run):
    tmp = quantile_run
    trained_on = run_bin("calibrate.py", "-m", tmp / "run", "-i", tmp / "train.root", "--overwrite")
    assert trained_on.returncode == 1 and "is a training file of" in trained_on.stderr
    truth = run_bin("calibrate.py", "-m", tmp / "run", "-i", write_fake(tmp / "c2.root", 50, seed=5), "--by",
                    "pt_gen:0,100", "--overwrite")
    assert truth.returncode == 1 and "pt_gen is a generator-level (truth) variable" in truth.stderr
    few = run_bin("calibrate.py", "-m", tmp / "run", "-i", tmp / "c2.root", "--by", "pt:0,1,2,3,4,5,1000",
                  "--overwrite")
    assert few.returncode == 1 and "jets are too few for a conformal bound" in few.stderr


def test_temperature_scaling_of_a_tagger_keeps_the_raw_scores(tmp_path):
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    calibration_jets = write_fake(tmp_path / "calibration.root", 300, seed=31)
    result = run_bin("calibrate.py", "-m", tmp_path / "run", "-i", calibration_jets)
    assert result.returncode == 0, result.stderr
    temperature = json.loads((tmp_path / "run" / "calibration.json").read_text())["temperature"]
    assert f"temperature {temperature:.4f}" in result.stdout and "NLL" in result.stdout
    test_jets = write_fake(tmp_path / "test.root", 100, seed=32)
    assert run_bin("predict.py", "-m", tmp_path / "run", "-i", test_jets, "-o", tmp_path / "p.root").returncode == 0
    columns = predictions(tmp_path / "p.root")
    raw = np.stack([columns["score_label_q_raw"], columns["score_label_g_raw"]], axis=1).astype(np.float64)
    logits = np.log(raw)  # softmax's logits up to a constant per jet
    scaled = np.exp(logits / temperature)
    np.testing.assert_allclose(columns["score_label_q"], scaled[:, 0] / scaled.sum(axis=1), rtol=1e-4, atol=1e-6)


def test_isotonic_calibration_of_a_tagger(tmp_path):
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    result = run_bin("calibrate.py", "-m", tmp_path / "run", "-i", write_fake(tmp_path / "c.root", 300, seed=41),
                     "--method", "isotonic")
    assert result.returncode == 0, result.stderr
    assert "isotonic calibration of 2 classes on 300 jets: ECE" in result.stdout
    test_jets = write_fake(tmp_path / "test.root", 100, seed=42)
    assert run_bin("predict.py", "-m", tmp_path / "run", "-i", test_jets, "-o", tmp_path / "p.root").returncode == 0
    columns = predictions(tmp_path / "p.root")
    np.testing.assert_allclose(columns["score_label_q"] + columns["score_label_g"], 1, rtol=1e-5)
    record = json.loads((tmp_path / "run" / "calibration.json").read_text())
    raw = columns["score_label_q_raw"].astype(np.float64)
    mapped_q = np.interp(raw, record["classes"][0]["x"], record["classes"][0]["y"])
    mapped_g = np.interp(1 - raw, record["classes"][1]["x"], record["classes"][1]["y"])
    total = mapped_q + mapped_g
    expected = np.where(total > 0, mapped_q / np.where(total > 0, total, 1), 0.5)
    np.testing.assert_allclose(columns["score_label_q"], expected, atol=1e-5)


def test_a_run_keeps_calibration_jets_out_of_training_and_calibrates_on_them(tmp_path):
    from gnnjet.data.spec import DataSpec
    from gnnjet.training.data import prepare_split

    config = tiny_config(tmp_path, epochs=1)
    config["task"] = {"type": "regression", "loss": "quantile", "labels": None, "target_abs_max": 1.0}
    config["data"]["val_fraction"] = 0.5
    config["data"]["calibration_fraction"] = 0.4
    config = validate_config(config)
    split = prepare_split(config, DataSpec.from_config(config), progress=False)
    calibration = split.calibration_index
    assert len(calibration) > 0 and not set(calibration) & set(split.val_index)
    assert not set(calibration) & set(split.train_index)
    assert len(calibration) + len(split.val_index) + len(split.train_index) == split.train.store.num_jets

    train(config, tmp_path / "run", progress=False)
    record = json.loads((tmp_path / "run" / "calibration_jets.json").read_text())
    assert len(record["entries"]) == len(calibration)
    result = run_bin("calibrate.py", "-m", tmp_path / "run", "--by", "pt:0,100,10000")
    assert result.returncode == 0, result.stderr
    fitted = json.loads((tmp_path / "run" / "calibration.json").read_text())
    assert fitted["jets"] == len(calibration) and fitted["calibration_jets"].startswith("the run's own")
    without = tiny_config(tmp_path / "b", epochs=1)
    train(without, tmp_path / "plain", progress=False)
    refused = run_bin("calibrate.py", "-m", tmp_path / "plain")
    assert refused.returncode == 1 and "kept no calibration jets" in refused.stderr
