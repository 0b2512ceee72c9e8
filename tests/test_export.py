"""ONNX export: onnxruntime reproduces torch outputs on batches of other shapes (1e-4)."""

import numpy as np
import pytest
import torch

from gnnjet._optional import WITH_ONNX
from gnnjet.errors import GnnjetError
from gnnjet.export import export_model, onnx_inputs
from gnnjet.nn.registry import build_model
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, make_jet, standard_jets

pytestmark = pytest.mark.skipif(not WITH_ONNX, reason="onnx, onnxscript and onnxruntime are needed")


@pytest.mark.parametrize("name, preset", [("particlenet", "lite"), ("deepsets", "small"), ("transformer", "small"),
                                          ("mipart", "small")])
def test_onnx_matches_torch(name, preset, tmp_path):
    import onnxruntime

    torch.manual_seed(0)
    model = build_model({"name": name, "preset": preset}, NUM_FEATURES, NUM_JET_FEATURES, 3,
                        num_node_types=NUM_NODE_TYPES).eval()
    export_model(model, make_batch(standard_jets()), tmp_path / "model.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"))
    generator = torch.Generator().manual_seed(1)
    for sizes in ([4, 50, 7], [2, 3, 30, 12, 120, 9, 1]):  # other B, N and P than traced
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
