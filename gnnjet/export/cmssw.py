"""Export of a trained run in CMSSW's ONNX convention (weaver-core's, which CMSSW's ONNX Runtime jet taggers read):
float32 inputs per node type in weaver's dense layout, probabilities or regression quantities out, and weaver's
preprocessing JSON beside the graph so that a C++ producer can rebuild the inputs.

Inputs, for each node type T of the config in its order (B jets and P_T slots of type T, both dynamic):

    T_points [B, D, P_T]      graph coordinates (deta, dphi to the jet axis by default)
    T_features [B, F_T, P_T]  T's features in the config's order, preprocessed as the JSON's var_infos say
    T_vectors [B, 4, P_T]     (px, py, pz, E) in GeV
    T_mask [B, 1, P_T]        1 for a constituent, 0 for a padding slot (whatever its other inputs hold)
    jet_features [B, G, 1]    the jet features, preprocessed (only when the config has any)

Outputs: a tagger's `softmax` [B, C] (class probabilities, the classes in the JSON's output_names); a regression's
`output` [B, K] whose columns are named in output_names as bin/predict.py names its columns (pred, pred_q16, ...),
plus, for a target named after an observer X, the factors X_corr*_factor that multiply X into bin/predict.py's
X_corr* columns (pt_corr_factor = exp(pred) for the JEC target log(pt_gen / pt)).

Inside the graph the dense slots become gnnjet's packed nodes without a data-dependent size (which the exporter
cannot trace, and which CMSSW's fixed-length inputs do not need): every slot is a node; jet b's constituents,
in type order and slot order, form jet b, and its padding slots plus one extra slot form a jet B + b whose
outputs are dropped. The model sees the packed batch of the constituents exactly, and computes B padding jets
beside it (up to about twice the packed convention's work).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from gnnjet import columns as column_names
from gnnjet.data.preprocess import Params, Preprocessing
from gnnjet.data.spec import DataSpec
from gnnjet.errors import GnnjetError
from gnnjet.export import weaver_network as weaver_export
from gnnjet.export.onnx import DEFAULT_OPSET, ExportCheck, compare_outputs, write_onnx
from gnnjet.fileio import atomic_write_text, make_directory, refuse_to_clobber
from gnnjet.nn.weaver_network import WeaverNetwork
from gnnjet.runs.run import Run
from gnnjet.tasks.base import Task
from gnnjet.tasks.classification import Classification
from gnnjet.tasks.regression import Regression

JSON_NAME = "preprocess.json"  # written beside the graph, as weaver-core's --export-onnx does
UNCLIPPED = 1e32  # weaver-core's bounds of a variable without clipping (JSON has no infinity)
VECTORS = ("px", "py", "pz", "energy")
JET_FEATURES = "jet_features"


@dataclass(frozen=True)
class NodeGroup:
    """One node type's dense inputs: its name (the inputs' prefix), type code, its features' names and the columns
    of gnnjet's x they fill, and the padding length a producer uses (the type's max_nodes)."""

    name: str
    code: int
    features: tuple[str, ...]
    columns: tuple[int, ...]
    length: int


@dataclass(frozen=True)
class DenseLayout:
    """The dense inputs of a model: its node groups, the width F of gnnjet's x, the coordinates' names (D of them)
    and the jet features' names."""

    groups: tuple[NodeGroup, ...]
    num_columns: int
    coordinates: tuple[str, ...]
    jet_features: tuple[str, ...]

    @classmethod
    def of(cls, spec: DataSpec) -> "DenseLayout":
        groups = tuple(NodeGroup(t.name, t.code, tuple(f.name for f, _ in t.features),
                                 tuple(column for _, column in t.features), t.max_nodes) for t in spec.node_types)
        first = spec.node_types[0]
        coordinates = ("deta", "dphi") if first.coordinates is None else tuple(e.text for e in first.coordinates)
        return cls(groups, len(spec.columns), coordinates, tuple(f.name for f in spec.jet_features))

    @property
    def input_names(self) -> list[str]:
        names = [f"{g.name}_{part}" for g in self.groups for part in ("points", "features", "vectors", "mask")]
        return names + ([JET_FEATURES] if self.jet_features else [])


