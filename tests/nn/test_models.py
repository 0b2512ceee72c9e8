"""Every registered family: forward/backward on awkward jet sizes, permutation invariance, no cross-talk (each
family's own behaviour: tests/nn/models/)."""

import pytest
import torch

from gnnjet.nn.registry import FAMILIES, build_model
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, make_jet, standard_jets

SMALL = {"particlenet": "lite", "gcn": "small", "gat": "small", "deepsets": "small", "transformer": "small",
         "mipart": "small", "lorentznet": "small", "lgatr": "small"}


def small_model(name, out_dim=3, **overrides):
    torch.manual_seed(0)
    return build_model({"name": name, "preset": SMALL[name], **overrides}, NUM_FEATURES, NUM_JET_FEATURES, out_dim,
                       num_node_types=NUM_NODE_TYPES)


@pytest.mark.parametrize("name", list(FAMILIES))
@pytest.mark.parametrize("out_dim", [3, 1], ids=["classification", "regression"])
def test_forward_backward_on_small_and_large_jets(name, out_dim):
    model = small_model(name, out_dim)
    batch = make_batch(standard_jets())
    out = model(batch)
    assert out.shape == (5, out_dim)
    out.square().sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def permute_within_jets(batch, generator):
    order = torch.cat([torch.randperm(int(hi - lo), generator=generator) + lo
                       for lo, hi in zip(batch.ptr[:-1], batch.ptr[1:])])
    permuted = batch.clone()
    for key in ("x", "node_type", "pos", "p4"):
        permuted[key] = batch[key][order]
    return permuted


@pytest.mark.parametrize("name", list(FAMILIES))
def test_permutation_invariance(name):
    model = small_model(name).eval()
    batch = make_batch(standard_jets(seed=3))
    permuted = permute_within_jets(batch, torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(model(permuted), model(batch), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_no_cross_talk_between_jets(name):
    model = small_model(name).eval()
    jets = standard_jets(seed=5)
    extra = make_jet(150, torch.Generator().manual_seed(6))
    with torch.no_grad():
        alone = model(make_batch(jets))
        together = model(make_batch([jets[0], extra, *jets[1:]]))
        single = model(make_batch([jets[3]]))
    torch.testing.assert_close(together[[0, 2, 3, 4, 5]], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(single[0], alone[3], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["particlenet", "gcn", "gat"])
def test_graph_families_depend_on_the_coordinates(name):
    """The knn graph is built in pos: moving nodes in (deta, dphi) changes neighbours and so the output (DeepSets
    and the transformers, without a graph, ignore pos)."""
    model = small_model(name).eval()
    batch = make_batch(standard_jets(seed=5))
    moved = batch.clone()
    moved.pos = torch.flip(batch.pos, dims=[0])
    with torch.no_grad():
        assert not torch.allclose(model(batch), model(moved), atol=1e-4)
