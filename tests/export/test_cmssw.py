"""CMSSW's ONNX convention: dense per-type float inputs, probabilities or regression quantities out, weaver's
preprocessing JSON; evaluated as CMSSW does (one jet at a time, padded to the JSON's lengths, inputs rebuilt from
the raw variables with the JSON's var_infos)."""

import copy
import json

import numpy as np
import pytest
import torch

from gnnjet._optional import WITH_ONNX
from gnnjet.errors import GnnjetError
from gnnjet.export.cmssw import (
    ClassifierOutputs,
    DenseLayout,
    NodeGroup,
    RegressionOutputs,
    dense_inputs,
    export_dense,
)
from gnnjet.nn.registry import build_model
from gnnjet.tasks.classification import Classification
from gnnjet.tasks.regression import Regression
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, make_jet

pytestmark = pytest.mark.skipif(not WITH_ONNX, reason="onnx, onnxscript and onnxruntime are needed")

# three node types sharing some of the six columns of x, as a config's features do
LAYOUT = DenseLayout((NodeGroup("ch", 0, ("a", "b", "c", "d"), (0, 1, 2, 3), 128),
                      NodeGroup("ne", 1, ("a", "b", "e"), (0, 1, 4), 128),
                      NodeGroup("sv", 2, ("c", "f"), (2, 5), 128)), NUM_FEATURES, ("deta", "dphi"), ("j0", "j1"))


def layout_batch(sizes, generator):
    """Jets of `sizes` nodes whose x holds only the columns each node's type owns (as gnnjet's reader writes)."""
    batch = make_batch([make_jet(n, generator) for n in sizes])
    owned = torch.zeros(NUM_NODE_TYPES, NUM_FEATURES)
    for group in LAYOUT.groups:
        owned[group.code, list(group.columns)] = 1
    batch.x = batch.x * owned[batch.node_type]
    return batch


@pytest.mark.parametrize("name, preset", [("particlenet", "lite"), ("deepsets", "small"), ("transformer", "small"),
                                          ("mipart", "small"), ("gcn", "small"), ("gat", "small"),
                                          ("particlenet", "weaver"), ("transformer", "weaver")])
