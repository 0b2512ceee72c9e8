"""Checkpoint interchange with weaver-core: its ParticleNet and ParticleTransformer state dicts <-> gnnjet's
`particlenet` and `transformer` models of layout ``weaver`` (presets ``weaver``).

The ParT repository's JetClass-pretrained files (``ParticleNet_kin.pt``, ``ParT_kin.pt`` ...) are
plain state dicts of a wrapper module, so their keys start with ``mod.``; weaver's own
``--model-prefix`` files may start with ``module.`` (DDP). Both prefixes are stripped. The expected
weaver state is derived from the gnnjet model (`gnnjet_to_weaver`), through the map each family builds next to
its model from its named submodules (`JetModel.weaver_names`, `interchange.WeaverName`), so every key and shape is
checked before anything is loaded: a missing, unexpected or wrongly shaped key is an error naming
it and both shapes, and a checkpoint is loaded whole or not at all. Files are read with
``torch.load(weights_only=True)``: a file that needs code to unpickle is refused, never executed.

ParticleTransformer details that the conversion handles:
- weaver's pair features are ordered (ln kT, ln z, ln Delta, ln m^2), gnnjet's (ln Delta, ln kT,
  ln z, ln m^2): the pair MLP's input BatchNorm and first layer are permuted accordingly.
- weaver-core >= 0.5 packs q, k, v in ``attn.in_proj``; gnnjet keeps q and (k, v) apart.
- Checkpoints from weaver-core < 0.5 (``nn.MultiheadAttention``: keys ``attn.in_proj_weight``; the
  published ``ParT_*.pt`` are of this kind) scaled the attention output per head with
  ``einsum('tbhd,h->tbdh')``, which also transposes heads and channels: channel ``d * H + h`` of
  the output is channel ``h * D + d`` of ``out_proj`` scaled by ``c_attn[h]``. That permutation and
  scale are linear, so they are folded into ``out_proj`` (and ``c_attn`` set to 1): the same
  numbers come out of the layout weaver-core >= 0.5 (and gnnjet) computes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from gnnjet.errors import GnnjetError
from gnnjet.nn.blocks import JetModel
from gnnjet.nn.interchange import WeaverName
from gnnjet.nn.state import check_state, load_weights_only, without_replaced

PREFIXES = ("mod.", "module.")


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """A weaver-core checkpoint -> state dict without the ``mod.``/``module.`` prefix.

    Accepts a plain state dict or a dict holding one under ``model``/``state_dict``. Damaged files
    and files that need code to unpickle raise GnnjetError naming the file.
    """
    state = load_weights_only(path)
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
    """'particlenet' or 'transformer' (gnnjet family names) from a weaver state dict's keys."""
    if any(k.startswith("edge_convs.") for k in state):
        return "particlenet"
    if any(k.startswith("cls_blocks.") for k in state):
        return "transformer"
    raise GnnjetError("the checkpoint is neither a weaver-core ParticleNet (edge_convs.*) nor a ParticleTransformer "
                      f"(cls_blocks.*); its first keys: {', '.join(list(state)[:4])}")


def _names(model: JetModel) -> dict[str, WeaverName]:
    """The model's map of its tensors onto weaver-core's (`JetModel.weaver_names`); a model without a
    weaver-core counterpart is a GnnjetError."""
    if model.weaver_architecture is None:
        raise GnnjetError("only models {name: particlenet, preset: weaver} and {name: transformer, preset: weaver} "
                          "(layout weaver) map onto weaver-core's ParticleNet / ParticleTransformer")
    return model.weaver_names()


def _to_weaver(state: dict[str, Tensor], names: dict[str, WeaverName]) -> dict[str, Tensor]:
    """gnnjet tensors -> weaver's names, shapes and feature orders (tensors sharing a name concatenated)."""
    parts: dict[str, list[Tensor]] = {}
    for key, value in state.items():
        if key not in names:
            raise GnnjetError(f"parameter {key} has no weaver-core counterpart")
        name = names[key]
        if name.permute is not None:
            dim, order = name.permute
            value = value.index_select(dim, torch.tensor([order.index(w) for w in range(len(order))]))
        parts.setdefault(name.key, []).append(value.reshape((*value.shape, *([1] * name.trailing))))
    return {key: values[0] if len(values) == 1 else torch.cat(values) for key, values in parts.items()}


