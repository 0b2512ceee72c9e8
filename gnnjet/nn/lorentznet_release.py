"""Checkpoint import from the LorentzNet release (sdogsq/LorentzNet-release, ``logs/top/pretrained/best-val-model.pt``)
into gnnjet's `lorentznet` family.

The release saves a DDP state dict (keys start with ``module.``, stripped on reading) of its ``LorentzNet`` module:
``embedding``, ``LGEBs.{l}.{phi_e,phi_h,phi_x,phi_m}`` (the same sub-layers and indices as gnnjet's
`LorentzBlock`: ``phi_x`` absent in the last block), and the readout ``graph_dec`` = Linear, ReLU, Dropout, Linear,
which is gnnjet's head MLP ``head.lins.0`` / ``head.lins.1`` (a model section with ``head: [hidden]`` and no jet
features). Every key and shape is checked before anything is loaded (`nn.state.check_state`).

Scores: the release's readout divides each jet's sum over nodes by the batch's padded length, so a jet's score
depends on the other jets of its batch; gnnjet reproduces the release evaluating a jet on its own (the mean over
its own nodes, beams included).
"""

from __future__ import annotations

from torch import Tensor

from gnnjet.errors import GnnjetError
from gnnjet.nn.models.lorentznet import LorentzNet
from gnnjet.nn.state import check_state, without_replaced

RENAMES = (("blocks.", "LGEBs."), ("head.lins.0.", "graph_dec.0."), ("head.lins.1.", "graph_dec.3."))


def release_name(key: str) -> str:
    """A gnnjet LorentzNet state-dict key -> the release's."""
    for ours, theirs in RENAMES:
        if key.startswith(ours):
            return theirs + key[len(ours):]
    return key


def release_to_gnnjet(state: dict[str, Tensor], model: LorentzNet, source: str = "checkpoint",
                      replace_output: bool = False) -> dict[str, Tensor]:
    """A release state dict (prefix stripped, `weaver.read_state_dict`) -> `model`'s state dict; every key and shape
    must agree. With `replace_output`, an output layer of another shape (another number of classes) is left out
    (the model keeps its own)."""
    if not isinstance(model, LorentzNet):
        raise GnnjetError(f"{source}: a LorentzNet-release checkpoint needs model {{name: lorentznet}}")
    if len(model.head.lins) != 2 or model.num_jet_features:
        raise GnnjetError(f"{source}: the release's readout is Linear(hidden, hidden), ReLU, Dropout, Linear: the "
                          "model section needs head: [hidden] and the config no jet features")
    target = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    expected = {release_name(k): v for k, v in target.items()}
    if replace_output:
        state, expected, _ = without_replaced(state, expected, {release_name(k) for k in model.output_layer_keys()})
    check_state(state, expected, source)
    return {k: state[release_name(k)] for k in target if release_name(k) in state}
