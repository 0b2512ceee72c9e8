"""`Run` and the Python API: a run's predictions on an in-memory awkward Array (or dict of arrays) equal
bin/predict.py's on the same jets written to a file, row by row; training from a dict; the run's files."""

import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot

import gnnjet
from gnnjet.errors import DataError, GnnjetError
from gnnjet.runs import layout
from tests.cli import run_bin
from tests.conftest import write_fake
from tests.training.test_trainer import ENV, tiny_config


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny tagger trained through the API from a config dict."""
    tmp = tmp_path_factory.mktemp("api")
    config = tiny_config(tmp, epochs=1)
    files = config["data"].pop("train")
    return gnnjet.train(config, inputs=files, output=tmp / "run", progress=False)


@pytest.fixture(scope="module")
def regressor(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api_reg")
    config = tiny_config(tmp, epochs=1)
    config["task"] = {"type": "regression", "loss": "quantile", "labels": None, "target_abs_max": 1.0}
    config["data"]["observers"] = ["pt", "eta", "pt_gen", "eta_gen"]
    return gnnjet.train(config, output=tmp / "run", progress=False)


def file_predictions(run, path, out, *extra):
    result = run_bin("predict.py", "-m", run.path, "-i", path, "-o", out, *extra)
    assert result.returncode == 0, result.stderr
    return uproot.open(out)["Jets"].arrays(library="np")


def assert_same_rows(in_memory, from_file):
    assert list(in_memory) == list(from_file)
    for name in from_file:
        np.testing.assert_array_equal(np.asarray(in_memory[name]), from_file[name], err_msg=name)


@pytest.mark.parametrize("which", ["classifier", "regressor"])
def test_an_awkward_array_predicts_as_the_same_jets_in_a_file(which, request, tmp_path):
    run = request.getfixturevalue(which)
    path = write_fake(tmp_path / "jets.root", 90, seed=7)
    jets = uproot.open(path)["Jets"].arrays()  # what uproot (or a coffea processor) holds
    expected = file_predictions(run, path, tmp_path / "pred.root")
    predicted = run.predict(jets)
    assert isinstance(predicted, ak.Array) and len(predicted) == 90
    assert_same_rows({name: ak.to_numpy(predicted[name]) for name in predicted.fields}, expected)
    if which == "regressor":
        assert {"pt_corr", "pt_corr_q16", "pt_corr_q84", "pt_corr_sigma"} <= set(predicted.fields)


def test_a_dict_and_nested_collections_give_the_same_rows(classifier, tmp_path):
    path = write_fake(tmp_path / "jets.root", 60, seed=3)
    flat = uproot.open(path)["Jets"].arrays()
    expected = classifier.predict(flat)
    as_dict = {name: flat[name] for name in flat.fields}
    from_dict = classifier.predict(as_dict)
    assert isinstance(from_dict, dict)
    assert_same_rows(from_dict, {name: ak.to_numpy(expected[name]) for name in expected.fields})
    # collections as lists of records (jets.ch.pt), as NanoAOD-style arrays hold them
    jet_level = [name for name in flat.fields if not name.startswith(("ch_", "ne_", "sv_", "nch", "nne", "nsv"))]
    nested = {name: flat[name] for name in jet_level}
    for collection in ("ch", "ne", "sv"):
        fields = [f for f in flat.fields if f.startswith(f"{collection}_")]
        nested[collection] = ak.zip({f.removeprefix(f"{collection}_"): flat[f] for f in fields})
    from_nested = classifier.predict(ak.zip(nested, depth_limit=1))
    np.testing.assert_array_equal(ak.to_numpy(from_nested["score_label_q"]), ak.to_numpy(expected["score_label_q"]))


def test_in_memory_selection_rows_and_a_missing_field(classifier, tmp_path):
    jets = uproot.open(write_fake(tmp_path / "jets.root", 80, seed=5))["Jets"].arrays()
    selected = classifier.predict(jets, selection="pt > 150")
    expected_rows = np.flatnonzero(ak.to_numpy(jets.pt) > 150)
    np.testing.assert_array_equal(ak.to_numpy(selected.entry), expected_rows)
    np.testing.assert_allclose(ak.to_numpy(selected.pt), ak.to_numpy(jets.pt)[expected_rows], rtol=1e-6)
    with pytest.raises(DataError, match="in-memory jets: field 'ch_dxy' .* is missing"):
        classifier.predict(jets[[f for f in jets.fields if f != "ch_dxy"]])
    with pytest.raises(DataError, match="expected an awkward Array of jet records or a dict of arrays"):
        classifier.predict(ak.Array([1.0, 2.0]))
    with pytest.raises(DataError, match="different numbers of jets"):
        classifier.predict({"pt": np.ones(3), "eta": np.ones(4)})


def test_a_run_names_its_files_and_refuses_what_is_not_one(classifier, tmp_path):
    names = {path.name for path in classifier.files()}
    assert {layout.CONFIG, layout.PREPROCESS, layout.BEST, layout.LAST, layout.METRICS, layout.TRAIN_LOG} <= names
    assert classifier.config["model"]["name"] == "deepsets"
    assert gnnjet.load_run(classifier.path).load().task.out_dim == 2
    with pytest.raises(GnnjetError, match="does not exist"):
        gnnjet.load_run(tmp_path / "none")
    with pytest.raises(GnnjetError, match="is not a run directory: it has no config.yaml"):
        gnnjet.load_run(tmp_path)


def test_the_api_functions_and_a_light_import():
    assert callable(gnnjet.train) and callable(gnnjet.load_run) and callable(gnnjet.validate_config)
    assert set(gnnjet.__all__) == {"Ensemble", "Run", "load_ensemble", "load_run", "train", "validate_config"}
    code = "import sys, gnnjet, gnnjet.config; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def test_validate_config_takes_a_dict_or_a_path(tmp_path):
    import yaml

    from tests.conftest import BASE_CONFIG

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(BASE_CONFIG))
    from_file, from_dict = gnnjet.validate_config(tmp_path / "c.yaml"), gnnjet.validate_config(BASE_CONFIG)
    assert from_file == from_dict and from_dict["training"]["batch_size"] == 512
    with pytest.raises(gnnjet.errors.ConfigError, match="data.node_typs: unknown key"):
        gnnjet.validate_config({**BASE_CONFIG, "data": {"node_typs": {}}})


def test_the_readme_api_example_runs(tmp_path, monkeypatch):
    """The Python block of the README's API section, on the shipped q/g sample (one epoch, a temporary run)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text().split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    code = text.replace('"runs/qg_api"', repr(str(tmp_path / "qg_api"))).replace('["epochs"] = 2', '["epochs"] = 1')
    monkeypatch.chdir(root)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    scores, jets = namespace["scores"], namespace["jets"]
    assert len(scores) == len(jets) and {"score_label_q", "score_label_g", "entry", "valid"} <= set(scores.fields)
    assert (tmp_path / "qg_api" / "best.pt").exists()
