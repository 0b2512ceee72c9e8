"""Users' code named in a config (`references`: ``path/to/file.py:name`` or ``package.module:name``), imported and
built. Checking a config never imports it (a config may come from a run directory someone else wrote); building
the model or the loss does. A model's `name` is called as

    name(num_node_features=F, num_jet_features=G, out_dim=K, num_node_types=T, **model.options) -> torch.nn.Module

whose forward(batch) takes gnnjet's PyG Batch (x [N, F], node_type [N], pos [N, D], p4 [N, 4], batch [N], ptr
[B + 1], u [B, G]) and returns [B, K]. A loss (`task.loss`) is called as loss(output, target) -> [B] per-jet
losses (`tasks`). A run directory keeps a copy of a file it used (`runs.code`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from torch import nn

from gnnjet.errors import GnnjetError
from gnnjet.references import parse_reference
from gnnjet.schema import KeywordOptions, Record, Scalar, Spec


class UserModelSection(Spec):
    """A model section naming users' code: {name: REFERENCE, options: {keyword: value}, preset: null}."""

    description = "a model section {name: 'file.py:Class', options: {...}}"

    def validate(self, value: Any, path: str) -> Any:
        fields = {"name": (Scalar(str), None), "preset": (Scalar(str, nullable=True, choices=(None,),
                                                                  what="null (user models have no presets)"), None),
                  "options": (KeywordOptions(), {})}
        section = Record(fields, what=self.description).validate(value, path)
        parse_reference(section["name"], f"{path}.name")  # its form only: a run's config may name a file elsewhere
        return section


def load_reference(text: str, file: Path | None = None) -> Any:
    """The object `text` names, importing its file (or `file`, a run directory's copy of it) or module: this runs
    the user's code. A file that does not import, or lacks the name, is one GnnjetError."""
    where, attr = parse_reference(text, "code")
    if file is None and where.endswith(".py") and not Path(where).is_file():
        raise GnnjetError(f"{text}: the file {where} does not exist (a path relative to the current directory)")
    try:
        if where.endswith(".py") or file is not None:
            module = _import_file(Path(file or where))
        else:
            module = importlib.import_module(where)
    except ImportError as err:
        raise GnnjetError(f"{text}: cannot import {where} ({err})") from None
    except (Exception, SystemExit) as err:  # noqa: BLE001 - users' code can raise anything while it imports
        raise GnnjetError(f"{text}: importing {file or where} failed: {type(err).__name__}: {err}") from None
    if not hasattr(module, attr):
        raise GnnjetError(f"{text}: {file or where} defines no {attr!r}")
    return getattr(module, attr)


def _import_file(path: Path) -> Any:
    """The module of the Python file at `path`, under a name made of its content's hash (two different files of
    the same name never collide; importing the same file again reuses it)."""
    source = path.read_bytes()
    name = f"gnnjet_user_{path.stem}_{hashlib.sha256(source).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not an importable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def build_user_model(section: dict[str, Any], num_node_features: int, num_jet_features: int, out_dim: int,
                     num_node_types: int, file: Path | None = None) -> nn.Module:
    """The model a user section names (module docstring), built with its options; `file` replaces the section's
    file (a run directory's copy). Anything but a torch Module back is a GnnjetError."""
    factory = load_reference(section["name"], file)
    try:
        model = factory(num_node_features=num_node_features, num_jet_features=num_jet_features, out_dim=out_dim,
                        num_node_types=num_node_types, **section["options"])
    except TypeError as err:
        raise GnnjetError(f"model {section['name']}: calling it with gnnjet's sizes (num_node_features, "
                          f"num_jet_features, out_dim, num_node_types) and model.options failed: {err}") from None
    if not isinstance(model, nn.Module):
        raise GnnjetError(f"model {section['name']}: returned a {type(model).__name__}, not a torch.nn.Module")
    return model
