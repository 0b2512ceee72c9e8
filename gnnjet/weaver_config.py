"""weaver-core's data configs (the YAML of its `--data-config`) read as gnnjet configs, without importing weaver.

A weaver data config names input groups (``pf_points``, ``pf_features``, ``pf_vectors``, ``pf_mask``, ...), each a
list of variables padded to the group's `length` (`pad_mode` constant or wrap) with its own preprocessing
``[name, subtract_by, multiply_by, clip_min, clip_max, pad_value]``. gnnjet reads the same jets into its own config:

- groups that share the prefix of their name (``pf`` of ``pf_features``) are one node type, its constituents in
  file order and capped at the longest of the groups' lengths; its graph coordinate is a variable read from the
  files as it is (one without preprocessing first; constituents where it is NaN/inf are dropped, and counted); groups
  with ``length: null`` hold per-jet variables (jet features);
- each variable is a feature with weaver's preprocessing: no transform for a null subtract_by (or a ``*_mask``
  variable under auto), else ``clip((x - center) * scale, min, max)``, ``auto`` fitted as weaver does (median and
  1 / max(p84 - p50, p50 - p16));
- new_variables are data.variables (weaver's ``np.``/``ak.``/``math.`` spellings are gnnjet expressions), selection
  and test_time_selection the selections, observers (and monitor_variables) the observers, simple labels the
  classes, custom labels the regression targets (with regression mode, as weaver's --regression-mode), weights
  the jet weights (precomputed branches) or the histogram reweighting.

The network (`nn/weaver_network.py`) receives each group as weaver does: float32 [B, vars, length] in
``model_info['input_names']`` order, padded by the group's pad mode with each variable's pad value.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from gnnjet.errors import ConfigError
from gnnjet.schema import REQUIRED, ListOf, OneOf, Record, Scalar, describe, read_yaml_file

# data keys the weaver data config sets (a gnnjet config given beside it with -c must leave them out)
OWNED_DATA_KEYS = ("tree", "variables", "selection", "test_selection", "node_types", "jet_features", "observers",
                   "weights")
_CLIP = (-5.0, 5.0)  # weaver-core's default clip_min, clip_max

_string = Scalar(str)
_number = Scalar(float)
_expression = Scalar(str, nullable=True, what="an expression string or null")

INPUT_GROUP = Record(
    {
        "length": (Scalar(int, nullable=True, check=lambda v: v is None or v > 0, what="a positive integer or null"),
                   None),
        "pad_mode": (Scalar(str, choices=("constant", "wrap")), "constant"),
        "vars": (ListOf(OneOf([_string, ListOf(Scalar(object, nullable=True), min_length=1)],
                              what="a variable name or a list [name, subtract_by, multiply_by, clip_min, clip_max, "
                                   "pad_value]"), min_length=1), REQUIRED),
    },
    what="an input group {length, pad_mode, vars}",
)

WEIGHTS = Record(
    {
        "use_precomputed_weights": (Scalar(bool), False),
        "weight_branches": (ListOf(_string, min_length=1, nullable=True), None),
        "reweight_method": (Scalar(str, choices=("flat", "ref")), "flat"),
        "reweight_vars": (Scalar(dict, nullable=True, what="a mapping {variable: bin edges}"), None),
        "reweight_classes": (ListOf(_string, min_length=1, nullable=True), None),
        "class_weights": (ListOf(_number, nullable=True), None),
        "reweight_threshold": (_number, 10.0),
        "reweight_discard_under_overflow": (Scalar(bool), True),
        "reweight_basewgt": (_expression, None),
        "reweight_hists": (Scalar(dict, nullable=True), None),
    },
    what="a weights mapping",
    nullable=True,
)

DATA_CONFIG = Record(
    {
        "treename": (Scalar(str, nullable=True), None),
        "branch_magic": (Scalar(dict, nullable=True, choices=(None,), what="null (not supported: it renames "
                                                                            "branches by pattern)"), None),
        "file_magic": (Scalar(dict, nullable=True, choices=(None,), what="null (not supported: it makes variables "
                                                                          "from file names)"), None),
        "selection": (_expression, None),
        "test_time_selection": (_expression, None),
        "preprocess": (Record({"method": (Scalar(str, choices=("manual", "auto")), "manual"),
                               "data_fraction": (Scalar(float, check=lambda v: 0 < v <= 1, what="a number in (0, 1]"),
                                                 0.1),
                               "params": (Scalar(dict, nullable=True), None)},
                              what="a preprocess mapping {method, data_fraction, params}", nullable=True), None),
        "new_variables": (Scalar(dict, nullable=True, what="a mapping {name: expression}"), None),
        "inputs": (Scalar(dict, what="a mapping {group name: {length, pad_mode, vars}}"), REQUIRED),
        "labels": (Record({"type": (Scalar(str, choices=("simple", "custom")), REQUIRED),
                           "value": (OneOf([ListOf(_string, min_length=1), Scalar(dict)],
                                           what="a list of label variables (simple) or a mapping (custom)"),
                                     REQUIRED)},
                          what="a labels mapping {type, value}"), REQUIRED),
        "observers": (ListOf(_string, nullable=True), None),
        "monitor_variables": (ListOf(_string, nullable=True), None),
        "weights": (WEIGHTS, None),
        "bucketing": (Scalar(dict, nullable=True), None),  # an ordering of batches by length: nothing to pad here
    },
    what="a weaver-core data config",
)


@dataclass(frozen=True)
class Variable:
    """One variable of an input group with its preprocessing: center None means no transform (no clip)."""

    name: str
    center: float | str | None  # a number, "auto" or None
    scale: float
    low: float
    high: float
    pad_value: float

    def feature(self) -> dict[str, Any]:
        """The gnnjet feature of this variable (config form)."""
        if self.center is None:
            return {"name": self.name, "expr": self.name, "center": None, "scale": None, "clip": None}
        scale = "auto" if self.center == "auto" else self.scale
        return {"name": self.name, "expr": self.name, "center": self.center, "scale": scale,
                "clip": [self.low, self.high]}


@dataclass(frozen=True)
class Group:
    """An input group: its variables, padded to `length` (None: per-jet values, [B, vars]) by `pad_mode`."""

    name: str
    length: int | None
    pad_mode: str
    variables: tuple[Variable, ...]

    @property
    def node_type(self) -> str | None:
        """The node type whose constituents the group holds (its name's prefix), None for a per-jet group."""
        return None if self.length is None else self.name.split("_")[0]


@dataclass(frozen=True)
class WeaverData:
    """A checked weaver data config: its input groups and the mapping it was read from (`options`)."""

    groups: tuple[Group, ...]
    options: dict[str, Any]

    @property
    def labels(self) -> dict[str, Any]:
        return self.options["labels"]

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    def node_types(self) -> dict[str, list[Group]]:
        """{node type: its groups} in the order the groups are listed."""
        types: dict[str, list[Group]] = {}
        for group in self.groups:
            if group.node_type is not None:
                types.setdefault(group.node_type, []).append(group)
        return types

    def gnnjet_data(self) -> dict[str, Any]:
        """The data keys of OWNED_DATA_KEYS (config form)."""
        options = self.options
        derived = set(options["new_variables"] or {})
        node_types = {}
        for name, groups in self.node_types().items():
            variables = _unique(v for g in groups for v in g.variables)
            # the collection is found through its coordinate: best a branch read as it is (a new variable such as
            # sv_pt / jet_pt mixes in per-jet branches; a raw one, like the points' deta, is finite where it exists)
            read = [v for v in variables if v.name not in derived]
            first = next((v for v in read if v.center is None), (read or variables)[0])
            node_types[name] = {"max_nodes": max(g.length for g in groups),  # type: ignore[type-var]
                                "coordinates": [first.name],
                                "features": [v.feature() for v in variables]}
        if not node_types:
            raise ConfigError("inputs: no group has a length: weaver's networks read at least one group of "
                              "constituents padded to a length")
        jet_variables = _unique(v for g in self.groups if g.node_type is None for v in g.variables)
        variables = {k: str(v) for k, v in (options["new_variables"] or {}).items() if k != v}
        observers = [*(options["observers"] or []), *(options["monitor_variables"] or [])]
        return {"tree": options["treename"], "variables": variables, "selection": options["selection"],
                "test_selection": options["test_time_selection"], "node_types": node_types,
                "jet_features": [v.feature() for v in jet_variables], "observers": list(dict.fromkeys(observers)),
                "weights": _weights(options["weights"])}

    def gnnjet_task(self, regression: bool) -> dict[str, Any]:
        """The task section: simple labels are classes, custom labels regression targets (`regression`)."""
        kind, value = self.labels["type"], self.labels["value"]
        if kind == "simple":
            if regression:
                raise ConfigError("labels: regression mode needs custom labels (type: custom, value: {name: "
                                  "expression}), not simple ones")
            if len(value) < 2:
                raise ConfigError(f"labels.value: a classification needs at least two labels, got {value}")
            return {"type": "classification", "labels": {name: name for name in value}}
        if not regression:
            raise ConfigError("labels: custom labels are regression targets in gnnjet: use regression mode "
                              "(--regression-mode); a custom class-index label is not supported, as the number of "
                              "classes is not in the config: list one-hot labels with type: simple")
        return {"type": "regression", "targets": {str(k): str(v) for k, v in value.items()}}


def _unique(variables: Any) -> list[Variable]:
    """The variables in order, each name once (a variable may appear in several groups)."""
    first: dict[str, Variable] = {}
    for variable in variables:
        first.setdefault(variable.name, variable)
    return list(first.values())


def _weights(weights: dict[str, Any] | None) -> dict[str, Any] | None:
    """data.weights of weaver's weights section."""
    if weights is None:
        return None
    if weights["use_precomputed_weights"]:
        if not weights["weight_branches"]:
            raise ConfigError("weights.weight_branches: use_precomputed_weights needs the weight branches")
        return {"expr": " * ".join(f"({b})" for b in weights["weight_branches"]), "reweight": None}
    if weights["reweight_hists"] is not None:
        raise ConfigError("weights.reweight_hists: precomputed histograms are not read; gnnjet fits them on the "
                          "training jets (leave reweight_hists out)")
    if not weights["reweight_vars"] or not weights["reweight_classes"]:
        raise ConfigError("weights: reweighting needs reweight_vars and reweight_classes")
    return {"expr": weights["reweight_basewgt"],
            "reweight": {"vars": dict(weights["reweight_vars"]), "method": weights["reweight_method"],
                         "classes": list(weights["reweight_classes"]), "class_weights": weights["class_weights"],
                         "threshold": weights["reweight_threshold"],
                         "discard_outside": weights["reweight_discard_under_overflow"]}}


def parse_data_config(raw: Any, path: str = "") -> WeaverData:
    """Check a weaver data config mapping (as its YAML gives it); every mistake is one ConfigError naming the key
    (prefixed by `path`)."""
    options = DATA_CONFIG.validate(copy.deepcopy(raw), path)
    options["preprocess"] = options["preprocess"] or {"method": "manual", "data_fraction": 0.1, "params": None}
    auto = options["preprocess"]["method"] == "auto"
    params = options["preprocess"]["params"]
    groups, seen = [], {}
    for name, entry in options["inputs"].items():
        where = f"{path}.inputs.{name}" if path else f"inputs.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{where}: a group name must be a plain identifier (e.g. pf_features)")
        group = INPUT_GROUP.validate(entry, where)
        if name.endswith("_mask") and group["pad_mode"] != "constant":
            raise ConfigError(f"{where}.pad_mode: a mask group is padded with constants (weaver-core requires it)")
        variables = []
        for i, var in enumerate(group["vars"]):
            variable = _variable(var, auto, params, f"{where}.vars[{i}]")
            if variable.name in seen and seen[variable.name][1] != variable:
                raise ConfigError(f"{where}.vars[{i}]: {variable.name} has other preprocessing than in "
                                  f"{seen[variable.name][0]} (weaver-core refuses it too)")
            seen.setdefault(variable.name, (where, variable))
            variables.append(variable)
        groups.append(Group(name, group["length"], group["pad_mode"], tuple(variables)))
    options["inputs"] = copy.deepcopy(raw["inputs"])  # as given: the networks read it through the data config
    return WeaverData(tuple(groups), options)


