"""Model sections: strict validation, presets, helpful errors."""

import pytest

from gnnjet.errors import ConfigError
from gnnjet.nn.registry import FAMILIES, build_model, validate_model_section


def test_resolved_section_spells_out_every_parameter():
    section = validate_model_section({"name": "particlenet", "preset": "lite", "k": 5})
    assert section["k"] == 5 and section["blocks"] == [[32, 32, 32], [64, 64, 64]] and section["head"] == [128]
    assert section["embed_dim"] is None and section["pooling"] == "mean"


def test_unknown_model_lists_available():
    with pytest.raises(ConfigError, match=r"model\.name: unknown model 'particlenett'; did you mean 'particlenet'\? "
                                          r"available: particlenet .*gcn.*gat.*deepsets.*transformer"):
        validate_model_section({"name": "particlenett"})


def test_unknown_key_and_bad_values():
    with pytest.raises(ConfigError, match=r"model\.hiden: unknown key; did you mean 'hidden'"):
        validate_model_section({"name": "gcn", "hiden": [32]})
    with pytest.raises(ConfigError, match=r"model\.pooling: .*did you mean 'mean'"):
        validate_model_section({"name": "gcn", "pooling": "meen"})
    with pytest.raises(ConfigError, match=r"model\.blocks\[1\]: expected a list"):
        validate_model_section({"name": "particlenet", "blocks": [[32], 64]})
    with pytest.raises(ConfigError, match=r"model\.preset: gcn has no preset 'lite'"):
        validate_model_section({"name": "gcn", "preset": "lite"})
    with pytest.raises(ConfigError, match=r"model\.name: missing required key"):
        validate_model_section({})


@pytest.mark.parametrize("section, message", [
    ({"name": "gat", "hidden": [30], "heads": 4},
     r"model\.heads: every hidden size \[30\] must be divisible by heads=4"),
    ({"name": "transformer", "heads": 5}, r"model\.heads: the embedding width embed_dims\[-1\]=64 must be divisible "
                                          r"by heads=5"),
    ({"name": "mipart", "pair_dims": [16, 16, 24]}, r"model\.pair_dims: .*=32 must be divisible by pair_dims\[-1\]=24"),
    ({"name": "mipart", "heads": 3}, r"model\.heads: .* divisible by heads=3"),
    ({"name": "particlenet", "preset": "weaver", "embed_dim": 32}, r"model\.embed_dim: layout 'weaver' has no input "
                                                                   "embedding"),
])
def test_each_family_checks_its_options_at_validation(section, message):
    """An inconsistent option is a ConfigError naming the key when the section is validated (before any data is
    read), and build_model, which validates again, refuses it the same way."""
    with pytest.raises(ConfigError, match=message):
        validate_model_section(section)
    with pytest.raises(ConfigError, match=message):
        build_model(section, 4, 0, 2, num_node_types=3)


def test_families_without_constraints_accept_their_presets():
    for name, family in FAMILIES.items():
        for preset in family.presets:
            validate_model_section({"name": name, "preset": preset})
        assert family.published is None or family.published in family.presets
