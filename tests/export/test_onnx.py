"""ONNX export: onnxruntime reproduces torch outputs on batches of other shapes (1e-4)."""

import shutil

import numpy as np
import pytest
import torch

from gnnjet._optional import WITH_ONNX
from gnnjet.errors import GnnjetError
from gnnjet.export import INPUTS, export_model, onnx_inputs
from gnnjet.nn.registry import build_model
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, make_jet, standard_jets

pytestmark = pytest.mark.skipif(not WITH_ONNX, reason="onnx, onnxscript and onnxruntime are needed")


@pytest.mark.parametrize("name, preset", [("particlenet", "lite"), ("deepsets", "small"), ("transformer", "small"),
                                          ("mipart", "small"), ("gcn", "small"), ("gat", "small"),
                                          ("particlenet", "weaver"), ("transformer", "weaver")])
def test_onnx_matches_torch(name, preset, tmp_path):
    import onnxruntime

    torch.manual_seed(0)
    model = build_model({"name": name, "preset": preset}, NUM_FEATURES, NUM_JET_FEATURES, 3,
                        num_node_types=NUM_NODE_TYPES).eval()
    export_model(model, make_batch(standard_jets()), tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    generator = torch.Generator().manual_seed(1)
    for sizes in ([4, 50, 7], [2, 3, 30, 12, 120, 9, 1], [1], [37]):  # other B, N and P than traced; one jet
        batch = make_batch([make_jet(n, generator) for n in sizes])
        feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), onnx_inputs(batch))}
        (output,) = session.run(None, feeds)
        with torch.no_grad():
            expected = model(batch).numpy()
        np.testing.assert_allclose(output, expected, atol=1e-4, rtol=1e-4)


def test_export_of_a_run_directory(tmp_path):
    import onnxruntime

    from gnnjet.data.dataset import JetDataset
    from gnnjet.export import export_onnx
    from gnnjet.runs.model import load_trained
    from gnnjet.training.trainer import train
    from tests.training.test_trainer import tiny_config

    config = tiny_config(tmp_path, epochs=1)
    train(config, tmp_path / "run", progress=False)
    export_onnx(tmp_path / "run", tmp_path / "run" / "model.onnx")
    # the exported graph is the trained model: same outputs as the run's best.pt on its own jets
    trained = load_trained(tmp_path / "run")
    dataset = JetDataset.from_files(trained.spec, config["data"]["train"], trained.preprocessing,
                                    cache_root=tmp_path / "cache", progress=False)
    batch = dataset.batch(torch.arange(37))
    session = onnxruntime.InferenceSession(str(tmp_path / "run" / "model.onnx"))
    (output,) = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), onnx_inputs(batch))})
    with torch.no_grad():
        np.testing.assert_allclose(output, trained.model(batch).numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name, reason", [("lorentznet", "LorentzNet cannot be exported to ONNX: its complete graph"),
                                          ("lgatr", "LGATrTagger cannot be exported to ONNX: the wrapper pads")])
def test_a_model_that_cannot_be_traced_is_refused_with_the_reason(tmp_path, name, reason):
    model = build_model({"name": name, "preset": "small"}, NUM_FEATURES, NUM_JET_FEATURES, 3,
                        num_node_types=NUM_NODE_TYPES).eval()
    with pytest.raises(GnnjetError, match=reason):
        export_model(model, make_batch(standard_jets()), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_bin_export_needs_only_the_run_directory_and_onnxruntime_predicts_as_pytorch(tmp_path):
    """bin/export.py traces on synthetic jets (the training files are gone), at the opset asked for; bin/predict.py
    --onnx writes the PyTorch path's columns and rows; --check passes on the run's own export and fails on
    another run's."""
    import onnx

    from gnnjet.training.trainer import train
    from tests.cli import run_bin
    from tests.conftest import write_fake
    from tests.training.test_trainer import tiny_config

    config = tiny_config(tmp_path / "a", epochs=1)
    train(config, tmp_path / "run", progress=False)
    other = tiny_config(tmp_path / "b", epochs=1, seed=7)
    train(other, tmp_path / "other", progress=False)
    for path in (tmp_path / "a" / "train.root", tmp_path / "a" / "cache"):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    exported = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "run.onnx", "--opset", "17")
    assert exported.returncode == 0, exported.stderr
    assert {entry.domain: entry.version for entry in onnx.load(tmp_path / "run.onnx").opset_import}[""] == 17
    data = write_fake(tmp_path / "new.root", 150, seed=11)
    assert_onnx_predicts_as_torch(tmp_path, data)
    checked = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "checked.onnx", "--check", "-i", data)
    assert checked.returncode == 0 and "argmax agreement 1.000000" in checked.stdout
    assert "ok: every output within 0.0001" in checked.stdout
    run_bin("export.py", "-m", tmp_path / "other", "-o", tmp_path / "other.onnx")
    shutil.copy(tmp_path / "other.onnx", tmp_path / "checked.onnx")  # another run's graph under this run's name
    from gnnjet.export import check_export

    assert not check_export(tmp_path / "run", tmp_path / "checked.onnx", [str(data)]).passes(1e-4)
    again = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "checked.onnx")
    assert again.returncode == 1 and "already exists: pass --overwrite" in again.stderr
    onto_run = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "run" / "best.pt", "--overwrite")
    assert onto_run.returncode == 1 and "a file of the model" in onto_run.stderr


