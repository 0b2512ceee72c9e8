"""Pretrained weights: import a checkpoint of another toolkit (weaver-core, the LorentzNet release) as a gnnjet
model directory, and start a training run from one or from a gnnjet run (fine-tuning). The export back to
weaver-core is `gnnjet.export.export_weaver`.

A model directory written here is an ordinary one (config.yaml, preprocess.json, best.pt, last.pt)
that `gnnjet.predict` reads; its checkpoint records where the weights came from and their sha256.

Fine-tuning (the ParT repository's recipe): every tensor of the pretrained model is loaded except an
output layer of another shape (another number of classes), which is replaced by a freshly
initialised one; the output layer learns at `head_lr_mult` times the learning rate (50 by default
when fine-tuning); ``freeze: [backbone]`` keeps everything before the head MLP fixed (weights and BatchNorm
statistics), ``freeze: [batchnorm]`` every BatchNorm layer (affine parameters and statistics).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from gnnjet.config import FREEZABLE, dump_config
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError, GnnjetError
from gnnjet.nn.lorentznet_release import release_to_gnnjet
from gnnjet.nn.state import check_state, output_layer_keys, without_replaced
from gnnjet.nn.weaver import read_state_dict, weaver_to_gnnjet
from gnnjet.runs.checkpoint import load_run_checkpoint, save_checkpoint
from gnnjet.runs.layout import BEST, CONFIG, LAST, PREPROCESS
from gnnjet.runs.model import RunModel
from gnnjet.training.rundir import RunDirectory

log = logging.getLogger(__name__)
# checkpoint formats of other toolkits: (state dict with the prefix stripped, model, source, replace_output) -> state
CONVERTERS = {"weaver": weaver_to_gnnjet, "lorentznet": release_to_gnnjet}


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_checkpoint(checkpoint: str | Path, config: dict[str, Any], out_dir: str | Path, overwrite: bool = False,
                      kind: str = "weaver") -> Path:
    """Map `checkpoint` of another toolkit (`kind`, one of `CONVERTERS`: weaver-core or the LorentzNet release) onto
    the model of `config` (validated) and write a model directory.

    The config's preprocessing must be manual (numbers, no ``auto``): the published models come
    with fixed center/scale. Raises GnnjetError naming the file and the mismatch. `out_dir` follows the rules of
    a training's run directory (`rundir.RunDirectory`): a directory holding a run is refused unless
    `overwrite`, and that run is replaced only once the imported one is written.
    """
    built = RunModel.from_config(config)
    model, spec = built.model, built.spec
    preprocessing = Preprocessing.manual(spec)
    if kind not in CONVERTERS:
        raise GnnjetError(f"unknown checkpoint format {kind!r}; choose one of {', '.join(CONVERTERS)}")
    state = CONVERTERS[kind](read_state_dict(checkpoint), model, str(checkpoint))
    model.load_state_dict(state)
    out_dir = Path(out_dir)
    run_dir = RunDirectory.claim(out_dir, resume=False, overwrite=overwrite)
    try:
        dump_config(config, out_dir / CONFIG)
        preprocessing.save(out_dir / PREPROCESS)
        record = {"model": model.state_dict(), "config": config, "inputs": spec.model_inputs(), "epoch": -1,
                  "source": {"checkpoint": str(Path(checkpoint).resolve()), "sha256": sha256(checkpoint),
                             "from": kind}}
        for name in (BEST, LAST):
            save_checkpoint(out_dir / name, record)
        run_dir.commit()
    finally:
        run_dir.release()
    log.info("imported %s (%d tensors) into %s", checkpoint, len(state), out_dir)
    return out_dir


@dataclass(frozen=True)
class PretrainedWeights:
    """A pretrained model read from disk: a weaver-core or LorentzNet-release checkpoint, or a gnnjet model
    directory."""

    source: Path  # as given: the .pt file or the model directory
    file: Path  # the file holding the weights
    kind: str  # "weaver", "lorentznet" (the LorentzNet release) or "gnnjet"
    state: dict[str, torch.Tensor]  # as stored (the other toolkit's key names for "weaver" and "lorentznet")

    @classmethod
    def read(cls, source: str | Path) -> PretrainedWeights:
        """Read the weights (weights-only); a missing or damaged file is a GnnjetError naming it."""
        source = Path(source)
        if source.is_dir():
            if not (source / BEST).is_file():
                raise GnnjetError(f"pretrained model directory {source} has no {BEST}")
            return cls(source, source / BEST, "gnnjet", load_run_checkpoint(source / BEST)["model"])
        if not source.is_file():
            raise GnnjetError(f"pretrained checkpoint {source} does not exist (give a weaver-core or "
                              "LorentzNet-release .pt file or a gnnjet model directory)")
        state = read_state_dict(source)
        return cls(source, source, "lorentznet" if any(k.startswith("LGEBs.") for k in state) else "weaver", state)

    def preprocessing(self, spec: DataSpec) -> Preprocessing:
        """The input preprocessing the pretrained network expects: a model directory's own preprocess.json, or,
        for a weaver-core checkpoint, the config's fixed numbers (``auto`` would refit the inputs: refused)."""
        if self.kind in CONVERTERS:
            return Preprocessing.manual(spec, why=f"fine-tuning {self.source} needs the fixed preprocessing it "
                                                  "was trained with")
        try:
            return Preprocessing.load(self.source / PREPROCESS, spec)
        except DataError as err:
            raise DataError(f"cannot reuse the pretrained model's preprocessing for this config's features: {err}") \
                from None

    def load_into(self, model: nn.Module, rename: dict[str, str] | None = None,
                  exclude: list[str] | None = None) -> dict[str, Any]:
        """Load into `model` (in place), replacing an output layer of another shape; anything else that differs
        is a GnnjetError naming the key and both shapes. `rename` ({pattern: replacement}, re.sub on the tensors'
        names, gnnjet's names: a weaver-core or LorentzNet checkpoint's after conversion) comes first, then the
        tensors matching a pattern of `exclude` are left out, in the file and in the model (which keeps its initial
        values for them); a pattern that matches nothing is a GnnjetError. Returns what train.log and metrics.csv
        record."""
        output = output_layer_keys(model)
        if self.kind in CONVERTERS:
            state = CONVERTERS[self.kind](self.state, model, str(self.file), replace_output=True)
        else:
            state = self.state
        state = _renamed(state, rename or {}, str(self.file))
        target, excluded = model.state_dict(), set()
        for pattern in map(re.compile, exclude or []):
            matched = {k for k in (*state, *target) if pattern.search(k)}
            if not matched:
                raise GnnjetError(f"training.pretrained_exclude: {pattern.pattern!r} matches no tensor of {self.file} "
                                  "or of the model")
            excluded |= matched
        state = {k: v for k, v in state.items() if k not in excluded}
        if self.kind not in CONVERTERS:
            state, expected, _ = without_replaced(state, {k: v for k, v in target.items() if k not in excluded},
                                                  set(output))
            check_state(state, expected, str(self.file))
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and set(missing) <= set(output) | excluded, (missing, unexpected)
        return {"pretrained": str(self.source.resolve()), "pretrained_sha256": sha256(self.file),
                "tensors": len(state), "excluded": len(excluded & set(target)),
                "replaced_output": bool(set(missing) & set(output))}


