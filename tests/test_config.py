"""Strict config validation: errors name the key path and suggest the closest key."""

import pytest

from gnnjet.config import dump_config, load_config, validate_config
from gnnjet.errors import ConfigError


def test_valid_config_fills_defaults(base_config):
    config = validate_config(base_config)
    assert config["data"]["tree"] == "Jets"
    assert config["training"]["batch_size"] == 512
    assert config["task"]["loss"] == "cross_entropy"
    short = config["data"]["node_types"]["charged"]["features"][4]
    assert short == {"name": "ch_charge", "expr": "ch_charge", "center": None, "scale": None, "clip": None}
    full = config["data"]["node_types"]["charged"]["features"][0]
    assert full["center"] == "auto" and full["clip"] == [-5.0, 5.0]


def test_unknown_key_suggests_closest(base_config):
    base_config["data"]["node_typs"] = base_config["data"].pop("node_types")
    with pytest.raises(ConfigError, match=r"data\.node_typs: unknown key; did you mean 'node_types'\?"):
        validate_config(base_config)


def test_error_names_nested_list_path(base_config):
    base_config["data"]["node_types"]["charged"]["features"][3] = {"name": "dphi", "clip": "wide"}
    with pytest.raises(ConfigError, match=r"data\.node_types\.charged\.features\[3\]\.clip: expected a list of 2"):
        validate_config(base_config)


def test_missing_required_key(base_config):
    del base_config["data"]["node_types"]["sv"]["max_nodes"]
    with pytest.raises(ConfigError, match=r"data\.node_types\.sv\.max_nodes: missing required key"):
        validate_config(base_config)


def test_wrong_type_and_bad_choice(base_config):
    base_config["training"] = {"batch_size": "big"}
    with pytest.raises(ConfigError, match=r"training\.batch_size: expected an integer >= 2 .*, got 'big'"):
        validate_config(base_config)
    base_config["training"] = {"optimizer": "adamm"}
    with pytest.raises(ConfigError, match=r"training\.optimizer: .*did you mean 'adam'"):
        validate_config(base_config)


def test_bool_is_not_an_integer(base_config):
    base_config["data"]["node_types"]["sv"]["max_nodes"] = True
    with pytest.raises(ConfigError, match=r"data\.node_types\.sv\.max_nodes"):
        validate_config(base_config)


def test_node_type_names_come_from_the_config(base_config):
    base_config["data"]["node_types"]["photons"] = dict(base_config["data"]["node_types"]["neutral"])
    config = validate_config(base_config)
    assert list(config["data"]["node_types"]) == ["charged", "neutral", "sv", "photons"]
    base_config["data"]["node_types"]["bad name"] = base_config["data"]["node_types"]["neutral"]
    with pytest.raises(ConfigError, match=r"node type name 'bad name'"):
        validate_config(base_config)


def test_node_type_kinematics_in_one_form(base_config):
    charged = base_config["data"]["node_types"]["charged"]
    charged["px"] = "ch_px"
    with pytest.raises(ConfigError, match=r"data\.node_types\.charged: .*px/py/pz/energy is missing py, pz, energy"):
        validate_config(base_config)
    for key in ("pt", "eta", "phi"):
        del charged[key]
    with pytest.raises(ConfigError, match=r"is missing py, pz, energy"):
        validate_config(base_config)
    del charged["px"]
    with pytest.raises(ConfigError, match=r"without kinematics .* needs coordinates"):
        validate_config(base_config)
    charged["coordinates"] = ["ch_x", "ch_y", "ch_z"]
    with pytest.raises(ConfigError, match=r"same number of coordinates.*charged: 3, neutral: 2"):
        validate_config(base_config)


def test_classification_needs_labels(base_config):
    base_config["task"] = {"type": "classification"}
    with pytest.raises(ConfigError, match=r"task\.labels"):
        validate_config(base_config)


def test_shared_column_needs_same_preprocessing(base_config):
    base_config["data"]["node_types"]["neutral"]["features"][0]["clip"] = [-1, 1]
    with pytest.raises(ConfigError, match=r"neutral\.features\[0\]: feature 'log_pt' shares its column"):
        validate_config(base_config)


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config(bad)
    bad.write_text("task: {type: regression}\nmodel: {name: gcn}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: data: missing required key"):
        load_config(bad)


def test_dump_roundtrip(base_config, tmp_path):
    config = validate_config(base_config)
    dump_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml") == config


def test_model_section_is_validated_and_resolved(base_config):
    base_config["model"] = {"name": "gcn", "k": 4}
    config = validate_config(base_config)
    assert config["model"]["k"] == 4 and config["model"]["hidden"] == [64, 64, 64]
    base_config["model"] = {"name": "graphnet"}
    with pytest.raises(ConfigError, match=r"model\.name: unknown model 'graphnet'.*available: particlenet"):
        validate_config(base_config)


def test_shipped_configs_are_valid():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert len(configs) >= 10
    for path in configs:
        load_config(path)


@pytest.mark.parametrize("section, base", [("## Weights and mass decorrelation", "configs/top_particlenet.yaml"),
                                           ("## Per-jet resolution", "configs/jec_particlenet.yaml"),
                                           ("## Several targets", "configs/jec_mass_particlenet.yaml")])
def test_readme_config_examples_validate(section, base):
    """The YAML block of each README section, merged into the shipped config it extends, is a valid config."""
    from pathlib import Path

    import yaml

    from gnnjet.config import validate_config

    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text().split(section, 1)[1]
    block = yaml.safe_load(text.split("```yaml", 1)[1].split("```", 1)[0])
    config = yaml.safe_load((root / base).read_text())
    for key, values in block.items():
        config[key] = {**config[key], **values}
    validated = validate_config(config)
    assert all(validated[key][name] is not None for key, values in block.items() for name in values)
