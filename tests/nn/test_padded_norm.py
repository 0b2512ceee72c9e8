"""Padded BatchNorm statistics: the packed computation equals BatchNorm over materialised padding, and gnnjet's
weaver-layout ParticleNet and ParticleTransformer train exactly as weaver-core's padded models do (outputs,
running statistics, gradients, then the weights after optimizer steps)."""

import pytest
import torch
from torch import nn
from torch_geometric.utils import to_dense_batch

from gnnjet.config import validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.errors import ConfigError
from gnnjet.nn.padded_norm import PaddedStatistics, padded_batch_norm
from gnnjet.nn.registry import build_model, validate_model_section
from gnnjet.nn.weaver import _to_weaver, gnnjet_to_weaver, weaver_to_gnnjet
from tests.nn.test_weaver import ROOT, jets_with_four_vectors, padded_inputs, weaver_particlenet, weaver_transformer

NO_DROPOUT = {"dropout": 0, "attn_dropout": 0, "activation_dropout": 0}
# n <= P - k - 1 = 111 or n = P: the padded particles' neighbours are padded ones (module docstring of particlenet)
SIZES = [3, 1, 2, 16, 17, 40, 111, 128, 5, 64]


def test_packed_statistics_equal_batchnorm_over_materialised_padding():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(50, 6, generator=generator, requires_grad=True)
    pad = torch.randn(6, generator=generator)
    reference, packed = nn.BatchNorm1d(6), nn.BatchNorm1d(6)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 1.5, generator=generator)
        reference.bias.uniform_(-0.3, 0.3, generator=generator)
    packed.load_state_dict(reference.state_dict())
    x_reference = x.detach().clone().requires_grad_(True)
    expected = reference(torch.cat([x_reference, pad.expand(30, 6)]))
    out, out_pad = padded_batch_norm(packed, x, torch.tensor(30), pad)
    assert torch.allclose(out, expected[:50], atol=1e-6) and torch.allclose(out_pad, expected[50], atol=1e-6)
    (expected[:50] ** 3).sum().backward()
    (out**3).sum().backward()
    assert torch.allclose(x.grad, x_reference.grad, atol=1e-5)
    assert torch.allclose(packed.weight.grad, reference.weight.grad, atol=1e-4)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.allclose(getattr(packed, name).float(), getattr(reference, name).float(), atol=1e-6), name
    assert not torch.allclose(out, nn.BatchNorm1d(6)(x.detach()), atol=1e-2)  # the padding changes the numbers


def test_sequential_without_padding_is_plain_sequential():
    layers = PaddedStatistics(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    plain = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU())
    plain.load_state_dict(layers.state_dict())
    x = torch.randn(20, 4)
    assert torch.equal(layers(x), plain(x))
    layers.padded = torch.tensor(10)
    assert not torch.allclose(layers(x), plain(x), atol=1e-3)


def _weaver_grads(model: nn.Module) -> dict[str, torch.Tensor]:
    """The gnnjet model's gradients under weaver-core's names and shapes."""
    grads = {name: p.grad for name, p in model.named_parameters()}
    return _to_weaver(grads, {k: v for k, v in model.weaver_names().items() if k in grads})


def _train_alike(reference: nn.Module, model: nn.Module, weaver_inputs: tuple, batch, steps: int = 3) -> None:
    """Both in train mode, in float64 (in float32, AdamW turns rounding-level gradients into full-size steps):
    outputs, updated running statistics and gradients agree; then `steps` AdamW steps from the same state give
    the same weights."""
    labels = torch.arange(batch.num_graphs) % 10
    reference.double().train(), model.double().train()
    weaver_inputs = tuple(t.double() if t.is_floating_point() else t for t in weaver_inputs)
    batch = batch.clone()
    batch.x = batch.x.double()
    for name in ("pos", "p4"):
        if name in batch:
            batch[name] = batch[name].double()
    reference_optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(steps):
        expected, out = reference(*weaver_inputs), model(batch)
        assert torch.allclose(out, expected, atol=1e-8, rtol=0), (step, (out - expected).abs().max())
        nn.functional.cross_entropy(expected, labels).backward()
        nn.functional.cross_entropy(out, labels).backward()
        weaver_state, grads = reference.state_dict(), _weaver_grads(model)
        for key, value in gnnjet_to_weaver(model).items():
            if "running" in key or "num_batches" in key:
                assert torch.allclose(value.double(), weaver_state[key].double(), atol=1e-8, rtol=0), (step, key)
        for key, parameter in reference.named_parameters():
            assert torch.allclose(grads[key], parameter.grad, atol=1e-8, rtol=0), (step, key)
        reference_optimizer.step(), optimizer.step()
        reference_optimizer.zero_grad(), optimizer.zero_grad()
    weaver_state = reference.state_dict()
    for key, value in gnnjet_to_weaver(model).items():
        assert torch.allclose(value.double(), weaver_state[key].double(), atol=1e-8, rtol=0), key


def _imported(reference: nn.Module, section: dict) -> nn.Module:
    model = build_model(section, 7, 0, 10, num_node_types=1)
    model.load_state_dict(weaver_to_gnnjet(reference.state_dict(), model))
    return model