def _variable(entry: Any, auto: bool, params: dict[str, Any] | None, where: str) -> Variable:
    """A variable of weaver's [name, subtract_by, multiply_by, clip_min, clip_max, pad_value] form (a name alone:
    every default), or from the precomputed `params` of an auto-generated config."""
    entry = [entry] if isinstance(entry, str) else list(entry)
    if len(entry) > 6:
        raise ConfigError(f"{where}: at most 6 entries [name, subtract_by, multiply_by, clip_min, clip_max, "
                          f"pad_value], got {len(entry)}")
    name = entry[0]
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"{where}: the first entry must be a variable name, got {describe(name)}")
    if params is not None:
        if name not in params or not isinstance(params[name], dict):
            raise ConfigError(f"{where}: preprocess.params has no entry for {name}")
        given = params[name]
        entry = [name, given.get("center"), given.get("scale", 1), given.get("min", _CLIP[0]),
                 given.get("max", _CLIP[1]), given.get("pad_value", 0)]
    defaults = [name, "auto" if auto else None, 1.0, *_CLIP, 0.0]
    values = entry + defaults[len(entry):]
    center = values[1]
    if auto and center == "auto" and name.endswith("_mask"):
        center = None  # weaver-core's auto standardisation leaves masks as they are
    if not (center is None or center == "auto"):
        center = _finite(center, f"{where}[1] (subtract_by)")
    scale, low, high, pad = (_finite(v, f"{where}[{i}]") for i, v in enumerate(values[2:], start=2))
    if scale <= 0:
        raise ConfigError(f"{where}[2] (multiply_by): must be positive, got {scale}")
    if low > high:
        raise ConfigError(f"{where}: clip_min {low} is above clip_max {high}")
    return Variable(name, center, scale, low, high, pad)


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        raise ConfigError(f"{where}: expected a finite number, got {describe(value)}")
    return float(value)