def test_dense_export_matches_pytorch_batched_and_one_jet_at_a_time(name, preset, tmp_path):
    import onnxruntime

    torch.manual_seed(0)
    model = build_model({"name": name, "preset": preset}, NUM_FEATURES, NUM_JET_FEATURES, 3,
                        num_node_types=NUM_NODE_TYPES).eval()
    export_dense(model, LAYOUT, ClassifierOutputs(Classification(["a", "b", "c"])), tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == LAYOUT.input_names
    generator = torch.Generator().manual_seed(1)
    lengths = {group.name: group.length for group in LAYOUT.groups}
    for sizes in ([4, 50, 7], [1], [128, 2, 1], list(torch.randint(1, 40, (300,), generator=generator))):
        batch = layout_batch(sizes, generator)
        with torch.no_grad():
            expected = torch.softmax(model(batch), dim=1).numpy()
        (batched,) = session.run(None, dense_inputs(batch, LAYOUT))  # padded to the batch's largest per type
        np.testing.assert_allclose(batched, expected, atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(batched.sum(axis=1), 1, atol=1e-5)
        for jet in range(min(len(sizes), 3)):  # as CMSSW: one jet, every type padded to its length
            single = make_batch([batch.get_example(jet)])
            (output,) = session.run(None, dense_inputs(single, LAYOUT, lengths))
            np.testing.assert_allclose(output[0], expected[jet], atol=1e-4, rtol=1e-4)


def test_padding_slots_are_ignored_whatever_they_hold(tmp_path):
    import onnxruntime

    torch.manual_seed(0)
    model = build_model({"name": "particlenet", "preset": "lite"}, NUM_FEATURES, NUM_JET_FEATURES, 3,
                        num_node_types=NUM_NODE_TYPES).eval()
    export_dense(model, LAYOUT, ClassifierOutputs(Classification(["a", "b", "c"])), tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    batch = layout_batch([9, 30], torch.Generator().manual_seed(2))
    inputs = dense_inputs(batch, LAYOUT, {"ch": 40, "ne": 40, "sv": 40})
    (clean,) = session.run(None, inputs)
    noisy = {name: np.where(inputs[f"{name.rsplit('_', 1)[0]}_mask"] > 0, values,
                            np.random.default_rng(0).normal(size=values.shape) * 100).astype(np.float32)
             if not name.endswith("_mask") and name != "jet_features" else values for name, values in inputs.items()}
    (output,) = session.run(None, noisy)
    np.testing.assert_allclose(output, clean, atol=1e-5)


def test_dense_inputs_refuse_a_jet_longer_than_its_padding():
    batch = layout_batch([60], torch.Generator().manual_seed(3))
    with pytest.raises(GnnjetError, match="more than the 2 slots it is padded to"):
        dense_inputs(batch, LAYOUT, {"ch": 2, "ne": 2, "sv": 2})


@pytest.mark.parametrize("loss", ["quantile", "gaussian_nll", "huber"])
def test_regression_outputs_are_the_predict_columns(loss):
    """The graph's regression outputs equal bin/predict.py's columns: pred and its quantiles, and the factors
    that turn pt into pt_corr (mass is not an observer: no factor for it)."""
    task = Regression(loss, quantiles=[0.025, 0.16, 0.5, 0.84, 0.975], targets=["pt", "mass"])
    head = RegressionOutputs(task, observers=["pt", "eta"])
    raw = torch.randn(50, task.out_dim, generator=torch.Generator().manual_seed(4))
    outputs = dict(zip(head.names, head(raw).numpy().T))
    pt = np.random.default_rng(0).uniform(20, 200, 50).astype(np.float32)
    columns = task.columns(raw.numpy(), np.zeros((50, 2), np.float32), {"pt": pt, "eta": np.zeros(50, np.float32)})
    for name, values in outputs.items():
        if name.endswith("_factor"):
            np.testing.assert_allclose(pt * values, columns[name.removesuffix("_factor")], rtol=1e-5)
        else:
            np.testing.assert_allclose(values, columns[name], rtol=1e-5, atol=1e-6)
    expected = {"quantile": 4, "gaussian_nll": 2, "huber": 0}[loss]  # bounds per target
    assert len(head.names) == 2 * (1 + expected) + (1 + expected)
    assert "pt_corr_factor" in head.names and not any(n.startswith("mass_corr") for n in head.names)


def test_a_run_exported_for_cmssw_scores_raw_jets_as_bin_predict(tmp_path):
    """bin/export.py --format cmssw from the run alone; --check passes; every JSON group names its variables and
    length; inputs rebuilt from the raw variables with the JSON's var_infos, one jet at a time, padded to the
    JSON's lengths (a C++ producer's path) give bin/predict.py's scores."""
    import onnxruntime
    import uproot

    from gnnjet.data.dataset import JetDataset
    from gnnjet.runs.model import load_trained
    from gnnjet.training.trainer import train
    from tests.cli import run_bin
    from tests.conftest import write_fake
    from tests.training.test_trainer import tiny_config

    config = tiny_config(tmp_path, epochs=1)
    config["model"] = {"name": "particlenet", "preset": "lite"}
    train(config, tmp_path / "run", progress=False)
    data = write_fake(tmp_path / "new.root", 60, seed=11)
    out = tmp_path / "cmssw"
    result = run_bin("export.py", "-m", tmp_path / "run", "-o", out / "model.onnx", "--format", "cmssw",
                     "--check", "-i", data)
    assert result.returncode == 0, result.stderr
    assert "argmax agreement 1.000000" in result.stdout and "ok: every output within 0.0001" in result.stdout
    info = json.loads((out / "preprocess.json").read_text())
    session = onnxruntime.InferenceSession(str(out / "model.onnx"))
    assert info["input_names"] == [i.name for i in session.get_inputs()]
    assert info["output_names"] == ["label_q", "label_g"] and session.get_outputs()[0].name == "softmax"
    assert info["charged_features"]["var_names"] == ["log_pt", "rel_pt", "deta", "dphi", "ch_charge", "dxy"]
    assert info["charged_features"]["var_infos"]["dxy"] == {"median": 0.0, "norm_factor": 2.0, "replace_inf_value": 0.0,
                                                            "lower_bound": -3.0, "upper_bound": 3.0, "pad": 0.0}
    assert info["charged_features"]["var_infos"]["deta"]["upper_bound"] == 1e32
    assert [info[f"{t}_mask"]["var_length"] for t in ("charged", "neutral", "sv")] == [16, 8, 4]
    assert info["gnnjet"]["expressions"]["charged"]["rel_pt"] == "log(ch_pt / pt)"
    assert info["jet_features"]["var_names"] == ["log_pt", "eta"]

    assert run_bin("predict.py", "-m", tmp_path / "run", "-i", data, "-o", tmp_path / "pred.root").returncode == 0
    predicted = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    trained = load_trained(tmp_path / "run")
    dataset = JetDataset.from_files(trained.spec, [str(data)], trained.preprocessing, cache_root=tmp_path / "cache",
                                    progress=False)
    raw = copy.copy(dataset)  # the same jets, their variables before any preprocessing
    raw.nodes = torch.cat([torch.from_numpy(np.asarray(dataset.store.arrays["x"])), dataset.pos, dataset.p4], dim=1)
    raw.u = torch.from_numpy(np.asarray(dataset.store.arrays["u"]))
    layout = DenseLayout.of(trained.spec)
    lengths = {name.removesuffix("_mask"): entry["var_length"] for name, entry in info.items()
               if name.endswith("_mask")}
    scores = []
    for jet in range(len(dataset)):
        inputs = dense_inputs(raw.batch([jet]), layout, lengths)
        for name in info["input_names"]:
            present = inputs[f"{name.rsplit('_', 1)[0]}_mask"] > 0 if name != "jet_features" else True
            inputs[name] = np.where(present, preprocess(inputs[name], info[name]), 0).astype(np.float32)
        scores.append(session.run(None, inputs)[0][0])
    scores = np.array(scores)
    np.testing.assert_allclose(scores[:, 0], predicted["score_label_q"][predicted["valid"] == 1], atol=1e-5)
    np.testing.assert_allclose(scores[:, 1], predicted["score_label_g"][predicted["valid"] == 1], atol=1e-5)


def preprocess(values, group):
    """What a producer does with one input [1, C, P] and its JSON entry: (value - median) * norm_factor, clipped."""
    infos = [group["var_infos"][name] for name in group["var_names"]]
    median, factor, low, high = (np.array([i[key] for i in infos], np.float64)[None, :, None]
                                 for key in ("median", "norm_factor", "lower_bound", "upper_bound"))
    return np.clip((values - median) * factor, low, high)


def test_a_triton_repository_in_cmssw_convention_batches_dynamically(tmp_path):
    import onnxruntime
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    from gnnjet.config import validate_config
    from gnnjet.training.trainer import train
    from tests.cli import run_bin
    from tests.training.test_trainer import tiny_config

    config = tiny_config(tmp_path, epochs=1)
    config["task"] = {"type": "regression", "loss": "quantile", "labels": None, "target_abs_max": 1.0,
                      "quantiles": [0.025, 0.16, 0.5, 0.84, 0.975]}
    train(validate_config(config), tmp_path / "run", progress=False)
    result = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "repo", "--format", "triton", "--name",
                     "jec")
    assert result.returncode == 0, result.stderr
    config = text_format.Parse((tmp_path / "repo" / "jec" / "config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    session = onnxruntime.InferenceSession(str(tmp_path / "repo" / "jec" / "1" / "model.onnx"))
    assert config.max_batch_size == 1024 and config.HasField("dynamic_batching")
    for declared, real in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
        assert [entry.name for entry in declared] == [tensor.name for tensor in real]
        for entry, tensor in zip(declared, real):
            assert model_config_pb2.DataType.Name(entry.data_type) == "TYPE_FP32"
            assert list(entry.dims) == [d if isinstance(d, int) else -1 for d in tensor.shape[1:]]  # batch left out
    assert list(config.input[0].dims) == [2, -1] and list(config.input[1].dims) == [6, -1]
    info = json.loads((tmp_path / "repo" / "jec" / "1" / "preprocess.json").read_text())
    assert info["output_names"] == ["pred", "pred_q2p5", "pred_q16", "pred_q84", "pred_q97p5", "pt_corr_factor",
                                    "pt_corr_q2p5_factor", "pt_corr_q16_factor", "pt_corr_q84_factor",
                                    "pt_corr_q97p5_factor"]
    assert list(config.output[0].dims) == [len(info["output_names"])]
