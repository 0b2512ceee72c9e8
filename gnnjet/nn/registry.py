"""Model families by config name: strict validation of the `model` section and `build_model`.

A model section is ``{name: FAMILY, preset: PRESET, <family parameter>: value, ...}``; values
resolve as family defaults <- preset <- explicit keys, and the resolved section (every parameter
spelled out) is what a model directory's config.yaml records.
"""

from __future__ import annotations

import difflib
import importlib
import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import torch
from torch import nn

from gnnjet.errors import ConfigError
from gnnjet.nn.blocks import Pooling
from gnnjet.nn.models import deepsets, gat, gcn, lgatr, lorentznet, mipart, particlenet, transformer
from gnnjet.nn.padded_norm import PADDED_LENGTH, is_padded_length
from gnnjet.nn.user import UserModelSection, build_user_model
from gnnjet.references import FORM, is_user_code
from gnnjet.schema import ListOf, Record, Scalar, Spec


def _no_check(params: dict[str, Any], path: str) -> None:
    """Families whose options need no check beyond their types."""


@dataclass(frozen=True)
class Family:
    """A model family: `build(num_node_features, num_jet_features, out_dim, num_node_types=..., **params)` (its
    class, or a function choosing among its layouts), default parameters, named presets, the preset of the
    published model (None if the family has none), `check(params, path)`, the family's own config-time
    check of a resolved section (raises ConfigError naming the key), and `choices`, the allowed values of its own
    string options (besides the shared `_CHOICES`), and `imports`, modules its build imports lazily that must be
    imported before `build_model` builds it on the meta device to count its parameters."""

    build: Callable[..., nn.Module]
    defaults: dict[str, Any]
    presets: dict[str, dict[str, Any]]
    description: str
    published: str | None
    check: Callable[[dict[str, Any], str], None]
    choices: dict[str, tuple[str, ...]]
    imports: tuple[str, ...] = ()  # modules the build imports lazily that compute tensors when imported

    @classmethod
    def of(cls, module: ModuleType, model: Callable[..., nn.Module], description: str,
           published: str | None = None) -> "Family":
        """The family defined by `module` (its DEFAULTS, PRESETS and, if it has them, check_options and CHOICES)."""
        return cls(model, module.DEFAULTS, module.PRESETS, description, published,
                   getattr(module, "check_options", _no_check), getattr(module, "CHOICES", {}),
                   getattr(module, "IMPORTS", ()))


FAMILIES: dict[str, Family] = {
    "particlenet": Family.of(particlenet, particlenet.ParticleNet,
                             "DynamicEdgeConv (EdgeConv + knn) blocks, ParticleNet / Lite presets", "particlenet"),
    "gcn": Family.of(gcn, gcn.GCN, "GCNConv stack on a (deta, dphi) knn graph"),
    "gat": Family.of(gat, gat.GAT, "GATv2Conv multi-head stack on a (deta, dphi) knn graph"),
    "deepsets": Family.of(deepsets, deepsets.DeepSets, "per-node MLP + pooling (PFN)", "pfn"),
    "transformer": Family.of(transformer, transformer.build,
                             "ParT-like attention with pairwise interaction bias", "part"),
    "mipart": Family.of(mipart, mipart.MIParT,
                        "More-Interaction Particle Transformer: interaction-only attention, then ParT blocks",
                        "mipart"),
    "lorentznet": Family.of(lorentznet, lorentznet.LorentzNet,
                            "Lorentz-equivariant message passing on four-vectors over the complete jet graph",
                            "lorentznet"),
    "lgatr": Family.of(lgatr, lgatr.LGATrTagger,
                       "L-GATr / L-GATr-slim (lgatr package): Lorentz-equivariant geometric-algebra transformer",
                       "lgatr"),
}
_CHOICES = {"pooling": Pooling.KINDS, "aggr": ("mean", "max", "add"), "norm": ("batch_norm", "layer_norm"),
            "layout": particlenet.LAYOUTS, "pair_features": transformer.PAIR_FEATURES}


_SPECS = {"batchnorm_padding": Scalar((int, str), nullable=True, check=is_padded_length, what=PADDED_LENGTH)}