class DenseInterface(nn.Module):
    """A gnnjet model behind the dense inputs of `layout` (module docstring), its raw outputs turned into what a
    producer stores by `outputs` (`deployed_outputs`)."""

    def __init__(self, model: nn.Module, layout: DenseLayout, outputs: nn.Module):
        super().__init__()
        self.model, self.layout, self.outputs = model, layout, outputs
        for group in layout.groups:  # for each column of x, the group's feature filling it (0 if none) and 1/0
            source = torch.zeros(layout.num_columns, dtype=torch.long)
            owned = torch.zeros(layout.num_columns)
            source[list(group.columns)] = torch.arange(len(group.columns))
            owned[list(group.columns)] = 1.0
            self.register_buffer(f"source_{group.name}", source, persistent=False)
            self.register_buffer(f"owned_{group.name}", owned, persistent=False)

    def forward(self, *inputs: Tensor) -> Tensor:
        per_group = [inputs[4 * i : 4 * i + 4] for i in range(len(self.layout.groups))]
        jets = per_group[0][3].shape[0]
        x, node_type, pos, p4, valid = [], [], [], [], []
        for group, (points, features, vectors, mask) in zip(self.layout.groups, per_group):
            gathered = features.transpose(1, 2).index_select(2, getattr(self, f"source_{group.name}"))
            x.append(gathered * getattr(self, f"owned_{group.name}"))  # multiplying by 1 and 0 is exact
            node_type.append(torch.full_like(mask[:, 0], group.code, dtype=torch.long))
            pos.append(points.transpose(1, 2))
            p4.append(vectors.transpose(1, 2))
            valid.append(mask[:, 0] > 0)
        reference = per_group[0][3]  # one extra padding slot per jet: no padding jet is ever empty
        x.append(reference.new_zeros(jets, 1, self.layout.num_columns))
        node_type.append(torch.zeros_like(reference[:, 0, :1], dtype=torch.long))
        pos.append(reference.new_zeros(jets, 1, len(self.layout.coordinates)))
        p4.append(reference.new_zeros(jets, 1, 4))
        valid.append(torch.zeros_like(reference[:, 0, :1], dtype=torch.bool))
        packed = pack_slots(torch.cat(valid, 1), torch.cat(x, 1), torch.cat(node_type, 1), torch.cat(pos, 1),
                            torch.cat(p4, 1))
        u = inputs[-1][:, :, 0] if self.layout.jet_features else reference.new_zeros(jets, 0)
        packed.u = torch.cat([u, torch.zeros_like(u)])  # the padding jets' features: never used
        return self.outputs(self.model(packed)[:jets])


def pack_slots(valid: Tensor, x: Tensor, node_type: Tensor, pos: Tensor, p4: Tensor) -> SimpleNamespace:
    """Dense slots (valid [B, S] bool, x [B, S, F], node_type [B, S], pos [B, S, D], p4 [B, S, 4]) -> the packed
    inputs of a gnnjet model (x, node_type, pos, p4, batch, ptr, u unset, max_num_nodes S) with 2B jets: jet b
    holds the valid slots of row b in order, jet B + b its other slots. Every size depends on B and S alone."""
    jets, slots = valid.shape
    occupied = valid.sum(1)  # [B]
    ptr = torch.cat([occupied.new_zeros(1), torch.cumsum(torch.cat([occupied, slots - occupied]), 0)])
    row = torch.arange(jets, device=valid.device).unsqueeze(1)  # [B, 1]
    jet = torch.where(valid, row, row + jets)  # [B, S]: the packed jet of each slot
    rank = torch.where(valid, torch.cumsum(valid.long(), 1), torch.cumsum((~valid).long(), 1)) - 1
    destination = (ptr[jet] + rank).reshape(-1)  # a permutation of the B S slots
    order = torch.zeros_like(destination).scatter(0, destination, torch.arange(destination.numel(),
                                                                               device=valid.device))

    def packed(values: Tensor) -> Tensor:
        return values.reshape(jets * slots, *values.shape[2:])[order]

    return SimpleNamespace(x=packed(x), node_type=packed(node_type), pos=packed(pos), p4=packed(p4),
                           batch=packed(jet), ptr=ptr, max_num_nodes=slots)


class ClassifierOutputs(nn.Module):
    """Logits [B, C] -> softmax probabilities [B, C], named after the classes."""

    def __init__(self, task: Classification):
        super().__init__()
        self.names = list(task.labels)

    def forward(self, logits: Tensor) -> Tensor:
        return torch.softmax(logits, dim=1)


