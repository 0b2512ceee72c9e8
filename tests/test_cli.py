"""User mistakes through the command line: each is one `error:` line and exit code 1, before any data is read
(no traceback, no cache entry, no run directory)."""

import shutil

import pytest
import yaml

from gnnjet.train.trainer import train
from tests.cli import run_bin
from tests.conftest import BASE_CONFIG, write_fake
from tests.data.test_preprocess import DAMAGES
from tests.train.test_trainer import tiny_config


def run_script(script, *args):
    return run_bin(script, *args)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("model, task, fragments", [
    ({"name": "transformer", "preset": "small", "heads": 5}, None,
     ["model.heads", "embed_dims[-1]=64 must be divisible by heads=5"]),
    ({"name": "gat", "preset": "small", "heads": 3}, None, ["model.heads", "divisible by heads=3"]),
    ({"name": "mipart", "preset": "small", "pair_dims": [16, 16, 24]}, None, ["model.pair_dims"]),
    ({"name": "particlenet", "preset": "weaver", "embed_dim": 16}, None, ["model.embed_dim", "layout 'weaver'"]),
    (None, {"type": "regression", "loss": "cross_entropy"}, ["task.loss", "'cross_entropy' is not a regression loss",
                                                              "huber, l1, mse, logcosh"]),
    (None, {"type": "classification", "labels": ["label_q", "label_g"], "loss": "huber"},
     ["task.loss", "'huber' is not a classification loss", "cross_entropy"]),
])
def test_config_mistakes_stop_train_before_any_work(tmp_path, model, task, fragments):
    config = {**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "train": [str(write_fake(tmp_path / "t.root", 50))],
                                      "cache_dir": str(tmp_path / "cache")},
              "model": model or BASE_CONFIG["model"], "task": task or BASE_CONFIG["task"]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run")
    assert_one_line_error(result, str(tmp_path / "c.yaml"), *fragments)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    train(tiny_config(tmp, num_jets=120, epochs=1), tmp / "run", progress=False)
    return tmp / "run"


CLI_DAMAGES = ("truncated", "nested", "foreign", "zero scale", "10**400 scale")


@pytest.mark.parametrize("damage", CLI_DAMAGES)
def test_damaged_preprocessing_is_one_line_in_predict_and_resume(trained_run, tmp_path, damage):
    """A damaged, foreign or out-of-range preprocess.json stops predict and resume with one line naming the file
    (every variant: tests/data/test_preprocess.py; fine-tuning reads it through the same `Preprocessing.load`)."""
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    path = run / "preprocess.json"
    path.write_text(DAMAGES[damage][0](path.read_text()))
    data = write_fake(tmp_path / "new.root", 30, seed=3)
    predicted = run_script("predict.py", "-m", run, "-i", data, "-o", tmp_path / "pred.root")
    assert_one_line_error(predicted, str(path), "not usable as the preprocessing of this model's features")
    assert not (tmp_path / "pred.root").exists()
    resumed = run_script("train.py", "-o", run, "--resume", "--epochs", "2")
    assert_one_line_error(resumed, str(path), "not usable as the preprocessing")


@pytest.mark.parametrize("case", ["directory", "binary"])
def test_a_config_that_is_not_a_yaml_file(tmp_path, case):
    config = tmp_path / "c.yaml"
    if case == "directory":
        config.mkdir()
    else:
        config.write_bytes(bytes(range(256)) * 4)
    result = run_script("train.py", "-c", config, "-o", tmp_path / "run")
    assert_one_line_error(result, str(config), "is a directory" if case == "directory" else "is not a text file")


def test_a_symlink_loop_among_the_inputs(tmp_path):
    (tmp_path / "data").mkdir()
    write_fake(tmp_path / "data" / "good.root", 40)
    (tmp_path / "data" / "loop.root").symlink_to(tmp_path / "data" / "loop.root")
    config = {**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "cache_dir": str(tmp_path / "cache")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-i", str(tmp_path / "data" / "*.root"), "-o",
                        tmp_path / "run")
    assert_one_line_error(result, "loop.root", "Too many levels of symbolic links")