def test_a_triton_repository_of_packed_inputs_names_the_models_real_inputs_and_outputs(tmp_path):
    import onnxruntime
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    from gnnjet.training.trainer import train
    from tests.cli import run_bin
    from tests.training.test_trainer import tiny_config

    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    result = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "repo", "--format", "triton", "--name",
                     "qg_tiny", "--convention", "packed")
    assert result.returncode == 0, result.stderr
    config = text_format.Parse((tmp_path / "repo" / "qg_tiny" / "config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    session = onnxruntime.InferenceSession(str(tmp_path / "repo" / "qg_tiny" / "1" / "model.onnx"))
    types = {"tensor(float)": "TYPE_FP32", "tensor(int64)": "TYPE_INT64", "tensor(bool)": "TYPE_BOOL"}
    for declared, real in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
        assert [entry.name for entry in declared] == [tensor.name for tensor in real]
        for entry, tensor in zip(declared, real):
            assert model_config_pb2.DataType.Name(entry.data_type) == types[tensor.type]
            assert list(entry.dims) == [d if isinstance(d, int) else -1 for d in tensor.shape]
    assert config.name == "qg_tiny" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 0
    assert [entry.name for entry in config.input] == list(INPUTS) and list(config.output[0].dims) == [-1, 2]
    again = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "repo", "--format", "triton", "--name",
                    "qg_tiny")
    assert again.returncode == 1 and "already exists: pass --overwrite" in again.stderr
    bad = run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "repo", "--format", "triton", "--name", "a b")
    assert bad.returncode == 1 and "Triton model name 'a b'" in bad.stderr


def test_onnxruntime_predictions_of_a_quantile_regression_equal_pytorchs(tmp_path):
    """The quantile head's ordered quantiles, pt_corr and its interval come out of the exported graph's raw outputs
    as they come out of PyTorch's."""

    from gnnjet.config import validate_config
    from gnnjet.training.trainer import train
    from tests.cli import run_bin
    from tests.conftest import write_fake
    from tests.training.test_trainer import tiny_config

    config = tiny_config(tmp_path, epochs=1)
    config["task"] = {"type": "regression", "loss": "quantile", "labels": None, "target_abs_max": 1.0}
    config["data"]["observers"] = ["pt", "eta", "pt_gen", "eta_gen"]
    train(validate_config(config), tmp_path / "run", progress=False)
    assert run_bin("export.py", "-m", tmp_path / "run", "-o", tmp_path / "run.onnx").returncode == 0
    columns = assert_onnx_predicts_as_torch(tmp_path, write_fake(tmp_path / "new.root", 120, seed=12))
    assert {"pt_corr_q16", "pt_corr_q84", "pt_corr_sigma"} <= set(columns)


def assert_onnx_predicts_as_torch(tmp_path, data):
    """bin/predict.py on `data` with PyTorch and with --onnx RUN.onnx (tmp_path/run, tmp_path/run.onnx): the same
    columns in the same order, values within 1e-5; returns the columns."""
    import uproot

    from tests.cli import run_bin

    for name, extra in (("torch", []), ("onnx", ["--onnx", tmp_path / "run.onnx"])):
        result = run_bin("predict.py", "-m", tmp_path / "run", "-i", data, "-o", tmp_path / f"{name}.root", *extra)
        assert result.returncode == 0, result.stderr
    expected = uproot.open(tmp_path / "torch.root")["Jets"].arrays(library="np")
    got = uproot.open(tmp_path / "onnx.root")["Jets"].arrays(library="np")
    assert list(got) == list(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(got[name], values, atol=1e-5, rtol=1e-5, err_msg=name)
    return got