def _from_weaver(state: dict[str, Tensor], target: dict[str, Tensor], names: dict[str, WeaverName]
                 ) -> dict[str, Tensor]:
    """weaver tensors (already checked against `_to_weaver(target)`) -> tensors shaped as `target`'s."""
    out: dict[str, Tensor] = {}
    taken: dict[str, int] = {}  # rows of a shared weaver tensor given to earlier gnnjet tensors
    for key, value in target.items():
        name = names[key]
        shared = sum(names[k].key == name.key for k in target) > 1
        weaver = state[name.key]
        if shared:
            start = taken.get(name.key, 0)
            weaver, taken[name.key] = weaver[start: start + value.shape[0]], start + value.shape[0]
        if name.permute is not None:
            weaver = weaver.index_select(name.permute[0], torch.tensor(name.permute[1]))
        out[key] = weaver.reshape(value.shape)
    return out


def _modernise(state: dict[str, Tensor], heads: int) -> dict[str, Tensor]:
    """A weaver-core < 0.5 ParT state (nn.MultiheadAttention) -> the >= 0.5 layout computing the same numbers.

    Renames ``attn.in_proj_weight/bias`` and folds the old head scale, which also transposed heads and
    channels (module docstring), into ``attn.out_proj``.
    """
    if not any(k.endswith("attn.in_proj_weight") for k in state):
        return state
    state = {k.replace("attn.in_proj_weight", "attn.in_proj.weight").replace("attn.in_proj_bias",
                                                                            "attn.in_proj.bias"): v
             for k, v in state.items()}
    for key in [k for k in state if k.endswith(".c_attn")]:
        block = key[: -len("c_attn")]
        scale = state[key]
        dim = state[block + "attn.out_proj.weight"].shape[0]
        source = torch.arange(dim).view(heads, dim // heads).T.reshape(-1)  # out channel d*H + h <- h*D + d
        factor = scale.repeat(dim // heads).to(state[block + "attn.out_proj.weight"].dtype)  # c[j % H]
        state[block + "attn.out_proj.weight"] = state[block + "attn.out_proj.weight"][source] * factor[:, None]
        state[block + "attn.out_proj.bias"] = state[block + "attn.out_proj.bias"][source] * factor
        state[key] = torch.ones_like(scale)
    return state


def gnnjet_to_weaver(model: JetModel) -> dict[str, Tensor]:
    """State dict of a gnnjet model of layout weaver under weaver-core's key names and shapes (>= 0.5 layout)."""
    return {k: v.clone() for k, v in _to_weaver(model.state_dict(), _names(model)).items()}


def weaver_to_gnnjet(state: dict[str, Tensor], model: JetModel, source: str = "checkpoint",
                     replace_output: bool = False) -> dict[str, Tensor]:
    """A weaver state dict (prefix stripped) -> `model`'s state dict; every key and shape must agree.

    With `replace_output`, an output layer of another shape (another number of classes) is left out
    of the result (the model keeps its own, freshly initialised one); everything else must agree.
    """
    names = _names(model)
    found, family = architecture(state), model.weaver_architecture
    if found != family:
        raise GnnjetError(f"{source}: a weaver-core {found} checkpoint needs model {{name: {found}, preset: weaver}}, "
                          f"but the config's model is {family}")
    if family == "transformer":
        state = _modernise(state, model.heads)
    target = model.state_dict()
    expected = _to_weaver(target, names)
    if replace_output:
        output = model.output_layer_keys()
        state, expected, replaced = without_replaced(state, expected,
                                                     set(_to_weaver({k: target[k] for k in output}, names)))
        if replaced:
            target = {k: v for k, v in target.items() if k not in output}
    check_state(state, expected, source)
    return _from_weaver(state, target, names)