@pytest.mark.parametrize("case, message", [
    ("per-jet ch_eta", "column 'ch_eta' (needed by data.node_types.charged.eta) has one value per jet"),
    ("text labels", "column 'label_q' (needed by task.labels[0]) holds string, not numbers"),
    ("text feature", "column 'eta' (needed by data.jet_axis.eta) holds string, not numbers"),
])
def test_parquet_columns_of_the_wrong_shape_or_type(tmp_path, case, message):
    import awkward as ak
    import numpy as np

    from gnnjet.data.writer import write_jets
    from tests.conftest import fake_jets

    jets = fake_jets(40)
    if case == "per-jet ch_eta":
        jets["ch"] = ak.zip({f: jets["ch"][f] for f in jets["ch"].fields if f != "eta"})
        jets["ch_eta"] = np.asarray(jets["eta"])
    elif case == "text labels":
        jets["label_q"] = np.where(np.asarray(jets["label_q"]) == 1, "yes", "no")
    else:
        jets["eta"] = np.asarray(jets["eta"]).astype(str)
    write_jets(tmp_path / "jets.parquet", jets)
    config = {**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "cache_dir": str(tmp_path / "cache")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-i", tmp_path / "jets.parquet", "-o", tmp_path / "run")
    assert_one_line_error(result, str(tmp_path / "jets.parquet"), message)
    assert len(result.stderr) < 2000


def test_set_overrides_any_key_and_the_run_records_it(tmp_path):
    config = {**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "train": [str(write_fake(tmp_path / "t.root", 120))],
                                      "cache_dir": str(tmp_path / "cache")},
              "training": {"epochs": 1, "batch_size": 32}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run", "--set", "training.lr=0.02",
                        "--set", "model.phi=[16, 24]", "--set", "data.node_types.charged.max_nodes=5")
    assert result.returncode == 0, result.stderr
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["training"]["lr"] == 0.02 and recorded["model"]["phi"] == [16, 24]
    assert recorded["data"]["node_types"]["charged"]["max_nodes"] == 5


@pytest.mark.parametrize("assignment, fragments", [
    ("training.lrr=1", ["--set training.lrr: unknown key 'training.lrr'; did you mean 'training.lr'?"]),
    ("data.node_typs.charged.max_nodes=3", ["unknown key 'data.node_typs'; did you mean 'data.node_types'?"]),
    ("training.lr", ["give KEY=VALUE"]),
    ("training.lr=[1", ["the value '[1': not valid YAML: line 1, column 3"]),
    ("training.epochs=many", ["--set: training.epochs: expected a positive integer, got 'many'"]),
    ("model.heads=3", ["--set: model.heads", "divisible by heads=3"]),
])
def test_a_bad_set_is_one_line_before_any_work(tmp_path, assignment, fragments):
    config = {**BASE_CONFIG, "model": {"name": "transformer", "preset": "small"},
              "data": {**BASE_CONFIG["data"], "train": [str(write_fake(tmp_path / "t.root", 20))],
                       "cache_dir": str(tmp_path / "cache")}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run", "--set", assignment)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_predict_sets_only_keys_that_leave_the_model_alone(trained_run, tmp_path):
    import uproot

    data = write_fake(tmp_path / "new.root", 30, seed=3)
    result = run_script("predict.py", "-m", trained_run, "-i", data, "-o", tmp_path / "pred.root", "--set",
                        "data.observers=[pt, eta, mass]")
    assert result.returncode == 0, result.stderr
    assert "mass" in uproot.open(tmp_path / "pred.root")["Jets"].keys()
    refused = run_script("predict.py", "-m", trained_run, "-i", data, "-o", tmp_path / "other.root", "--set",
                         "model.phi=[8]")
    assert_one_line_error(refused, "--set model.phi: only data.test_selection, data.observers")
