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
                                           ("## Several targets", "configs/jec_mass_particlenet.yaml"),
                                           ("## Your own network", "configs/qg_own_network.yaml")])
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


@pytest.mark.parametrize("feature, message", [
    ({"name": "dphi", "clip": [5, -5]}, r"features\[3\]\.clip: \[min, max\] with min <= max, got \[5\.0, -5\.0\]"),
    ({"name": "dphi", "center": float("inf")}, r"features\[3\]\.center: expected a finite number, 'auto' or null"),
    ({"name": "dphi", "center": float("nan")}, r"features\[3\]\.center: expected a finite number, 'auto' or null"),
    ({"name": "dphi", "scale": float("inf")}, r"features\[3\]\.scale: expected a positive finite number"),
    ({"name": "dphi", "scale": 1e39}, r"features\[3\]\.scale: expected a positive finite number, 'auto' or null"),
    ({"name": "dphi", "clip": [float("-inf"), 5]}, r"features\[3\]\.clip\[0\]: expected a finite number"),
])
def test_manual_preprocessing_follows_the_rules_of_preprocess_json(base_config, feature, message):
    """Accepted before, these trained with rc 0 and then bin/predict.py refused the run's own preprocess.json."""
    base_config["data"]["node_types"]["charged"]["features"][3] = feature
    with pytest.raises(ConfigError, match=message):
        validate_config(base_config)


@pytest.mark.parametrize("key, value, message", [
    ("lr", -1e-3, "training.lr: expected a finite number >= 0"),
    ("lr", float("nan"), "training.lr: expected a finite number >= 0"),
    ("seed", -1, r"training.seed: expected an integer in \[0, 2\^32\)"),
    ("seed", 2**32, r"training.seed: expected an integer in \[0, 2\^32\)"),
    ("weight_decay", float("inf"), "training.weight_decay: expected a finite number >= 0"),
    ("grad_clip", float("nan"), "training.grad_clip: expected a positive finite number or null"),
])
def test_training_values_torch_would_reject_deep_inside_are_config_errors(base_config, key, value, message):
    base_config["training"] = {key: value}
    with pytest.raises(ConfigError, match=message):
        validate_config(base_config)


def test_model_sizes_are_bounded_before_anything_is_allocated(base_config):
    from gnnjet.data.spec import DataSpec
    from gnnjet.nn.registry import build_model

    base_config["model"] = {"name": "deepsets", "phi": [10**10]}
    with pytest.raises(ConfigError, match=r"model\.phi\[0\]: expected an integer in \[1, 65536\]"):
        validate_config(base_config)
    base_config["model"] = {"name": "deepsets", "phi": [0, 64]}
    with pytest.raises(ConfigError, match=r"model\.phi\[0\]: expected an integer in \[1, 65536\]"):
        validate_config(base_config)
    base_config["model"] = {"name": "deepsets", "phi": [60000, 60000, 60000]}  # 7.2e9 weights: 29 GB
    config = validate_config(base_config)
    with pytest.raises(ConfigError, match=r"model: deepsets with these options has 7,21.* parameters, more than"):
        build_model(config["model"], **DataSpec.from_config(config).model_inputs(), out_dim=2)


def test_hostile_yaml_is_refused_in_bounded_time_and_memory(tmp_path):
    import resource
    import time

    laughs = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi"):
        laughs.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    cases = {"laughs.yaml": "\n".join([*laughs, "data: *i"]) + "\n",  # 9^9 = 387M strings when expanded
             "brackets.yaml": "data: " + "[" * 100_000 + "\n",
             "mappings.yaml": "x:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(1500))}
    messages = {"laughs.yaml": "expands to more than 1000000 values through YAML aliases",
                "brackets.yaml": "nested more than 64 levels deep", "mappings.yaml": "nested more than 64 levels deep"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        before, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
        with pytest.raises(ConfigError, match=messages[name]) as error:
            load_config(tmp_path / name)
        assert time.perf_counter() - start < 10 and "\n" not in str(error.value)
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: was 3.2 GB


def test_yaml_syntax_errors_are_one_line_with_the_position(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  train: [a.root\n  val: b\n")
    with pytest.raises(ConfigError) as error:
        load_config(bad)
    assert "\n" not in str(error.value) and "bad.yaml: not valid YAML: line 3, column" in str(error.value)


@pytest.mark.parametrize("given, resolved", [(False, False), (True, "bf16"), ("bf16", "bf16"), ("fp16", "fp16")])
def test_amp_resolves_to_a_precision(given, resolved, base_config):
    assert validate_config({**base_config, "training": {"amp": given}})["training"]["amp"] == resolved


def test_amp_refuses_other_precisions(base_config):
    with pytest.raises(ConfigError, match=r"training.amp: expected false, true, 'bf16' or 'fp16', got 'fp32'"):
        validate_config({**base_config, "training": {"amp": "fp32"}})
