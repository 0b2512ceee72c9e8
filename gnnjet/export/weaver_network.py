"""CMSSW's convention for a run of a weaver-core network file (`nn/weaver_network.py`): the network's own dense
inputs, one per input group of its data config in ``model_info['input_names']`` order (float32 [B, vars, length],
B and each node type's length dynamic; a per-jet group [B, vars]), the task's outputs (`cmssw.deployed_outputs`),
and weaver-core's preprocess.json (its export_json layout: var_names, var_infos with median / norm_factor /
lower_bound / upper_bound / pad, var_length) with the run's fitted parameters (`cmssw.fitted_infos`), as weaver-core's
--export-onnx writes them for the same files."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gnnjet.errors import GnnjetError
from gnnjet.nn.weaver_network import WeaverNetwork
from gnnjet.weaver_config import Group


class DenseNetwork(nn.Module):
    """The weaver network as weaver-core exports it (`model`: built with for_inference=True where get_model takes
    it) on its dense inputs, followed by the deployed outputs (`cmssw.deployed_outputs`), or by nothing when the
    inference network outputs the class probabilities itself."""

    def __init__(self, network: WeaverNetwork, outputs: nn.Module, classification: bool):
        super().__init__()
        self.model, self.outputs = network.for_inference(), outputs
        self.example = trace_inputs(network)  # what the export traces with, and the outputs are compared on
        with torch.no_grad():
            trained, exported = network.network.eval()(*self.example), self.model(*self.example)
        self.softmax_inside = (classification and exported.shape == trained.shape
                               and torch.allclose(exported, torch.softmax(trained, dim=1), atol=1e-5))
        if not (self.softmax_inside or torch.allclose(exported, trained, atol=1e-5)):
            raise GnnjetError("the network built with for_inference=True gives other outputs than the trained one, "
                              "and not their softmax either: export needs the trained network's outputs")

    def forward(self, *inputs: Tensor) -> Tensor:
        output = self.model(*inputs)
        return output if self.softmax_inside else self.outputs(output.reshape(len(output), -1))


def groups_in_order(network: WeaverNetwork) -> list[Group]:
    """The input groups in the order the network takes them."""
    groups = {gather.group.name: gather.group for gather in network.gathers}
    return [groups[name] for name in network.input_names]


def trace_inputs(network: WeaverNetwork, jets: int = 3, seed: int = 0) -> tuple[Tensor, ...]:
    """Example inputs to trace with: noise, masks (``*_mask`` groups) all ones."""
    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for group in groups_in_order(network):
        shape = (jets, len(group.variables)) + (() if group.length is None else (group.length,))
        if group.length is None and len(group.variables) == 1:
            shape = (jets,)
        inputs.append(torch.ones(shape) if group.name.endswith("_mask") else torch.randn(shape, generator=generator))
    return tuple(inputs)


def dynamic_shapes(network: WeaverNetwork) -> tuple[dict[int, Any], ...]:
    """B for every input, one length per node type and padding length (weaver's n_<type> axes)."""
    from torch.export import Dim

    jets, lengths = Dim("B", min=1), {}
    shapes: list[dict[int, Any]] = []
    for group in groups_in_order(network):
        if group.length is None:
            shapes.append({0: jets})
            continue
        key = (group.node_type, group.length)
        lengths.setdefault(key, Dim(f"P_{group.node_type}_{group.length}", min=1))
        shapes.append({0: jets, 2: lengths[key]})
    return tuple(shapes)


def preprocess_json(network: WeaverNetwork, fitted: dict[str, dict[str, float]], identity: dict[str, float],
                    output_names: list[str]) -> dict[str, Any]:
    """weaver-core's export_json of the run's data config: each variable's var_infos are the parameters the run
    fitted (`fitted` by feature name, auto ones included; `identity` for a variable without transform), with the
    variable's own pad value."""
    result: dict[str, Any] = {"output_names": output_names, "input_names": list(network.input_names)}
    for group in groups_in_order(network):
        infos = {v.name: {**(identity if v.center is None else fitted[v.name]), "pad": v.pad_value}
                 for v in group.variables}
        result[group.name] = {"var_names": [v.name for v in group.variables], "var_infos": infos,
                              "var_length": group.length}
    result["gnnjet"] = {"order": "constituents in file order, truncated to var_length, then padded as the data "
                                 "config's pad_mode says (wrap: repeated; constant: each variable's pad)",
                        "non_finite": "NaN to 0 and +-inf to the clip bound (0 unclipped) after the transform"}
    return result

