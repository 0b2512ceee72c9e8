"""weaver-core data configs read as gnnjet configs (`gnnjet.weaver_config`): what each weaver key becomes, and each
mistake one config error naming its key, before any file is read."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from gnnjet.config import validate_config
from gnnjet.errors import ConfigError
from gnnjet.weaver_config import network_options, parse_data_config, weaver_run_config

FILES = Path(__file__).parent / "nn" / "weaver_files"
TOP = yaml.safe_load((FILES / "top_manual.yaml").read_text())


def run_config(tmp_path: Path, data: dict, network: Path = FILES / "mean_net.py", regression: bool = False,
               base: dict | None = None) -> dict:
    path = tmp_path / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return weaver_run_config(base, path, network, {"hidden": 4}, regression)


def test_groups_become_node_types_features_and_jet_features(tmp_path):
    config = validate_config(run_config(tmp_path, TOP, base={"data": {"train": ["a.root"]}}))
    data = config["data"]
    assert list(data["node_types"]) == ["pf", "sv"]
    pf, sv = data["node_types"]["pf"], data["node_types"]["sv"]
    assert pf["max_nodes"] == 48 and sv["max_nodes"] == 4
    # a branch read as it is (not a new variable), unprocessed first: whatever the order of the groups
    assert pf["coordinates"] == ["part_deta"] and sv["coordinates"] == ["sv_deta"]
    reordered = {**TOP, "inputs": dict(sorted(TOP["inputs"].items()))}
    assert run_config(tmp_path, reordered)["data"]["node_types"]["pf"]["coordinates"] == ["part_deta"]
    features = {f["name"]: f for f in pf["features"]}
    assert list(features)[:3] == ["part_deta", "part_dphi", "part_pt_log"]  # each variable once, in group order
    assert features["part_deta"] == {"name": "part_deta", "expr": "part_deta", "center": None, "scale": None,
                                     "clip": None}
    assert features["part_logptrel"]["clip"] == [-3.0, 3.0] and features["part_pt_log"]["clip"] == [-5.0, 5.0]
    assert features["part_dz"]["center"] == 0.0 and features["part_dz"]["scale"] == 10.0
    assert [f["name"] for f in data["jet_features"]] == ["jet_pt", "n_sv"]
    assert data["variables"]["part_pt"] == "np.hypot(part_px, part_py)"
    assert data["tree"] is None and data["selection"] == TOP["selection"]
    assert data["test_selection"] == TOP["test_time_selection"] and data["observers"] == ["jet_pt", "jet_eta"]
    assert config["task"] == {**config["task"], "type": "classification",
                              "labels": {"jet_isTop": "jet_isTop", "jet_isQCD": "jet_isQCD"}}
    assert config["task"]["loss"].endswith("mean_net.py:get_loss")  # the file has a get_loss
    assert config["model"]["name"].endswith("mean_net.py:get_model") and config["model"]["options"] == {"hidden": 4}
    assert config["weaver"]["data_config"] == TOP


def test_auto_preprocessing_leaves_masks_and_null_centres_raw():
    auto = yaml.safe_load((FILES / "top_auto.yaml").read_text())
    variables = {v.name: v for g in parse_data_config(auto).groups for v in g.variables}
    assert variables["part_pt_log"].center == "auto" and variables["part_e_log"].center == "auto"
    assert variables["sv_mask"].center is None and variables["part_deta"].center is None
    assert variables["part_logptrel"].center == -4.7
    assert variables["part_pt_log"].feature()["scale"] == "auto"


def test_weights_map_to_gnnjet_weights(tmp_path):
    precomputed = {**TOP, "weights": {"use_precomputed_weights": True, "weight_branches": ["w1", "w2"]}}
    assert run_config(tmp_path, precomputed)["data"]["weights"] == {"expr": "(w1) * (w2)", "reweight": None}
    reweight = {**TOP, "weights": {"use_precomputed_weights": False, "reweight_method": "flat",
                                   "reweight_vars": {"jet_pt": [20, 100, 1000], "jet_eta": [-2, 0, 2]},
                                   "reweight_classes": ["jet_isTop", "jet_isQCD"], "reweight_threshold": 15}}
    weights = validate_config({**run_config(tmp_path, reweight), "data": {
        **run_config(tmp_path, reweight)["data"], "train": ["a.root"]}})["data"]["weights"]
    assert weights["reweight"]["vars"] == {"jet_pt": [20, 100, 1000], "jet_eta": [-2, 0, 2]}
    assert weights["reweight"]["classes"] == ["jet_isTop", "jet_isQCD"] and weights["reweight"]["threshold"] == 15


def broken(change) -> dict:
    data = copy.deepcopy(TOP)
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(selektion="x"), "selektion: unknown key; did you mean 'selection'?"),
    (lambda d: d["inputs"]["pf_mask"].update(pad_mode="wrap"), "inputs.pf_mask.pad_mode: a mask group is padded"),
    (lambda d: d["inputs"]["pf_features"].update(pad_mode="edge"), "inputs.pf_features.pad_mode: expected one of"),
    (lambda d: d["inputs"]["pf_features"]["vars"].append(["part_pt_log", 1.0]),
     "inputs.pf_features.vars[6]: part_pt_log has other preprocessing than in inputs.pf_features"),
    (lambda d: d["inputs"]["pf_features"]["vars"].append(["x", "a"]), "inputs.pf_features.vars[6][1] (subtract_by)"),
    (lambda d: d["inputs"]["pf_features"]["vars"].append(["x", 0, -1]),
     "inputs.pf_features.vars[6][2] (multiply_by): must be positive"),
    (lambda d: d["inputs"]["pf_features"]["vars"].append(["x", 0, 1, 3, -3]), "clip_min 3.0 is above clip_max"),
    (lambda d: d["inputs"]["pf_features"]["vars"].append(["x", 0, 1, 0, 1, 0, 7]), "at most 6 entries"),
    (lambda d: d["inputs"]["pf_points"].update(length=0), "inputs.pf_points.length: expected a positive integer"),
    (lambda d: d.update(branch_magic={"a": "b"}), "branch_magic: expected null (not supported"),
    (lambda d: d.update(labels={"type": "fancy", "value": []}), "labels.type: expected one of 'simple', 'custom'"),
    (lambda d: d.update(labels={"type": "custom", "value": {"y": "label"}}), "use regression mode"),
    (lambda d: d.update(weights={"reweight_hists": {"a": [1]}, "reweight_vars": {"x": [1, 2]},
                                 "reweight_classes": ["jet_isTop"]}), "weights.reweight_hists: precomputed"),
    (lambda d: d.update(inputs={"jet": {"length": None, "vars": ["jet_pt"]}}), "inputs: no group has a length"),
])
def test_each_mistake_is_one_error_naming_its_key(tmp_path, change, message):
    with pytest.raises(ConfigError, match=None) as err:
        run_config(tmp_path, broken(change))
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(tmp_path / "data.yaml") in str(err.value)


def test_simple_labels_in_regression_mode_and_files_without_get_model_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="regression mode needs custom labels"):
        run_config(tmp_path, TOP, regression=True)
    plain = tmp_path / "net.py"
    plain.write_text("import torch\n\ndef build(data_config):\n    return torch.nn.Linear(1, 1)\n")
    with pytest.raises(ConfigError, match="net.py: defines no get_model"):
        run_config(tmp_path, TOP, network=plain)
    with pytest.raises(ConfigError, match="does not exist"):
        run_config(tmp_path, TOP, network=tmp_path / "missing.py")


def test_a_training_config_beside_it_may_not_set_what_the_data_config_sets(tmp_path):
    for base, key in (({"data": {"node_types": {}}}, "data.node_types"), ({"task": {}}, "task"),
                      ({"model": {"name": "deepsets"}}, "model")):
        with pytest.raises(ConfigError, match=f"^{key}: set by --data-config"):
            run_config(tmp_path, TOP, base=base)


def test_the_config_of_a_run_checks_its_weaver_section_and_model():
    config = weaver_run_config(None, FILES / "top_manual.yaml", FILES / "mean_net.py")
    config["data"]["train"] = ["a.root"]
    bad = copy.deepcopy(config)
    bad["weaver"]["data_config"]["inputs"]["pf_mask"]["pad_mode"] = "wrap"
    with pytest.raises(ConfigError, match="^weaver.data_config.inputs.pf_mask.pad_mode"):
        validate_config(bad)
    builtin = copy.deepcopy(config)
    builtin["model"] = {"name": "deepsets"}
    with pytest.raises(ConfigError, match="^model.name: a weaver data config"):
        validate_config(builtin)


def test_network_options_are_python_literals_as_in_weaver():
    assert network_options([("k", "3"), ("conv", "[(4, (16, 16))]"), ("act", "gelu"), ("flag", "True")]) == \
        {"k": 3, "conv": [(4, (16, 16))], "act": "gelu", "flag": True}
    with pytest.raises(ConfigError, match="--network-option 1x"):
        network_options([("1x", "3")])