def test_particlenet_trains_as_weavers_padded_model():
    reference = weaver_particlenet(for_inference=False, trim=False, fc_params=[(256, 0.0)])
    model = _imported(reference, {"name": "particlenet", "preset": "weaver", "dropout": 0.0})
    assert model.batchnorm_padding == 128  # on in the preset that imports checkpoints
    weaver_inputs, batch = padded_inputs(SIZES)
    _train_alike(reference, model, weaver_inputs, batch)


def test_particlenet_with_packed_statistics_trains_differently():
    """The comparison above can fail: gnnjet's own (packed) statistics give other outputs in train mode."""
    reference = weaver_particlenet(for_inference=False, trim=False, fc_params=[(256, 0.0)])
    model = _imported(reference, {"name": "particlenet", "preset": "weaver", "dropout": 0.0,
                                  "batchnorm_padding": None})
    weaver_inputs, batch = padded_inputs(SIZES)
    assert not torch.allclose(model.train()(batch), reference.train()(*weaver_inputs), atol=1e-2)


@pytest.mark.parametrize("padding", [128, "batch"])
def test_transformer_trains_as_weavers_padded_model(padding):
    """Padded to 128 (no trimming) or to the batch's largest jet (weaver's SequenceTrimmer in eval mode)."""
    reference = weaver_transformer(trim=False, block_params=NO_DROPOUT)
    model = _imported(reference, {"name": "transformer", "preset": "weaver", "dropout": 0.0,
                                  "batchnorm_padding": padding})
    sizes = [3, 1, 2, 17, 40, 90, 5]
    weaver_inputs, batch = jets_with_four_vectors(sizes, length=128 if padding == 128 else max(sizes))
    _train_alike(reference, model, weaver_inputs, batch, steps=2)


def test_padding_is_refused_outside_the_weaver_layout_and_checked():
    with pytest.raises(ConfigError, match=r"model.batchnorm_padding: only layout 'weaver'"):
        validate_model_section({"name": "particlenet", "preset": "lite", "batchnorm_padding": 128})
    with pytest.raises(ConfigError, match=r"model.batchnorm_padding: expected a padded length"):
        validate_model_section({"name": "transformer", "preset": "weaver", "batchnorm_padding": "longest"})
    with pytest.raises(ConfigError, match=r"model.batchnorm_padding"):
        validate_model_section({"name": "particlenet", "preset": "weaver", "batchnorm_padding": 0})


def test_particlenet_trains_as_weavers_on_generated_jets(tmp_path):
    """The same equality (ParticleNet-Lite sizes) on jets of the committed q/g sample with JetClass-like inputs (7
    features of charged and neutral particles, at most 50 + 50 so that every padded particle's neighbours are padded
    ones at P = 128)."""
    def node_type(c):
        return {"max_nodes": 50, "pt": f"{c}_pt", "eta": f"{c}_eta", "phi": f"{c}_phi", "features": [
            {"name": "log_pt", "expr": f"log({c}_pt)", "center": 1.7, "scale": 0.7},
            {"name": "log_e", "expr": f"log({c}_pt * cosh({c}_eta))", "center": 2.0, "scale": 0.7},
            {"name": "log_pt_rel", "expr": f"log({c}_pt / pt)", "center": -4.7, "scale": 0.7},
            {"name": "log_e_rel", "expr": f"log({c}_pt * cosh({c}_eta) / (pt * cosh(eta)))", "center": -4.7,
             "scale": 0.7},
            {"name": "delta_r", "expr": f"hypot({c}_eta - eta, delta_phi({c}_phi, phi))", "center": 0.2, "scale": 4},
            {"name": "deta", "expr": f"{c}_eta - eta", "center": None, "scale": None, "clip": None},
            {"name": "dphi", "expr": f"delta_phi({c}_phi, phi)", "center": None, "scale": None, "clip": None}]}

    files = [str(ROOT / "data/qg/qg_1_0000.root")]
    config = validate_config({"data": {"train": files, "node_types": {"charged": node_type("ch"),
                                                                      "neutral": node_type("ne")}},
                              "model": {"name": "particlenet", "preset": "weaver"},
                              "task": {"type": "classification", "labels": ["label_q", "label_g"]}})
    spec = DataSpec.from_config(config)
    dataset = JetDataset.from_files(spec, files, Preprocessing.manual(spec), cache_root=tmp_path, progress=False,
                                    workers=1)
    batch = dataset.batch(torch.arange(24))
    assert batch.max_num_nodes > 40 and dataset.num_node_features == 7
    size = batch.num_graphs
    features, mask = to_dense_batch(batch.x, batch.batch, batch_size=size, max_num_nodes=128)
    points, _ = to_dense_batch(batch.pos, batch.batch, batch_size=size, max_num_nodes=128)
    weaver_inputs = (points.transpose(1, 2), features.transpose(1, 2), mask.unsqueeze(1).float())
    lite = {"conv_params": [(7, (32, 32, 32)), (7, (64, 64, 64))], "fc_params": [(128, 0.0)]}  # ParticleNet-Lite
    reference = weaver_particlenet(for_inference=False, trim=False, **lite)
    model = _imported(reference, {"name": "particlenet", "preset": "weaver", "dropout": 0.0, "k": 7,
                                  "blocks": [[32, 32, 32], [64, 64, 64]], "head": [128]})
    _train_alike(reference, model, weaver_inputs, batch, steps=2)
