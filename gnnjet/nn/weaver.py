"""Checkpoint interchange with weaver-core: its ParticleNet and ParticleTransformer state dicts <-> gnnjet's
`particlenet` and `transformer` models of layout ``weaver`` (presets ``weaver``).

The ParT repository's JetClass-pretrained files (``ParticleNet_kin.pt``, ``ParT_kin.pt`` ...) are
plain state dicts of a wrapper module, so their keys start with ``mod.``; weaver's own
``--model-prefix`` files may start with ``module.`` (DDP). Both prefixes are stripped. The expected
weaver state is derived from the gnnjet model (`gnnjet_to_weaver`), so every key and shape is
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
from typing import Callable

import torch
from torch import Tensor, nn

from gnnjet.errors import GnnjetError
from gnnjet.nn.state import check_state, load_weights_only, without_replaced

PREFIXES = ("mod.", "module.")
# gnnjet pair feature g is weaver pair feature PAIR_ORDER[g]: (Delta, kT, z, m^2) <- (kT, z, Delta, m^2)
PAIR_ORDER = [2, 0, 1, 3]
WEAVER_PAIR_ORDER = [PAIR_ORDER.index(w) for w in range(4)]


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


def _family(model: nn.Module) -> str:
    name = {"ParticleNet": "particlenet", "ParticleTransformer": "transformer"}.get(type(model).__name__)
    if name is None or getattr(model, "layout", None) != "weaver":
        raise GnnjetError("only models {name: particlenet, preset: weaver} and {name: transformer, preset: weaver} "
                          "(layout weaver) map onto weaver-core's ParticleNet / ParticleTransformer")
    return name


def _head_key(parts: list[str], last_fc: int) -> str:
    """head.lins.J.* -> weaver's fc.J.0.* (Linear, ReLU, Dropout) or, for the last layer, fc.J.*."""
    layer = int(parts[2])
    return f"fc.{layer}.{parts[3]}" if layer == last_fc else f"fc.{layer}.0.{parts[3]}"


# ---- ParticleNet: one weaver tensor per gnnjet tensor, conv weights with trailing 1-dims ----

def _particlenet_key(key: str, last_fc: int) -> tuple[str, int]:
    """gnnjet particlenet key -> (weaver-core key, trailing 1-dims of the weaver tensor)."""
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
    if parts[0] == "head":
        return _head_key(parts, last_fc), 0
    raise GnnjetError(f"parameter {key} has no weaver-core counterpart")


def _particlenet_to_weaver(state: dict[str, Tensor], last_fc: int) -> dict[str, Tensor]:
    out = {}
    for key, value in state.items():
        weaver_key, dims = _particlenet_key(key, last_fc)
        out[weaver_key] = value.reshape((*value.shape, *([1] * dims)))
    return out


def _particlenet_from_weaver(state: dict[str, Tensor], target: dict[str, Tensor], last_fc: int) -> dict[str, Tensor]:
    return {key: state[_particlenet_key(key, last_fc)[0]].reshape(value.shape) for key, value in target.items()}


# ---- ParticleTransformer ----

BLOCK_NAMES = {"norm_attn": "pre_attn_norm", "attn.out": "attn.out_proj", "post_attn": "post_attn_norm",
               "norm_ffn": "pre_fc_norm", "ffn.0": "fc1", "ffn.3": "post_fc_norm", "ffn.4": "fc2",
               "head_scale": "c_attn", "residual_scale": "w_resid"}


def _transformer_key(key: str, last_fc: int) -> str:
    """gnnjet transformer (layout weaver) key -> weaver key; attn.query/key_value both -> attn.in_proj."""
    parts = key.split(".")
    if parts[0] == "input":
        return "embed.input_bn." + parts[1]
    if parts[0] == "embed":
        return "embed." + key
    if parts[0] == "pair":
        return "pair_embed.embed." + ".".join(parts[2:])
    if parts[0] in ("blocks", "class_blocks"):
        inner = ".".join(parts[2:])
        if inner.startswith(("attn.query.", "attn.key_value.")):
            weaver_inner = "attn.in_proj." + parts[-1]
        else:
            name = next((n for n in BLOCK_NAMES if inner == n or inner.startswith(n + ".")), None)
            if name is None:
                raise GnnjetError(f"parameter {key} has no weaver-core counterpart")
            weaver_inner = BLOCK_NAMES[name] + inner[len(name):]
        return f"{'blocks' if parts[0] == 'blocks' else 'cls_blocks'}.{parts[1]}.{weaver_inner}"
    if parts[0] == "class_token":
        return "cls_token"
    if parts[0] == "norm":
        return key
    if parts[0] == "head":
        return _head_key(parts, last_fc)
    raise GnnjetError(f"parameter {key} has no weaver-core counterpart")


