"""MIParT: the authors' parameter count; no weaver-core counterpart."""

import pytest

from gnnjet.errors import GnnjetError
from gnnjet.nn.registry import build_model, count_parameters
from gnnjet.nn.weaver import gnnjet_to_weaver


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


def test_mipart_is_not_taken_for_a_weaver_transformer():
    """MIParT shares weaver-core's ParT layout but has no weaver-core checkpoint: interchange refuses it."""
    model = build_model({"name": "mipart", "preset": "small"}, 7, 0, 2, num_node_types=1)
    assert model.weaver_architecture is None
    with pytest.raises(GnnjetError, match="only models .*map onto weaver-core"):
        gnnjet_to_weaver(model)