def _spec_for(key: str, default: Any, choices: dict[str, tuple[str, ...]]) -> Spec:
    if key in _SPECS:
        return _SPECS[key]
    if key in choices:
        return Scalar(str, choices=choices[key], nullable=key == "norm")
    if isinstance(default, bool):
        return Scalar(bool)
    if isinstance(default, int) or default is None:
        return Scalar(int, nullable=default is None, check=lambda v: v is None or 0 < v <= MAX_SIZE, what=_SIZE)
    if isinstance(default, float):
        return Scalar(float, check=math.isfinite, what="a finite number")
    if default and isinstance(default[0], list):
        return ListOf(ListOf(_size, min_length=1), min_length=1)
    return ListOf(_size)


MAX_SIZE = 65536  # the largest width, count or k a model option may take
_SIZE = f"an integer in [1, {MAX_SIZE}]"
_size = Scalar(int, check=lambda v: 0 < v <= MAX_SIZE, what=_SIZE)
MAX_PARAMETERS = 1_000_000_000  # 4 GB of float32 weights: a larger model is a config mistake on any GPU of today


def available() -> str:
    """One line per family with its presets, for error messages and --help."""
    return "; ".join(f"{name} (presets: {', '.join(f.presets)})" for name, f in FAMILIES.items())


def validate_model_section(section: Any, path: str = "model") -> dict[str, Any]:
    """Resolve and check a model section; unknown families/presets/keys are ConfigErrors naming the path. A name
    with a ':' names users' code (`nn.user`), checked without importing it."""
    if not isinstance(section, dict) or "name" not in section:
        raise ConfigError(f"{path}.name: missing required key (one of: {available()}; or your own, {FORM})")
    name = section["name"]
    if is_user_code(name):
        return UserModelSection().validate(section, path)
    if name not in FAMILIES:
        close = difflib.get_close_matches(str(name), list(FAMILIES), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{path}.name: unknown model {name!r}; {hint}available: {available()}")
    family = FAMILIES[name]
    preset = section.get("preset")
    if preset is not None and preset not in family.presets:
        raise ConfigError(f"{path}.preset: {name} has no preset {preset!r}; presets: {', '.join(family.presets)}")
    base = {**family.defaults, **(family.presets[preset] if preset else {})}
    choices = {**_CHOICES, **family.choices}
    fields = {key: (_spec_for(key, value, choices), value) for key, value in base.items()}
    fields["name"] = (Scalar(str), name)
    fields["preset"] = (Scalar(str, nullable=True), None)
    resolved = Record(fields, what=f"a {name} model section").validate(section, path)
    family.check(resolved, path)
    return resolved


def build_model(section: dict[str, Any], num_node_features: int, num_jet_features: int, out_dim: int,
                num_node_types: int, code_file: Path | None = None, per_node: bool = False) -> nn.Module:
    """Instantiate a model section (validated again here); forward(batch) -> [B, out_dim], or with `per_node` (a
    node task) [N, out_dim] (`JetModel.predict_nodes`).

    The sizes are those of `DataSpec.model_inputs` (features per node and per jet, node types) and the task's
    output width. A section naming users' code runs it (`nn.user.build_user_model`; `code_file`: a run
    directory's copy of its file)."""
    section = validate_model_section(section)
    if is_user_code(section["name"]):
        model = build_user_model(section, num_node_features, num_jet_features, out_dim, num_node_types, code_file)
        _check_size(count_parameters(model), section["name"])
        return model
    params = {k: v for k, v in section.items() if k not in ("name", "preset")}
    family = FAMILIES[section["name"]]

    def build() -> nn.Module:
        model = family.build(num_node_features, num_jet_features, out_dim, num_node_types=num_node_types, **params)
        if per_node:
            model.predict_nodes()
        return model

    for module in family.imports:  # imported outside the meta device, where their import-time tensors live
        importlib.import_module(module)
    with torch.device("meta"):  # the model's size before any memory is allocated for it
        _check_size(count_parameters(build()), section["name"])
    return build()


def _check_size(size: int, name: str) -> None:
    if size > MAX_PARAMETERS:
        raise ConfigError(f"model: {name} with these options has {size:,} parameters, more than "
                          f"{MAX_PARAMETERS:,} ({4 * size / 1e9:.0f} GB of float32 weights): reduce its widths")


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
