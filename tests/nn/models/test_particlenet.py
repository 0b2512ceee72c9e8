"""ParticleNet: aggregation choices, the published parameter counts, its weaver-core name map."""

import pytest
import torch

from gnnjet.nn.registry import build_model, count_parameters
from tests.nn.conftest import NUM_NODE_TYPES, make_batch, standard_jets
from tests.nn.test_models import permute_within_jets, small_model


def test_particlenet_max_aggregation():
    """aggr: max is invariant to the order of nodes and gives other outputs than mean with the same weights."""
    model = small_model("particlenet", aggr="max").eval()
    mean = small_model("particlenet", aggr="mean").eval()
    mean.load_state_dict(model.state_dict())
    batch = make_batch(standard_jets(seed=9))
    with torch.no_grad():
        out = model(batch)
        torch.testing.assert_close(model(permute_within_jets(batch, torch.Generator().manual_seed(10))), out,
                                   atol=1e-5, rtol=1e-5)
        assert not torch.allclose(mean(batch), out, atol=1e-3)


# weaver-core / ParT figures from REFERENCE.md, for the same inputs and outputs
@pytest.mark.parametrize("name, preset, features, classes, expected", [
    ("particlenet", "particlenet", 7, 2, 366_160),
    ("particlenet", "lite", 7, 2, 26_416),
])
def test_preset_parameter_counts_match_reference(name, preset, features, classes, expected):
    model = build_model({"name": name, "preset": preset}, features, 0, classes, num_node_types=NUM_NODE_TYPES)
    assert count_parameters(model) == pytest.approx(expected, rel=0.02)


def test_weaver_layout_maps_every_tensor_by_name():
    """Every tensor of the weaver layout has a weaver-core name, and each weaver name is used once (the edge MLP's
    Linear/BatchNorm layers found by type, not by position)."""
    model = build_model({"name": "particlenet", "preset": "weaver"}, 7, 0, 2, num_node_types=1)
    names = model.weaver_names()
    assert set(names) == set(model.state_dict())
    assert len({n.key for n in names.values()}) == len(names)
    assert names["blocks.0.conv.nn.3.weight"].key == "edge_convs.0.convs.1.weight"
    assert names["blocks.0.conv.nn.3.weight"].trailing == 2
    assert names["blocks.0.conv.nn.4.running_var"].key == "edge_convs.0.bns.1.running_var"
    assert names["blocks.0.shortcut.1.weight"].key == "edge_convs.0.sc_bn.weight"
    assert names["blocks.0.shortcut.1.weight"].trailing == 0
    assert build_model({"name": "particlenet"}, 7, 0, 2, num_node_types=3).weaver_architecture is None