class RegressionOutputs(nn.Module):
    """Raw outputs [B, T K] -> per target the point estimate, the interval bounds or quantiles (ordered) and, for a
    target named after an observer, the factors exp(...) of each: [B, K'] named as bin/predict.py's columns."""

    def __init__(self, task: Regression, observers: list[str]):
        super().__init__()
        self.task, self.observers = task, set(observers)
        self.names: list[str] = []
        for name in task.targets:
            named = None if len(task.targets) == 1 else name
            parts = [None, *task.bound_levels()]  # the tags of `Regression.estimates`' bounds, in their order
            self.names += [column_names.pred(named, part) for part in parts]
            if name in self.observers:
                self.names += [column_names.corrected(name, part) + "_factor" for part in parts]

    def forward(self, output: Tensor) -> Tensor:
        columns = []
        for t, name in enumerate(self.task.targets):
            point, bounds = self.task.estimates(self.task.head(output, t))
            bounds = list(bounds.values())
            columns += [point, *bounds]
            if name in self.observers:
                columns += [torch.exp(v) for v in (point, *bounds)]
        return torch.stack(columns, dim=1)


def deployed_outputs(task: Task, observers: list[str]) -> ClassifierOutputs | RegressionOutputs:
    """What the exported graph outputs for `task`: probabilities, or the regression quantities."""
    if isinstance(task, Classification):
        return ClassifierOutputs(task)
    if isinstance(task, Regression):
        return RegressionOutputs(task, observers)
    if task.per_node:
        raise GnnjetError(f"a {type(task).__name__} run cannot be exported: its outputs are per node; the exports "
                          "write one row per jet")
    raise GnnjetError(f"no CMSSW outputs for a {type(task).__name__} task")


def dense_inputs(batch: Batch, layout: DenseLayout, lengths: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """A packed gnnjet Batch as the dense inputs of `layout` (float32 numpy arrays by input name): each jet's nodes
    of a type in their packed order, padded with zeros (mask 0) to `lengths[type]` slots (default: the batch's
    largest count of that type, at least 1); a jet with more nodes than its length is a GnnjetError."""
    jets = batch.ptr.numel() - 1
    node_type, jet = batch.node_type.long(), batch.batch
    inputs: dict[str, np.ndarray] = {}
    for group in layout.groups:
        rows = torch.nonzero(node_type == group.code).squeeze(1)
        counts = torch.bincount(jet[rows], minlength=jets)
        length = max(int(counts.max()) if len(rows) else 0, 1)  # a graph input has at least one slot
        if lengths is not None:
            if length > lengths[group.name]:
                raise GnnjetError(f"a jet has {length} {group.name} nodes, more than the {lengths[group.name]} "
                                  "slots it is padded to")
            length = lengths[group.name]
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(rows)) - starts[jet[rows]]

        def dense(values: Tensor, rows: Tensor = rows, slot: Tensor = slot, length: int = length) -> np.ndarray:
            out = torch.zeros(jets, length, values.shape[1])
            out[jet[rows], slot] = values[rows].float()
            return out.transpose(1, 2).contiguous().numpy()

        inputs[f"{group.name}_points"] = dense(batch.pos)
        inputs[f"{group.name}_features"] = dense(batch.x[:, list(group.columns)])
        inputs[f"{group.name}_vectors"] = dense(batch.p4)
        inputs[f"{group.name}_mask"] = dense(torch.ones(len(batch.x), 1))
    if layout.jet_features:
        inputs[JET_FEATURES] = batch.u.float().unsqueeze(2).contiguous().numpy()
    return inputs


def trace_inputs(layout: DenseLayout, jets: int = 3, seed: int = 0) -> tuple[Tensor, ...]:
    """Random dense inputs of `layout` to trace on: `jets` jets, type number t padded to 4 + t slots (sizes that
    differ, so that the exporter keeps them apart), a random half of the slots occupied."""
    generator = torch.Generator().manual_seed(seed)
    inputs: list[Tensor] = []
    for t, group in enumerate(layout.groups):
        slots = 4 + t
        pt = torch.rand(jets, slots, generator=generator) * 50 + 1
        phi, eta = (torch.randn(jets, slots, generator=generator) * 0.2 for _ in range(2))
        vectors = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta),
                               pt * torch.cosh(eta) + 0.1], dim=1)
        inputs += [torch.randn(jets, len(layout.coordinates), slots, generator=generator),
                   torch.randn(jets, len(group.features), slots, generator=generator), vectors,
                   (torch.rand(jets, 1, slots, generator=generator) < 0.5).float()]
    if layout.jet_features:
        inputs.append(torch.randn(jets, len(layout.jet_features), 1, generator=generator))
    return tuple(inputs)


