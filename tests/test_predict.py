"""bin/predict.py and gnnjet.predict: output schema, reuse of preprocessing, bad input."""

import shutil
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import torch
import uproot

from gnnjet.config import validate_config
from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from gnnjet.predict import predict
from gnnjet.runs.model import load_trained
from gnnjet.training.trainer import train
from tests.cli import run_bin
from tests.conftest import fake_jets, write_fake
from tests.training.test_trainer import ENV, ROOT, tiny_config


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cls")
    train(tiny_config(tmp, epochs=1), tmp / "run", progress=False)
    return tmp / "run"


@pytest.fixture(scope="module")
def regressor(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reg")
    config = tiny_config(tmp, epochs=1)
    config["task"] = {"type": "regression", "target": "log(pt_gen / pt)", "loss": "l1", "labels": None,
                      "target_abs_max": 1.0}
    train(validate_config(config), tmp / "run", progress=False)
    return tmp / "run"


def test_classification_predictions(classifier, tmp_path):
    path = write_fake(tmp_path / "new.root", 120, seed=7)
    assert predict(classifier, [str(path)], tmp_path / "pred.root", progress=False) == 120
    out = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    assert {"score_label_q", "score_label_g", "label_q", "label_g", "pt", "eta", "pt_gen", "hadron_flavor"} <= set(out)
    np.testing.assert_allclose(out["score_label_q"] + out["score_label_g"], 1.0, rtol=1e-5)
    raw = fake_jets(120, seed=7)
    np.testing.assert_array_equal(out["label_q"], raw["label_q"])
    np.testing.assert_allclose(out["pt"], raw["pt"], rtol=1e-6)


def test_regression_predictions(regressor, tmp_path):
    path = write_fake(tmp_path / "new.root", 80, seed=8)
    predict(regressor, [str(path)], tmp_path / "pred.root", progress=False)
    out = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    np.testing.assert_allclose(out["pt_corr"], out["pt"] * np.exp(out["pred"]), rtol=1e-5)
    assert "target" in out and len(out["pred"]) == 80


def test_prediction_does_not_refit(classifier, tmp_path):
    """On jets of another distribution (charged pt x 5) the scores are those of the saved preprocessing, not of a
    preprocessing fitted to the new jets (which would differ)."""
    from gnnjet.data.dataset import JetDataset
    from gnnjet.data.preprocess import Preprocessing
    from gnnjet.runs.inference import evaluate

    saved = (classifier / "preprocess.json").read_text()
    raw = fake_jets(150, seed=11)
    raw["ch"] = ak.zip({**{f: raw["ch"][f] for f in raw["ch"].fields}, "pt": raw["ch"].pt * 5})
    shifted = write_fake(tmp_path / "shifted.root", 150, seed=11, ch=raw["ch"])
    predict(classifier, [str(shifted)], tmp_path / "pred.root", progress=False)
    scores = uproot.open(tmp_path / "pred.root")["Jets"]["score_label_q"].array(library="np")
    assert (classifier / "preprocess.json").read_text() == saved

    trained = load_trained(classifier)

    def scores_with(preprocessing):
        dataset = JetDataset.from_files(trained.spec, [str(shifted)], preprocessing, cache_root=tmp_path / "cache",
                                        progress=False)
        outputs, _ = evaluate(trained.model, dataset, np.arange(len(dataset)), 64, torch.device("cpu"))
        return torch.softmax(torch.from_numpy(outputs), dim=1)[:, 0].numpy()

    refit = Preprocessing.fit(trained.spec, JetDataset.from_files(
        trained.spec, [str(shifted)], trained.preprocessing, cache_root=tmp_path / "cache", progress=False).store)
    assert refit.to_json() != trained.preprocessing.to_json()
    np.testing.assert_allclose(scores, scores_with(trained.preprocessing), atol=1e-6)
    assert not np.allclose(scores, scores_with(refit), atol=1e-3)


def test_missing_feature_branch_is_named(classifier, tmp_path):
    raw = fake_jets(30)
    ch = ak.zip({f: raw["ch"][f] for f in raw["ch"].fields if f != "dxy"})
    path = write_fake(tmp_path / "old_schema.root", 30, ch=ch)
    with pytest.raises(DataError, match=r"old_schema\.root: branch 'ch_dxy' \(needed by "
                                        r"data\.node_types\.charged\.features\[5\]\)"):
        predict(classifier, [str(path)], tmp_path / "pred.root", progress=False)
    assert not (tmp_path / "pred.root").exists()


def test_cli(classifier, tmp_path):
    path = write_fake(tmp_path / "new.root", 50, seed=9)
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "predict.py"), "-m", str(classifier), "-i", str(path),
                             "-o", str(tmp_path / "p.root")], env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert uproot.open(tmp_path / "p.root")["Jets"].num_entries == 50


