"""Every family: forward/backward on awkward jet sizes, permutation invariance, no cross-talk."""

import pytest
import torch

from gnnjet.nn.registry import FAMILIES, build_model, count_parameters
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, make_jet, standard_jets

SMALL = {"particlenet": "lite", "gcn": "small", "gat": "small", "deepsets": "small", "transformer": "small",
         "mipart": "small"}


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
    model = build_model({"name": name, "preset": preset}, features, 0, classes, num_node_types=NUM_NODE_TYPES)
    assert count_parameters(model) == pytest.approx(expected, rel=0.02)


def authors_mipart_parameters(features: int, classes: int) -> int:
    """Parameters of the authors' example_MIParticleTransformer.py (USST-HEP/MIParT) default network, layer by
    layer: embedding 128-512-64, pair 1x1 convolutions 64-64-64 (+ BatchNorms) then 64 -> 8, 5 MI blocks (64
    heads of width 1, value projection without bias, no output projection), 5 ParT blocks and 2 class blocks
    (nn.MultiheadAttention, 8 heads), final LayerNorm, class token, Linear head."""
    dim = 64
    embed = (2 * features + (2 * features + features * 128 + 128) + (2 * 128 + 128 * 512 + 512)
             + (2 * 512 + 512 * 64 + 64))
    pair = 2 * 4 + (4 * 64 + 64 + 2 * 64) + 2 * (64 * 64 + 64 + 2 * 64) + (64 * 8 + 8 + 2 * 8)
    common = 3 * 2 * dim + (dim * 4 * dim + 4 * dim) + 2 * 4 * dim + (4 * dim * dim + dim) + dim  # norms, FFN, w_resid
    mi_block = common + dim * dim + 64  # + value projection, c_attn
    part_block = common + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + 8  # + in_proj, out_proj, c_attn
    return embed + pair + 5 * mi_block + 7 * part_block + 2 * dim + dim + (dim * classes + classes)


@pytest.mark.parametrize("features, classes", [(7, 2), (17, 2), (7, 10)])
def test_mipart_preset_has_the_authors_parameter_count(features, classes):
    model = build_model({"name": "mipart", "preset": "mipart"}, features, 0, classes, num_node_types=1)
    assert count_parameters(model) == authors_mipart_parameters(features, classes)


def test_attention_with_a_trainable_bias_matches_the_fused_kernel():
    """On the CPU a bias that needs its gradient goes into baddbmm instead of torch's fused attention: the same
    values and gradients (q, k, v and the bias) as scaled_dot_product_attention, padded keys included."""
    from gnnjet.nn.models.transformer import _attention

    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 4, 7, 8, generator=generator, dtype=torch.float64) for _ in range(3))
    bias = torch.randn(3, 4, 7, 7, generator=generator, dtype=torch.float64)
    bias[:, :, :, 5:] = float("-inf")  # the last two keys are padding
    weights = torch.randn(3, 4, 7, 8, generator=generator, dtype=torch.float64)
    results = []
    for attention in (_attention, lambda q, k, v, b: torch.nn.functional.scaled_dot_product_attention(q, k, v, b)):
        leaves = [t.clone().requires_grad_() for t in (q, k, v, bias)]
        out = attention(*leaves)
        (out * weights).sum().backward()
        results.append([out, *(leaf.grad for leaf in leaves)])
    for ours, torchs in zip(*results):
        torch.testing.assert_close(ours, torchs)
    assert results[0][4][:, :, :, 5:].abs().max() == 0, "no gradient reaches the padded keys' bias"