def export_dense(model: nn.Module, layout: DenseLayout, outputs: nn.Module, path: str | Path,
                 opset: int = DEFAULT_OPSET) -> None:
    """Export `model` (eval mode) behind the dense inputs of `layout` to `path`, B and every P_T dynamic; a model
    that cannot be traced (its `onnx_blocker`) is a GnnjetError giving the reason."""
    from torch.export import Dim

    jets = Dim("B", min=1)
    shapes: list[dict[int, Any]] = []
    for group in layout.groups:
        slots = Dim(f"P_{group.name}", min=1)
        shapes += [{0: jets, 2: slots}] * 4
    if layout.jet_features:
        shapes.append({0: jets})
    output_name = "softmax" if isinstance(outputs, ClassifierOutputs) else "output"
    write_onnx(DenseInterface(model, layout, outputs), trace_inputs(layout), path, dynamic_shapes=(tuple(shapes),),
               input_names=layout.input_names, output_names=[output_name], opset=opset)


def preprocess_json(layout: DenseLayout, preprocessing: Preprocessing, spec: DataSpec,
                    output_names: list[str]) -> dict[str, Any]:
    """weaver-core's preprocessing JSON for the dense inputs: output_names, input_names and per input its var_names,
    var_infos (median, norm_factor, replace_inf_value, lower_bound, upper_bound, pad: the producer computes
    clip((value - median) * norm_factor, lower_bound, upper_bound)) and var_length (the padding length). A key
    `gnnjet` adds what weaver's has no place for: each variable's expression in the config, and the notes."""
    node = fitted_infos(preprocessing)
    identity = _identity()
    result: dict[str, Any] = {"output_names": output_names, "input_names": layout.input_names}
    expressions: dict[str, dict[str, str]] = {}
    for group, node_type in zip(layout.groups, spec.node_types):
        variables = {"points": {c: identity for c in layout.coordinates},
                     "features": {name: node[name] for name in group.features},
                     "vectors": {v: identity for v in VECTORS},
                     "mask": {"mask": identity}}
        for part, infos in variables.items():
            result[f"{group.name}_{part}"] = {"var_names": list(infos), "var_infos": infos,
                                              "var_length": group.length}
        expressions[group.name] = {f.name: f.expr.text for f, _ in node_type.features}
    if layout.jet_features:
        jet = fitted_infos(preprocessing, "jet")
        result[JET_FEATURES] = {"var_names": list(layout.jet_features), "var_infos": jet, "var_length": 1}
        expressions[JET_FEATURES] = {f.name: f.expr.text for f in spec.jet_features}
    result["gnnjet"] = {
        "expressions": expressions,
        "points": "the coordinates (deta, dphi) of each constituent to the jet axis" if layout.coordinates ==
        ("deta", "dphi") else "the coordinates' expressions, in var_names",
        "vectors": "(px, py, pz, energy) of each constituent in GeV, not preprocessed",
        "order": "constituents of a type by decreasing pt, at most var_length of them; mask 1 for each, 0 after",
        "non_finite": "gnnjet maps NaN to 0 and +-inf to the clip bound (0 unclipped) after the transform",
    }
    return result


def fitted_infos(preprocessing: Preprocessing, part: str = "node") -> dict[str, dict[str, float]]:
    """var_infos of each feature of `part` (node or jet) by name, from the run's fitted parameters."""
    params, names = ((preprocessing.node, preprocessing.node_names) if part == "node" else
                     (preprocessing.jet, preprocessing.jet_names))
    return dict(zip(names, _infos(params)))


def _infos(params: Params) -> list[dict[str, float]]:
    return [{"median": float(c), "norm_factor": float(s), "replace_inf_value": 0.0,
             "lower_bound": float(lo) if np.isfinite(lo) else -UNCLIPPED,
             "upper_bound": float(hi) if np.isfinite(hi) else UNCLIPPED, "pad": 0.0}
            for c, s, lo, hi in zip(params.center, params.scale, params.low, params.high)]


