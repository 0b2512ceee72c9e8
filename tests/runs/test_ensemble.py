"""Ensembles: the mean of several runs' predictions with the spread of each point estimate; an ensemble of one
run repeated equals that run with zero spread; members that read different jets are refused."""

import shutil

import numpy as np
import pytest
import uproot

from gnnjet.config import validate_config
from gnnjet.errors import GnnjetError
from gnnjet.training.trainer import train
from tests.cli import run_bin
from tests.conftest import write_fake
from tests.training.test_trainer import tiny_config


@pytest.fixture(scope="module")
def two_taggers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ensemble")
    for seed in (1, 2):
        train(tiny_config(tmp / f"data{seed}", epochs=1, seed=seed), tmp / f"run{seed}", progress=False)
    shutil.copytree(tmp / "run1", tmp / "copy1")
    return tmp


def read(path):
    return uproot.open(path)["Jets"].arrays(library="np")


def test_identical_members_equal_one_run_with_zero_spread(two_taggers):
    tmp = two_taggers
    data = write_fake(tmp / "new.root", 80, seed=9)
    assert run_bin("predict.py", "-m", tmp / "run1", "-i", data, "-o", tmp / "one.root").returncode == 0
    result = run_bin("predict.py", "-m", tmp / "run1", "-m", tmp / "copy1", "-i", data, "-o", tmp / "same.root")
    assert result.returncode == 0, result.stderr
    one, same = read(tmp / "one.root"), read(tmp / "same.root")
    for name, values in one.items():
        np.testing.assert_allclose(same[name], values, rtol=1e-6, err_msg=name)
    assert set(same) - set(one) == {"score_label_q_spread", "score_label_g_spread"}
    np.testing.assert_array_equal(same["score_label_q_spread"], 0)


def test_two_runs_average_their_scores_and_spread(two_taggers):
    tmp = two_taggers
    data = write_fake(tmp / "other.root", 60, seed=10)
    for name, runs in (("a", ["run1"]), ("b", ["run2"]), ("ab", ["run1", "run2"])):
        models = [arg for run in runs for arg in ("-m", tmp / run)]
        assert run_bin("predict.py", *models, "-i", data, "-o", tmp / f"{name}.root").returncode == 0
    a, b, ab = read(tmp / "a.root"), read(tmp / "b.root"), read(tmp / "ab.root")
    np.testing.assert_allclose(ab["score_label_q"], (a["score_label_q"] + b["score_label_q"]) / 2, rtol=1e-5)
    np.testing.assert_allclose(ab["score_label_q_spread"], np.abs(a["score_label_q"] - b["score_label_q"]) / 2,
                               rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(ab["label_q"], a["label_q"])
    notes = [str(value) for key, value in uproot.open(tmp / "ab.root").items() if not key.startswith("Jets")]
    assert any("mean of 2 runs" in note for note in notes)

    import gnnjet

    api = gnnjet.load_ensemble([tmp / "run1", tmp / "run2"]).predict(str(data))
    np.testing.assert_allclose(np.asarray(api["score_label_q_spread"]), ab["score_label_q_spread"], rtol=1e-5)
    one = run_bin("predict.py", "-m", tmp / "run1", "-m", tmp / "run2", "--export-onnx", tmp / "x.onnx")
    assert one.returncode == 1 and "take one run" in one.stderr


def test_members_of_other_tasks_are_refused(two_taggers, tmp_path):
    tmp = two_taggers
    config = tiny_config(tmp_path, epochs=1)
    config["task"] = {"type": "regression", "loss": "huber", "labels": None}
    train(validate_config(config), tmp_path / "jec", progress=False)
    data = write_fake(tmp_path / "new.root", 40, seed=11)
    from gnnjet.runs.ensemble import run_ensemble

    with pytest.raises(GnnjetError, match="writes other columns than"):
        run_ensemble([tmp / "run1", tmp_path / "jec"], [str(data)], progress=False).columns()
    with pytest.raises(GnnjetError, match="an ensemble needs two runs or more"):
        run_ensemble([tmp / "run1"], [str(data)])


def test_members_that_read_other_jets_are_refused(two_taggers):
    from gnnjet.runs.ensemble import EnsemblePrediction
    from gnnjet.runs.prediction import run_model

    tmp = two_taggers
    data = [str(write_fake(tmp / "sel.root", 60, seed=12))]
    members = [run_model(tmp / "run1", data, progress=False), run_model(tmp / "run2", data, selection="pt > 100",
                                                                       progress=False)]
    with pytest.raises(GnnjetError, match=r"differ in 'entry': the members read different jets"):
        EnsemblePrediction(members, [tmp / "run1", tmp / "run2"]).columns()
