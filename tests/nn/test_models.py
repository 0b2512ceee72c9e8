"""Every family: forward/backward on awkward jet sizes, permutation invariance, no cross-talk."""

import pytest
import torch

from gnnjet.nn.registry import FAMILIES, build_model, count_parameters
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, make_batch, make_jet, standard_jets

SMALL = {"particlenet": "lite", "gcn": "small", "gat": "small", "deepsets": "small", "transformer": "small"}


def small_model(name, out_dim=3, **overrides):
    torch.manual_seed(0)
    return build_model({"name": name, "preset": SMALL[name], **overrides}, NUM_FEATURES, NUM_JET_FEATURES, out_dim)


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


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "attention"])
def test_pooling_choices(pooling):
    """Each pooling is permutation invariant and really used: another pooling of the same weights differs."""
    model = small_model("deepsets", pooling=pooling).eval()
    batch = make_batch(standard_jets(seed=7))
    other = small_model("deepsets", pooling="sum" if pooling != "sum" else "mean").eval()
    other.load_state_dict(model.state_dict(), strict=False)  # attention pooling has extra weights
    with torch.no_grad():
        out = model(batch)
        permuted = model(permute_within_jets(batch, torch.Generator().manual_seed(8)))
        assert out.shape == (5, 3)
        torch.testing.assert_close(permuted, out, atol=1e-5, rtol=1e-5)
        assert not torch.allclose(other(batch), out, atol=1e-3)


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
    ("transformer", "part", 17, 10, 2_140_000),
])
def test_preset_parameter_counts_match_reference(name, preset, features, classes, expected):
    model = build_model({"name": name, "preset": preset}, features, 0, classes)
    assert count_parameters(model) == pytest.approx(expected, rel=0.02)
