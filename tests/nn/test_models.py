"""Every registered family: forward/backward on awkward jet sizes, permutation invariance, no cross-talk (each
family's own behaviour: tests/nn/models/)."""

import pytest
import torch

from gnnjet.nn.registry import FAMILIES, build_model
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, make_jet, standard_jets

SMALL = {"particlenet": "lite", "gcn": "small", "gat": "small", "deepsets": "small", "transformer": "small",
         "mipart": "small", "lorentznet": "small", "lgatr": "small"}


def small_model(name, out_dim=3, per_node=False, **overrides):
    torch.manual_seed(0)
    return build_model({"name": name, "preset": SMALL[name], **overrides}, NUM_FEATURES, NUM_JET_FEATURES, out_dim,
                       num_node_types=NUM_NODE_TYPES, per_node=per_node)


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


@pytest.mark.parametrize("name", list(FAMILIES))
def test_per_node_outputs_follow_their_nodes(name):
    """A node task's model: one output row per node, that moves with its node when a jet's nodes are permuted, does
    not change when another jet joins the batch, and depends on the rest of its jet (its jet's representation)."""
    model = small_model(name, out_dim=2, per_node=True).eval()
    jets = standard_jets(seed=7)
    batch = make_batch(jets)
    order = torch.cat([torch.randperm(int(hi - lo), generator=torch.Generator().manual_seed(8)) + lo
                       for lo, hi in zip(batch.ptr[:-1], batch.ptr[1:])])
    permuted = batch.clone()
    for key in ("x", "node_type", "pos", "p4"):
        permuted[key] = batch[key][order]
    extra = make_jet(40, torch.Generator().manual_seed(9))
    with torch.no_grad():
        out = model(batch)
        assert out.shape == (batch.num_nodes, 2)
        torch.testing.assert_close(model(permuted), out[order], atol=1e-5, rtol=1e-5)
        together = model(make_batch([extra, *jets]))[extra.num_nodes:]
        torch.testing.assert_close(together, out, atol=1e-5, rtol=1e-5)
        changed = jets[3].clone()  # every node of the 100-node jet but the first: new features and momenta
        generator = torch.Generator().manual_seed(10)
        changed.x, changed.p4 = changed.x.clone(), changed.p4.clone()
        changed.x[1:] = torch.randn(changed.x[1:].shape, generator=generator)
        changed.p4[1:] *= torch.rand(99, 1, generator=generator) * 3
        first = int(batch.ptr[3])
        assert not torch.allclose(model(make_batch([jets[0], jets[1], jets[2], changed, jets[4]]))[first], out[first],
                                  atol=1e-4)
    model.train()(batch).square().sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad), "every parameter takes part"