def _identity() -> dict[str, float]:
    return {"median": 0.0, "norm_factor": 1.0, "replace_inf_value": 0.0, "lower_bound": -UNCLIPPED,
            "upper_bound": UNCLIPPED, "pad": 0.0}


def export_cmssw(model_dir: str | Path, path: str | Path, *, opset: int = DEFAULT_OPSET, overwrite: bool = False,
                 trust_code: bool = False) -> Path:
    """Export the best model of a run directory in CMSSW's convention (module docstring) to `path` and weaver's
    preprocessing JSON to preprocess.json beside it (as weaver-core's --export-onnx does); returns the JSON's
    path. Existing outputs are refused unless `overwrite`; a file of the run never."""
    run = Run(Path(model_dir), trust_code)
    json_path = Path(path).parent / JSON_NAME
    for target in (Path(path), json_path):
        refuse_to_clobber(target, protected=run.files(), overwrite=overwrite, what="CMSSW export file")
    trained = run.load()
    outputs = deployed_outputs(trained.task, trained.spec.observer_names)
    make_directory(json_path.parent, "export directory")
    if isinstance(trained.model, WeaverNetwork):  # a weaver-core network: its own dense groups, as weaver exports it
        classification = isinstance(outputs, ClassifierOutputs)
        wrapper = weaver_export.DenseNetwork(trained.model, outputs, classification)
        write_onnx(wrapper, wrapper.example, path, dynamic_shapes=(weaver_export.dynamic_shapes(trained.model),),
                   input_names=list(trained.model.input_names),
                   output_names=["softmax" if classification else "output"], opset=opset)
        fitted = {**fitted_infos(trained.preprocessing, "jet"), **fitted_infos(trained.preprocessing)}
        values = weaver_export.preprocess_json(trained.model, fitted, _identity(), outputs.names)
    else:
        layout = DenseLayout.of(trained.spec)
        export_dense(trained.model, layout, outputs, path, opset)
        values = preprocess_json(layout, trained.preprocessing, trained.spec, outputs.names)
    atomic_write_text(json_path, json.dumps(values, indent=2))
    return json_path


def check_cmssw(model_dir: str | Path, onnx_file: str | Path, files: list[str], *, batch_size: int = 512,
                progress: bool = False, trust_code: bool = False) -> ExportCheck:
    """Run a CMSSW-convention export (onnxruntime, every type padded to its JSON length as a producer pads it) and
    the run's PyTorch model on the jets of `files`, and compare what the graph outputs (probabilities or regression
    quantities) with the same quantities from PyTorch's outputs."""
    import onnxruntime

    from gnnjet.runs.prediction import run_model

    reference = run_model(model_dir, files, batch_size=batch_size, progress=progress, trust_code=trust_code)
    if not len(reference.outputs):
        raise GnnjetError(f"no jets in {', '.join(files)} to compare the export on")
    model = reference.trained.model
    layout = DenseLayout.of(reference.spec)
    expected_names = list(model.input_names) if isinstance(model, WeaverNetwork) else layout.input_names
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if names != expected_names:
        raise GnnjetError(f"{onnx_file}: its inputs are {', '.join(names)}, not this run's CMSSW inputs "
                          f"({', '.join(expected_names)}): export it with bin/export.py --format cmssw")
    lengths = {group.name: group.length for group in layout.groups}
    exported = []
    for start in range(0, len(reference.dataset), batch_size):
        batch = reference.dataset.batch(torch.arange(start, min(start + batch_size, len(reference.dataset))))
        if isinstance(model, WeaverNetwork):  # the network's own inputs, padded as its data config says
            with torch.no_grad():  # the reference ran on the CPU (run_model's default)
                inputs = {k: v.numpy() for k, v in model.dense_inputs(batch).items()}
        else:
            inputs = dense_inputs(batch, layout, lengths)
        exported.append(session.run(None, inputs)[0])
    outputs = deployed_outputs(reference.trained.task, reference.spec.observer_names)
    with torch.no_grad():
        expected = outputs(torch.from_numpy(reference.outputs)).double().numpy()
    return compare_outputs(np.concatenate(exported), expected, classification=isinstance(outputs, ClassifierOutputs))
