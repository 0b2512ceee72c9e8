"""Checkpoint interchange with weaver-core: its ParticleNet state dicts <-> gnnjet's `particlenet` (layout weaver).

The ParT repository's JetClass-pretrained files (``ParticleNet_kin.pt`` ...) are plain state dicts
of a wrapper module, so their keys start with ``mod.``; weaver's own ``--model-prefix`` files may
start with ``module.`` (DDP). Both prefixes are stripped. Every key is mapped by name, every shape
is checked, and a missing or unexpected key is an error naming it: a checkpoint is loaded whole or
not at all. Files are read with ``torch.load(weights_only=True)``: a file that needs code to
unpickle is refused, never executed.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from gnnjet.errors import GnnjetError

PREFIXES = ("mod.", "module.")


def _particlenet_key(key: str, last_fc: int) -> tuple[str, int]:
    """gnnjet particlenet (layout weaver) key -> (weaver-core key, trailing 1-dims of the weaver tensor)."""
    parts = key.split(".")
    if parts[0] == "embedding":
        return "bn_fts." + parts[1], 0
    if parts[0] == "blocks" and parts[2] == "conv":  # blocks.B.conv.nn.J.*: Linear at J = 3i, BatchNorm at 3i + 1
        block, layer, rest = parts[1], int(parts[4]), parts[5]
        if layer % 3 == 0:
            return f"edge_convs.{block}.convs.{layer // 3}.{rest}", 2
        return f"edge_convs.{block}.bns.{layer // 3}.{rest}", 0
    if parts[0] == "blocks" and parts[2] == "shortcut":
        return f"edge_convs.{parts[1]}.{'sc' if parts[3] == '0' else 'sc_bn'}.{parts[4]}", 1 if parts[3] == "0" else 0
    if parts[0] == "head":  # head.lins.J.*: weaver's fc.J.0.* (Linear, ReLU, Dropout) and the last fc.J.*
        layer = int(parts[2])
        return (f"fc.{layer}.{parts[3]}" if layer == last_fc else f"fc.{layer}.0.{parts[3]}"), 0
    raise GnnjetError(f"parameter {key} of this model has no weaver-core counterpart: only particlenet models of "
                      "layout 'weaver' (preset weaver) map onto weaver-core's ParticleNet")


def key_map(model: nn.Module) -> dict[str, tuple[str, int]]:
    """weaver-core key -> (gnnjet key, trailing 1-dims on the weaver side) for every entry of `model`'s state."""
    keys = list(model.state_dict())
    last_fc = max(int(k.split(".")[2]) for k in keys if k.startswith("head.lins."))
    out = {}
    for key in keys:
        weaver_key, dims = _particlenet_key(key, last_fc)
        out[weaver_key] = (key, dims)
    return out


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """A weaver-core checkpoint -> state dict without the ``mod.``/``module.`` prefix.

    Accepts a plain state dict or a dict holding one under ``model``/``state_dict``. Damaged files
    and files that need code to unpickle raise GnnjetError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise GnnjetError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, not a torch file, or a pickle needing code
        raise GnnjetError(f"{path}: cannot read it as a weights-only PyTorch checkpoint (damaged, or it needs code "
                          f"to unpickle, which is refused): {type(err).__name__}: {str(err).splitlines()[0]}") from None
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise GnnjetError(f"{path}: not a state dict (a mapping of parameter names to tensors)")
    out = {}
    for key, value in state.items():
        for prefix in PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        out[key] = value
    return out


def architecture(state: dict[str, Tensor]) -> str:
    """'particlenet' or 'part' from a weaver state dict's keys."""
    if any(k.startswith("edge_convs.") for k in state):
        return "particlenet"
    if any(k.startswith("cls_blocks.") for k in state):
        return "part"
    raise GnnjetError("the checkpoint is neither a weaver-core ParticleNet (edge_convs.*) nor a ParticleTransformer "
                      f"(cls_blocks.*); its first keys: {', '.join(list(state)[:4])}")


def weaver_to_gnnjet(state: dict[str, Tensor], model: nn.Module, source: str = "checkpoint") -> dict[str, Tensor]:
    """A weaver ParticleNet state dict (prefix stripped) -> `model`'s state dict; every key and shape must agree."""
    if architecture(state) != "particlenet":
        raise GnnjetError(f"{source}: importing a weaver ParticleTransformer is not supported yet; "
                          "only ParticleNet checkpoints can be imported")
    if getattr(model, "layout", None) != "weaver":
        raise GnnjetError(f"{source}: a weaver-core ParticleNet checkpoint needs model {{name: particlenet, "
                          "preset: weaver}} (layout weaver)")
    mapping, target = key_map(model), model.state_dict()
    for key, value in state.items():
        if key not in mapping:
            raise GnnjetError(f"{source}: unexpected key {key} (shape {tuple(value.shape)}): the model has no "
                              "such layer; the checkpoint is of another architecture or size")
    out = {}
    for weaver_key, (key, dims) in mapping.items():
        if weaver_key not in state:
            raise GnnjetError(f"{source}: missing key {weaver_key} (the model's {key} has shape "
                              f"{tuple(target[key].shape)}); the checkpoint is of another architecture or size")
        value = state[weaver_key]
        expected = (*target[key].shape, *([1] * dims))
        if tuple(value.shape) != expected:
            raise GnnjetError(f"{source}: {weaver_key} has shape {tuple(value.shape)} but the model expects "
                              f"{expected}; the checkpoint is of another feature count, class count or size")
        out[key] = value.reshape(target[key].shape)
    return out


def gnnjet_to_weaver(model: nn.Module) -> dict[str, Tensor]:
    """State dict of a gnnjet particlenet (layout weaver) under weaver-core ParticleNet's key names and shapes."""
    state = model.state_dict()
    return {weaver_key: state[key].reshape((*state[key].shape, *([1] * dims))).clone()
            for weaver_key, (key, dims) in key_map(model).items()}