def _pair_permutation(key: str) -> tuple[int, list[int]] | None:
    """(dim, order) to bring a gnnjet pair-MLP tensor into weaver's feature order, None if it needs none."""
    if key.startswith("pair.net.0.") and not key.endswith("num_batches_tracked"):
        return 0, WEAVER_PAIR_ORDER
    if key == "pair.net.1.weight":
        return 1, WEAVER_PAIR_ORDER
    return None


def _transformer_to_weaver(state: dict[str, Tensor], last_fc: int) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        weaver_key = _transformer_key(key, last_fc)
        permutation = _pair_permutation(key)
        if permutation is not None:
            value = value.index_select(permutation[0], torch.tensor(permutation[1]))
        if key.startswith("pair.net.") and key.endswith(".weight") and value.dim() == 2:
            value = value.unsqueeze(-1)  # Conv1d(kernel 1) weights
        if ".attn.query." in key:
            value = torch.cat([value, state[key.replace(".query.", ".key_value.")]])
        elif ".attn.key_value." in key:
            continue
        out[weaver_key] = value
    return out


def _transformer_from_weaver(state: dict[str, Tensor], target: dict[str, Tensor], last_fc: int) -> dict[str, Tensor]:
    out = {}
    for key, value in target.items():
        weaver_value = state[_transformer_key(key, last_fc)]
        if ".attn.query." in key:
            weaver_value = weaver_value[: value.shape[0]]
        elif ".attn.key_value." in key:
            weaver_value = weaver_value[-value.shape[0]:]
        permutation = _pair_permutation(key)
        if permutation is not None:
            weaver_value = weaver_value.index_select(permutation[0], torch.tensor(PAIR_ORDER))
        out[key] = weaver_value.reshape(value.shape)
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


Converter = tuple[Callable[[dict[str, Tensor], int], dict[str, Tensor]],
                  Callable[[dict[str, Tensor], dict[str, Tensor], int], dict[str, Tensor]]]
CONVERTERS: dict[str, Converter] = {"particlenet": (_particlenet_to_weaver, _particlenet_from_weaver),
                                    "transformer": (_transformer_to_weaver, _transformer_from_weaver)}


def _last_fc(state: dict[str, Tensor]) -> int:
    return max(int(k.split(".")[2]) for k in state if k.startswith("head.lins."))


def gnnjet_to_weaver(model: nn.Module) -> dict[str, Tensor]:
    """State dict of a gnnjet model of layout weaver under weaver-core's key names and shapes (>= 0.5 layout)."""
    family, state = _family(model), model.state_dict()
    return {k: v.clone() for k, v in CONVERTERS[family][0](state, _last_fc(state)).items()}


def weaver_to_gnnjet(state: dict[str, Tensor], model: nn.Module, source: str = "checkpoint",
                     replace_output: bool = False) -> dict[str, Tensor]:
    """A weaver state dict (prefix stripped) -> `model`'s state dict; every key and shape must agree.

    With `replace_output`, an output layer of another shape (another number of classes) is left out
    of the result (the model keeps its own, freshly initialised one); everything else must agree.
    """
    found, family = architecture(state), _family(model)
    if found != family:
        raise GnnjetError(f"{source}: a weaver-core {found} checkpoint needs model {{name: {found}, preset: weaver}}, "
                          f"but the config's model is {family}")
    if family == "transformer":
        state = _modernise(state, model.heads)
    to_weaver, from_weaver = CONVERTERS[family]
    target = model.state_dict()
    last_fc = _last_fc(target)
    expected = to_weaver(target, last_fc)
    if replace_output:
        output = model.output_layer_keys()
        state, expected, replaced = without_replaced(state, expected, set(to_weaver({k: target[k] for k in output},
                                                                                     last_fc)))
        if replaced:
            target = {k: v for k, v in target.items() if k not in output}
    check_state(state, expected, source)
    return from_weaver(state, target, last_fc)
