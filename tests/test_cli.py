"""User mistakes through the command line: each is one `error:` line and exit code 1, before any data is read
(no traceback, no cache entry, no run directory)."""

import shutil

import pytest
import yaml

from gnnjet.training.trainer import train
from tests.cli import run_bin
from tests.conftest import BASE_CONFIG, write_fake
from tests.data.test_preprocess import DAMAGES
from tests.training.test_trainer import tiny_config


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


def test_a_truncated_root_file_fails_in_one_line_and_overwrite_gives_the_old_run_back(trained_run, tmp_path):
    good = write_fake(tmp_path / "good.root", 120)
    full = write_fake(tmp_path / "full.root", 400, seed=3)
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # the header is fine, baskets are cut
    config = tiny_config(tmp_path, epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = (run / "best.pt").read_bytes()
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-i", good, truncated, "-o", run, "--overwrite")
    assert_one_line_error(result, "cannot read ROOT file", str(truncated), "bytes from FSSpecSource")
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")  # uproot's text was three lines
    assert (run / "best.pt").read_bytes() == before


def test_a_jagged_branch_where_a_per_jet_label_is_expected(tmp_path):
    import awkward as ak
    import numpy as np

    jagged = ak.unflatten(np.ones(100, np.int32), np.full(50, 2))
    config = tiny_config(tmp_path, epochs=1)
    config["data"]["train"] = [str(write_fake(tmp_path / "jagged.root", 50, label_q=jagged))]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = run_script("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run")
    assert_one_line_error(result, "jagged.root", "branch 'label_q' (task.labels) is not one number per jet")


def test_converter_inputs_that_fail_while_read(tmp_path):
    import zipfile

    import h5py

    from tests.convert.test_converters import write_top_landscape

    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        archive.writestr("X.npy", b"not an npy file")
        archive.writestr("y.npy", b"nor this")
    result = run_script("convert.py", "--from", "energyflow-qg", "-i", tmp_path / "bad.npz", "-o", tmp_path / "a")
    assert_one_line_error(result, "bad.npz: X.npy in the .npz file is not an npy array")
    write_top_landscape(tmp_path / "cut.h5", 4)
    with h5py.File(tmp_path / "cut.h5", "a") as file:  # fewer value columns than the 4 x 200 named
        values = file["table/block0_values"][:, :400]
        del file["table/block0_values"]
        file["table/block0_values"] = values
    result = run_script("convert.py", "--from", "top-landscape", "-i", tmp_path / "cut.h5", "-o", tmp_path / "b")
    assert_one_line_error(result, "block0_items names 800 columns but block0_values has shape (4, 400)")
    result = run_script("convert.py", "--from", "top-landscape", "-i", tmp_path / "cut.h5", "-o", tmp_path / "c",
                        "--chunk-size", "0")
    assert result.returncode == 2 and "argument --chunk-size" in result.stderr


def test_an_empty_predictions_file_is_one_line_in_plot(tmp_path):
    import numpy as np

    from gnnjet.data.writer import write_jets

    write_jets(tmp_path / "empty.root", {"score_label_q": np.zeros(0, np.float32), "label_q": np.zeros(0, np.int32),
                                         "pt": np.zeros(0, np.float32), "eta": np.zeros(0, np.float32)},
               notes={"task": "classification", "selection": "none"})
    result = run_script("plot.py", "-i", tmp_path / "empty.root", "-o", tmp_path / "figures")
    assert_one_line_error(result, "empty.root: no predicted jets")


@pytest.mark.parametrize("script, args", [
    ("train.py", ["-c", "CONFIG", "-o", "FILE"]),
    ("train.py", ["-c", "CONFIG", "-o", "FILE/run"]),
    ("predict.py", ["-m", "RUN", "-i", "DATA", "-o", "FILE/pred.root"]),
    ("plot.py", ["-i", "RUN", "-o", "FILE"]),
    ("visualize_data.py", ["-i", "DATA", "-c", "CONFIG", "-o", "FILE"]),
    ("generate.py", ["--process", "qg", "-n", "4", "-o", "FILE"]),
    ("standard_correction.py", ["-t", "DATA", "-i", "DATA", "-o", "FILE"]),
    ("compactness.py", ["-i", "DATA", "-o", "FILE"]),
])
def test_an_output_directory_that_is_a_file_is_one_line(trained_run, tmp_path, script, args):
    import awkward as ak
    import numpy as np

    from gnnjet.data.writer import write_jets
    from gnnjet.predict import predict

    (tmp_path / "file").write_text("a file")
    data = write_fake(tmp_path / "data.root", 60)
    if script == "compactness.py":
        write_jets(data, {"hit_charge": ak.Array([[1.0, 2.0]] * 3), "hit_deltar": ak.Array([[1.0, 50.0]] * 3),
                          "label_gamma": np.ones(3, np.int32), "label_proton": np.zeros(3, np.int32)})
    if script == "plot.py":
        predict(trained_run, [str(data)], trained_run / "pred.root", progress=False, overwrite=True)
    config = tiny_config(tmp_path, epochs=1)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    values = {"CONFIG": tmp_path / "c.yaml", "RUN": trained_run, "DATA": data}
    argv = [str(values.get(a, a)).replace("FILE", str(tmp_path / "file")) for a in args]
    result = run_script(script, *argv)
    assert_one_line_error(result, "is not a directory (it is a file)")
    assert (tmp_path / "file").read_text() == "a file"