def read_data_config(path: str | Path) -> tuple[WeaverData, Any]:
    """The weaver data config at `path`, checked, and the mapping as its YAML gives it; errors name the file and
    the key."""
    raw = read_yaml_file(path, "weaver data config")
    try:
        return parse_data_config(raw), raw
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def functions(path: str | Path) -> set[str]:
    """The top-level functions a Python file defines (read, never imported)."""
    try:
        tree = ast.parse(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"network config {path} does not exist") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ConfigError(f"network config {path}: not a readable Python file ({err})") from None
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def weaver_run_config(base: Mapping[str, Any] | None, data_config: str | Path, network: str | Path,
                      network_options: Mapping[str, Any] | None = None, regression: bool = False) -> dict[str, Any]:
    """A gnnjet config (unvalidated mapping) training weaver-core's `network` file (get_model, and get_loss when it
    defines one) on the jets `data_config` describes; `base` holds the rest (training, data.train, ...: a gnnjet
    config without the keys the data config sets), `network_options` the keyword arguments of get_model/get_loss
    (weaver's --network-option)."""
    weaver, raw = read_data_config(data_config)
    try:
        owned, task = weaver.gnnjet_data(), weaver.gnnjet_task(regression)
    except ConfigError as err:
        raise ConfigError(f"{data_config}: {err}") from None
    defined = functions(network)
    if "get_model" not in defined:
        raise ConfigError(f"network config {network}: defines no get_model(data_config, **kwargs)")
    config = copy.deepcopy(dict(base or {}))
    for section in ("model", "task"):
        if section in config:
            raise ConfigError(f"{section}: set by --data-config and --network-config; leave it out of the config")
    data = config.setdefault("data", {})
    if not isinstance(data, dict):
        raise ConfigError(f"data: expected a mapping, got {describe(data)}")
    clashing = [k for k in OWNED_DATA_KEYS if k in data]
    if clashing:
        raise ConfigError(f"data.{clashing[0]}: set by --data-config; leave it out of the config")
    data.update(owned)  # tree null (weaver's default): each file's only tree
    if "get_loss" in defined:
        task["loss"] = f"{network}:get_loss"
    config["task"] = task
    config["model"] = {"name": f"{network}:get_model", "options": dict(network_options or {})}
    config["weaver"] = {"data_config": raw}
    return config


def network_options(pairs: list[tuple[str, str]] | None) -> dict[str, Any]:
    """weaver-core's ``--network-option KEY VALUE`` pairs as keyword arguments: VALUE as a Python literal (3,
    [64, 64], True), else the text itself (weaver reads them with ast.literal_eval too)."""
    options: dict[str, Any] = {}
    for key, text in pairs or []:
        if not key.isidentifier():
            raise ConfigError(f"--network-option {key}: not a Python keyword name")
        try:
            options[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            options[key] = text
    return options

