"""The transformer: the published parameter count, the two layouts, attention with a trainable bias."""

import pytest
import torch

from gnnjet.nn.models.transformer import (
    AttentionBlock,
    ParticleTransformer,
    WeaverAttentionBlock,
    WeaverParticleTransformer,
)
from gnnjet.nn.registry import build_model, count_parameters
from tests.nn.conftest import NUM_NODE_TYPES


def test_part_preset_parameter_count_matches_reference():
    """ParT as published (REFERENCE.md): about 2.14M parameters for 17 inputs and 10 classes."""
    model = build_model({"name": "transformer", "preset": "part"}, 17, 0, 10, num_node_types=NUM_NODE_TYPES)
    assert count_parameters(model) == pytest.approx(2_140_000, rel=0.02)


@pytest.mark.parametrize("layout, model_class, block_class", [
    ("gnnjet", ParticleTransformer, AttentionBlock), ("weaver", WeaverParticleTransformer, WeaverAttentionBlock)])
def test_each_layout_is_its_own_class(layout, model_class, block_class):
    model = build_model({"name": "transformer", "preset": "small", "layout": layout, "dropout": 0.3}, 5, 0, 2,
                        num_node_types=NUM_NODE_TYPES)
    assert type(model) is model_class
    assert all(type(block) is block_class for block in [*model.blocks, *model.class_blocks])
    class_dropout = model.class_blocks[0].dropout.p
    assert class_dropout == (0.0 if layout == "weaver" else 0.3)  # weaver-core's class blocks have no dropout
    assert ("head_scale" in dict(model.blocks[0].named_parameters())) == (layout == "weaver")
    assert model.weaver_architecture == ("transformer" if layout == "weaver" else None)


def test_weaver_layout_maps_every_tensor_by_name():
    model = build_model({"name": "transformer", "preset": "small", "layout": "weaver"}, 5, 0, 2, num_node_types=1)
    names = model.weaver_names()
    assert set(names) == set(model.state_dict())
    assert names["blocks.0.ffn.3.weight"].key == "blocks.0.post_fc_norm.weight"  # the LayerNorm, found by type
    assert names["blocks.0.ffn.4.weight"].key == "blocks.0.fc2.weight"
    assert names["blocks.0.attn.query.weight"].key == names["blocks.0.attn.key_value.weight"].key
    assert names["pair.net.0.running_mean"].permute == (0, (2, 0, 1, 3))
    assert names["pair.net.1.weight"].permute == (1, (2, 0, 1, 3)) and names["pair.net.1.weight"].trailing == 1


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
