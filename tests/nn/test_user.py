"""Users' own networks and losses named in a config (model.name / task.loss: file.py:name or package.module:name):
checked without importing, built with gnnjet's sizes and the section's options, clear errors for every mistake."""

from pathlib import Path

import pytest
import torch

from gnnjet.errors import ConfigError, GnnjetError
from gnnjet.nn.registry import build_model, validate_model_section
from gnnjet.nn.state import output_layer_keys
from gnnjet.nn.user import load_reference
from tests.nn.conftest import NUM_FEATURES, NUM_JET_FEATURES, NUM_NODE_TYPES, make_batch, standard_jets

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "networks" / "mean_net.py"


def build(section):
    return build_model(section, NUM_FEATURES, NUM_JET_FEATURES, 3, num_node_types=NUM_NODE_TYPES)


def test_a_network_file_builds_with_gnnjets_sizes_and_its_options():
    model = build({"name": f"{EXAMPLE}:MeanNet", "options": {"hidden": 12}}).eval()
    assert model.particle[0].in_features == NUM_FEATURES and model.particle[0].out_features == 12
    assert model.head[-1].out_features == 3 and model.types.num_embeddings == NUM_NODE_TYPES
    batch = make_batch(standard_jets())
    with torch.no_grad():
        assert model(batch).shape == (len(standard_jets()), 3)
    assert output_layer_keys(model) == ["head.2.weight", "head.2.bias"]  # its last Linear


def test_an_installed_module_is_named_by_its_dotted_path():
    model = build({"name": "docs.examples.networks.mean_net:MeanNet"})
    assert type(model).__name__ == "MeanNet" and model.particle[0].out_features == 64  # the default width


def test_checking_a_section_never_imports_the_code(tmp_path, monkeypatch):
    (tmp_path / "boom.py").write_text("raise SystemExit('imported')\n")
    monkeypatch.chdir(tmp_path)
    section = validate_model_section({"name": "boom.py:Net", "options": {"width": 3}})
    assert section == {"name": "boom.py:Net", "preset": None, "options": {"width": 3}}
    with pytest.raises(GnnjetError, match=r"boom.py:Net: importing boom.py failed: SystemExit: imported"):
        build(section)


@pytest.mark.parametrize("section, message", [
    ({"name": "nets/net.txt:Net"}, r"model.name: 'nets/net.txt:Net' names no code: use 'path/to/file.py:name'"),
    ({"name": "net.py:1Net"}, r"names no code"),
    ({"name": "my module:Net"}, r"names no code"),
    ({"name": "net.py:Net", "preset": "small"}, r"model.preset: expected null \(user models have no presets\)"),
    ({"name": "net.py:Net", "options": {"not a name": 1}}, r"model.options: option 'not a name' is not a Python"),
    ({"name": "net.py:Net", "options": [1]}, r"model.options: expected a mapping of keyword options"),
    ({"name": "net.py:Net", "hidden": 3}, r"model.hidden: unknown key"),
])
def test_a_bad_section_is_one_config_error_naming_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        validate_model_section(section)


def test_building_reports_what_is_wrong_with_the_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GnnjetError, match=r"missing.py:Net: the file missing.py does not exist"):
        build({"name": "missing.py:Net"})
    (tmp_path / "nets.py").write_text("import torch\nclass Net:\n    def __init__(self, **kw):\n        pass\n"
                                      "def strict(num_node_features, num_jet_features, out_dim, num_node_types):\n"
                                      "    return torch.nn.Linear(1, 1)\n")
    with pytest.raises(GnnjetError, match=r"nets.py:Other: nets.py defines no 'Other'"):
        build({"name": "nets.py:Other"})
    with pytest.raises(GnnjetError, match=r"model nets.py:Net: returned a Net, not a torch.nn.Module"):
        build({"name": "nets.py:Net"})
    with pytest.raises(GnnjetError, match=r"model nets.py:strict: calling it with gnnjet's sizes .* failed: .*width"):
        build({"name": "nets.py:strict", "options": {"width": 4}})
    with pytest.raises(GnnjetError, match=r"no_such_package_xyz:Net: cannot import no_such_package_xyz"):
        build({"name": "no_such_package_xyz:Net"})


def test_two_files_of_the_same_name_are_two_modules(tmp_path):
    for folder, value in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "net.py").write_text(f"VALUE = {value}\n")
    assert load_reference(f"{tmp_path / 'a' / 'net.py'}:VALUE") == 1
    assert load_reference(f"{tmp_path / 'b' / 'net.py'}:VALUE") == 2
    # a run's copy replaces the file the reference names
    assert load_reference("elsewhere/net.py:VALUE", file=tmp_path / "b" / "net.py") == 2