def _renamed(state: dict[str, torch.Tensor], rename: dict[str, str], source: str) -> dict[str, torch.Tensor]:
    """`state` with each pattern of `rename` applied to every name in turn (re.sub); two tensors renamed to one
    name is a GnnjetError."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for pattern, replacement in rename.items():
            new = re.sub(pattern, replacement, new)
        if new in out:
            raise GnnjetError(f"training.pretrained_rename: two tensors of {source} are renamed to {new!r}")
        out[new] = value
    return out


def freeze(model: nn.Module, parts: list[str]) -> list[str]:
    """Stop gradients to `parts` (`config.FREEZABLE` and regular expressions): "backbone", every module but the head
    MLP; "batchnorm", every BatchNorm layer (affine parameters and statistics), a common choice on small fine-tuning
    samples; any other entry, the parameters whose names it matches (re.search), and the modules all of whose
    parameters it matches. Returns the names of the frozen modules, which the trainer keeps in eval mode (looked
    up by name each epoch: DDP's SyncBatchNorm conversion replaces BatchNorm objects) so that their statistics
    stay as pretrained too. A regular expression that matches no parameter is a GnnjetError."""
    names: set[str] = set()
    for pattern in (re.compile(part) for part in parts if part not in FREEZABLE):
        matched = [p for name, p in model.named_parameters() if pattern.search(name)]
        if not matched:
            shown = ", ".join(name for name, _ in list(model.named_parameters())[:6])
            raise GnnjetError(f"training.freeze: {pattern.pattern!r} matches no parameter of the model (its "
                              f"parameters are named like {shown}, ...)")
        for parameter in matched:
            parameter.requires_grad_(False)
        for name, module in model.named_modules():
            keys = [f"{name}.{key}" for key, _ in module.named_parameters()]
            if name and keys and all(pattern.search(key) for key in keys):
                names.add(name)
    if "backbone" in parts:
        names |= {name for name, _ in model.named_children() if name != "head"}
        for name, parameter in model.named_parameters():  # top-level parameters (a class token) included
            if not name.startswith("head."):
                parameter.requires_grad_(False)
    if "batchnorm" in parts:
        norms = {name for name, module in model.named_modules() if isinstance(module, _BatchNorm)}
        for name in norms:
            model.get_submodule(name).requires_grad_(False)
        names |= norms
    return sorted(names)


def keep_frozen(model: nn.Module, names: list[str]) -> None:
    """Put the frozen modules (`freeze`) of `model` in eval mode (after `model.train()`)."""
    for name in names:
        model.get_submodule(name).eval()
