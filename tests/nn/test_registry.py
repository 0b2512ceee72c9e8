"""Model sections: strict validation, presets, helpful errors."""

import pytest

from gnnjet.errors import ConfigError
from gnnjet.nn.registry import build_model, validate_model_section


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


def test_inconsistent_heads():
    with pytest.raises(ValueError, match="divisible by heads"):
        build_model({"name": "gat", "hidden": [30], "heads": 4}, 4, 0, 2)