def test_zero_jets_give_an_empty_predictions_tree(classifier, tmp_path):
    path = write_fake(tmp_path / "some.root", 20)
    jets = uproot.open(path)["Jets"].arrays()
    write_jets(tmp_path / "empty.root", {name: jets[name][:0] for name in jets.fields})
    assert predict(classifier, [str(tmp_path / "empty.root")], tmp_path / "pred.root", progress=False) == 0
    tree = uproot.open(tmp_path / "pred.root")["Jets"]
    assert tree.num_entries == 0 and {"score_label_q", "score_label_g", "label_q", "pt"} <= set(tree.keys())


@pytest.mark.skipif(torch.cuda.device_count() > 3, reason="this machine has a cuda:3")
@pytest.mark.parametrize("device, message", [("cuda:3", "not available"), ("gpu", "not a device"),
                                             ("meta", "only cpu and cuda"), ("cpu:1", "the CPU has no index")])
def test_unavailable_device_is_refused_before_any_work(classifier, tmp_path, device, message):
    result = run_bin("predict.py", "-m", classifier, "-i", tmp_path / "never_read.root", "-o", tmp_path / "p.root",
                     "--device", device)
    assert result.returncode == 1 and f"--device {device}: {message}" in result.stderr, result.stderr


def test_inference_imports_nothing_of_training():
    """Predicting and exporting load neither the trainer nor TensorBoard (the layering: predict uses the run
    directory and the inference loop only)."""
    code = ("import sys, gnnjet.predict, gnnjet.export, gnnjet.test_set, gnnjet.runs.run; "
            "print([m for m in sys.modules if m.startswith(('gnnjet.training', 'torch.utils.tensorboard'))])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def predict_cli(classifier, inputs, output, *extra):
    return run_bin("predict.py", "-m", classifier, "-i", *inputs, "-o", output, *extra)


@pytest.mark.parametrize("target", ["best.pt", "config.yaml", "preprocess.json", "input"])
def test_an_output_that_is_an_input_or_a_model_file_is_refused(classifier, tmp_path, target):
    import hashlib

    data = write_fake(tmp_path / "new.root", 20, seed=4)
    output = data if target == "input" else classifier / target
    before = hashlib.sha256(output.read_bytes()).hexdigest()
    for extra in ([], ["--overwrite"]):
        result = predict_cli(classifier, [tmp_path / "*.root"], output, *extra)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert ("is one of the input files" if target == "input" else "a file of the model") in result.stderr
        assert hashlib.sha256(output.read_bytes()).hexdigest() == before


def test_an_existing_predictions_file_needs_overwrite(classifier, tmp_path):
    data = write_fake(tmp_path / "new.root", 20, seed=4)
    (tmp_path / "pred.root").write_bytes(b"an earlier result")
    refused = predict_cli(classifier, [data], tmp_path / "pred.root")
    assert refused.returncode == 1 and "pred.root already exists: pass --overwrite" in refused.stderr
    assert (tmp_path / "pred.root").read_bytes() == b"an earlier result"
    directory = predict_cli(classifier, [data], tmp_path)
    assert directory.returncode == 1 and "is a directory" in directory.stderr and "Traceback" not in directory.stderr
    replaced = predict_cli(classifier, [data], tmp_path / "pred.root", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert uproot.open(tmp_path / "pred.root")["Jets"].num_entries == 20


def jets_with_gaps(path, num_jets, empty, unlabelled, seed=0):
    """A fake ntuple whose jets `empty` have no constituents and `unlabelled` no label (both dropped by the
    reader)."""
    raw = fake_jets(num_jets, seed=seed)
    for name in ("ch", "ne", "sv"):
        counts = ak.to_numpy(ak.num(raw[name].pt)).copy()
        keep = ~np.isin(np.repeat(np.arange(num_jets), counts), empty)
        counts[empty] = 0
        raw[name] = ak.unflatten(ak.flatten(raw[name])[keep], counts)
    for label in ("label_q", "label_g"):
        raw[label] = np.asarray(raw[label]).copy()
        raw[label][unlabelled] = 0
    return write_fake(path, num_jets, seed=seed, **{k: raw[k] for k in ("ch", "ne", "sv", "label_q", "label_g")})


def test_predictions_line_up_with_their_input_row_for_row(classifier, tmp_path):
    """One row per input jet in input order, across files, with `entry`, `valid` = 0 and NaN scores for the jets
    the reader dropped, on a cold and on a warm cache alike; the selection applied is written beside the tree."""
    first = jets_with_gaps(tmp_path / "a.root", 30, empty=[4, 7], unlabelled=[12])
    second = jets_with_gaps(tmp_path / "b.root", 25, empty=[0], unlabelled=[], seed=5)
    raw_pt = np.concatenate([uproot.open(f)["Jets"]["pt"].array(library="np") for f in (first, second)])
    for attempt in ("cold", "warm"):
        output = tmp_path / f"{attempt}.root"
        result = predict_cli(classifier, [first, second], output)
        assert result.returncode == 0, result.stderr
        file = uproot.open(output)
        out = file["Jets"].arrays(library="np")
        assert str(file["selection"]) == "none"
        np.testing.assert_array_equal(out["entry"], np.arange(55))
        dropped = np.isin(np.arange(55), [4, 7, 12, 30])
        np.testing.assert_array_equal(out["valid"], (~dropped).astype(np.int8))
        assert np.isnan(out["score_label_q"][dropped]).all() and np.isfinite(out["score_label_q"][~dropped]).all()
        np.testing.assert_allclose(out["pt"][~dropped], raw_pt[~dropped], rtol=1e-6)  # aligned row for row
    assert "4 selected jets were dropped by the reader" in result.stderr


@pytest.fixture(scope="module")
def selected_classifier(tmp_path_factory):
    """A classifier trained on jets with pt > 150 GeV."""
    tmp = tmp_path_factory.mktemp("selected")
    config = tiny_config(tmp, epochs=1)
    config["data"]["selection"] = "pt > 150"
    train(validate_config(config), tmp / "run", progress=False)
    return tmp / "run"


def test_with_a_selection_rows_are_the_selected_jets_and_the_file_says_so(selected_classifier, tmp_path):
    data = jets_with_gaps(tmp_path / "new.root", 40, empty=[3], unlabelled=[], seed=9)
    predict(selected_classifier, [str(data)], tmp_path / "pred.root", progress=False)
    pt = uproot.open(data)["Jets"]["pt"].array(library="np")
    file = uproot.open(tmp_path / "pred.root")
    out = file["Jets"].arrays(library="np")
    assert str(file["selection"]) == "pt > 150"
    np.testing.assert_array_equal(out["entry"], np.flatnonzero(pt > 150))
    assert pt[3] > 150  # the empty jet is selected: its row is there, not predicted
    np.testing.assert_array_equal(out["valid"] == 0, out["entry"] == 3)


def test_parquet_predictions_equal_the_root_ones(classifier, tmp_path):
    import awkward as ak
    import pyarrow.parquet as pq

    data = jets_with_gaps(tmp_path / "new.root", 30, empty=[2], unlabelled=[])
    for output in ("pred.root", "pred.parquet"):
        result = predict_cli(classifier, [data], tmp_path / output)
        assert result.returncode == 0, result.stderr
    root = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    parquet = ak.from_parquet(tmp_path / "pred.parquet")
    assert list(root) == parquet.fields
    for name in root:
        np.testing.assert_array_equal(ak.to_numpy(parquet[name]), root[name], err_msg=name)
    assert pq.ParquetFile(tmp_path / "pred.parquet").schema_arrow.metadata[b"selection"] == b"none"
    other = predict_cli(classifier, [data], tmp_path / "pred.csv")
    assert other.returncode == 1 and "the output format follows the suffix; use .root, .parquet, .pq" in other.stderr


@pytest.mark.parametrize("how, expected", [
    ((), "pt > 150"), (("--no-selection",), "none"), (("--selection", "pt < 120"), "pt < 120"),
    ("test_selection", "pt > 60")])
def test_the_selection_of_predictions_can_differ_from_the_training_one(selected_classifier, tmp_path, how,
                                                                        expected):
    """data.selection by default, data.test_selection when the config sets it, --selection EXPR or
    --no-selection on the command line; the file records which."""
    model = selected_classifier
    if how == "test_selection":
        model = tmp_path / "model"
        shutil.copytree(selected_classifier, model)
        state = torch.load(model / "best.pt", weights_only=True)
        state["config"]["data"]["test_selection"] = "pt > 60"
        torch.save(state, model / "best.pt")
        how = ()
    data = write_fake(tmp_path / "new.root", 50, seed=12)
    result = predict_cli(model, [data], tmp_path / "pred.root", *how)
    assert result.returncode == 0, result.stderr
    file = uproot.open(tmp_path / "pred.root")
    pt = uproot.open(data)["Jets"]["pt"].array(library="np")
    rows = {"none": np.ones(50, bool), "pt > 150": pt > 150, "pt < 120": pt < 120, "pt > 60": pt > 60}[expected]
    assert str(file["selection"]) == expected
    np.testing.assert_array_equal(file["Jets"]["entry"].array(library="np"), np.flatnonzero(rows))


def test_a_selection_that_does_not_parse_is_one_line_before_any_work(selected_classifier, tmp_path):
    data = write_fake(tmp_path / "new.root", 20)
    result = predict_cli(selected_classifier, [data], tmp_path / "pred.root", "--selection", "pt >")
    assert result.returncode == 1 and "Traceback" not in result.stderr and "--selection" in result.stderr
    assert not (tmp_path / "pred.root").exists()


@pytest.mark.parametrize("target", ["best.pt", "config.yaml", "input", "existing", "predictions"])
@pytest.mark.parametrize("option", ["--export-onnx", "--export-weaver"])
def test_an_export_never_lands_on_the_run_an_input_or_an_earlier_file(classifier, tmp_path, target, option):
    """The exports follow the predictions file's output rules, checked before any work (they wrote over best.pt
    and over their own input with rc 0)."""
    import hashlib

    data = write_fake(tmp_path / "new.root", 20, seed=4)
    existing = tmp_path / "earlier.onnx"
    existing.write_bytes(b"an earlier export")
    output = {"best.pt": classifier / "best.pt", "config.yaml": classifier / "config.yaml", "input": data,
              "existing": existing, "predictions": tmp_path / "pred.root"}[target]
    before = hashlib.sha256(output.read_bytes()).hexdigest() if output.exists() else None
    message = {"best.pt": "a file of the model", "config.yaml": "a file of the model",
               "input": "one of the input files", "existing": "already exists: pass --overwrite",
               "predictions": "are both"}[target]
    result = run_bin("predict.py", "-m", classifier, "-i", data, "-o", tmp_path / "pred.root", option, output)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "pred.root").exists()  # refused before the predictions were written
    if target != "existing":
        again = run_bin("predict.py", "-m", classifier, "-i", data, "-o", tmp_path / "pred.root", option, output,
                        "--overwrite")
        assert again.returncode == 1 and message in again.stderr
    after = hashlib.sha256(output.read_bytes()).hexdigest() if output.exists() else None
    assert after == before


def test_a_best_pt_copied_from_a_run_with_other_features_is_refused(classifier, tmp_path):
    """The checkpoint's embedded config used to win over the run's config.yaml: the copy predicted with rc 0."""
    config = tiny_config(tmp_path, epochs=1)
    config["data"]["node_types"]["charged"]["features"][1]["expr"] = "ch_dxy"  # other features, same widths
    train(validate_config(config), tmp_path / "other", progress=False)
    swapped = tmp_path / "swapped"
    shutil.copytree(classifier, swapped)
    shutil.copy(tmp_path / "other" / "best.pt", swapped / "best.pt")
    data = write_fake(tmp_path / "new.root", 20, seed=4)
    result = predict_cli(swapped, [data], tmp_path / "pred.root")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "was not written by the run of" in result.stderr
    assert "data.node_types.charged.features" in result.stderr and not (tmp_path / "pred.root").exists()


@pytest.mark.parametrize("content, message", [
    ("tensor", "holds a Tensor, not a gnnjet checkpoint"),
    ("state_dict", "without a 'model' state dict"),
    ("model_not_a_state_dict", "without a 'model' state dict"),
    ("no_config", "has no 'config' of the run"),
])
def test_a_checkpoint_of_another_kind_is_one_line(classifier, tmp_path, content, message):
    run = tmp_path / "run"
    shutil.copytree(classifier, run)
    state = torch.load(classifier / "best.pt", weights_only=True)
    torch.save({"tensor": torch.zeros(3), "state_dict": state["model"],
                "model_not_a_state_dict": {**state, "model": [1, 2]},
                "no_config": {"model": state["model"]}}[content], run / "best.pt")
    result = predict_cli(run, [write_fake(tmp_path / "new.root", 20, seed=4)], tmp_path / "pred.root")
    assert result.returncode == 1 and "Traceback" not in result.stderr and message in result.stderr
    assert "best.pt" in result.stderr
