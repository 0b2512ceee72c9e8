"""ONNX export of a trained run in gnnjet's packed-input convention (`runs.onnx`): torch.export + the dynamo ONNX
exporter, traced on synthetic jets built from the run's config; and the check of an export against PyTorch.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from gnnjet.data.spec import DataSpec
from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path, make_directory, refuse_to_clobber
from gnnjet.runs.onnx import INPUTS, onnx_inputs
from gnnjet.runs.run import Run

log = logging.getLogger(__name__)


class OnnxInterface(nn.Module):
    """Wraps a gnnjet model so that it takes the tensors of INPUTS instead of a Batch."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, node_type: Tensor, pos: Tensor, p4: Tensor, batch: Tensor, ptr: Tensor, u: Tensor,
                mask: Tensor) -> Tensor:
        inputs = SimpleNamespace(x=x, node_type=node_type, pos=pos, p4=p4, batch=batch, ptr=ptr, u=u,
                                 max_num_nodes=mask.shape[1])
        return self.model(inputs)


DEFAULT_OPSET = 18  # the dynamo exporter's default; ONNX Runtime reads it from release 1.14 on
TRACE_SIZES = (3, 5, 8)  # nodes of the synthetic jets a run is traced on (>= 2 jets, >= 3 nodes each)


def export_model(model: nn.Module, example: Batch, path: str | Path, opset: int = DEFAULT_OPSET) -> None:
    """Export `model` (eval mode) to `path` with dynamic N, B and P at ONNX `opset`, traced on `example` (>= 2 jets,
    >= 3 nodes); a model that cannot be traced (its `onnx_blocker`) is a GnnjetError giving the reason."""
    from torch.export import Dim

    nodes, jets, largest = Dim("N", min=2), Dim("B", min=2), Dim("P", min=3)
    shapes = {"x": {0: nodes}, "node_type": {0: nodes}, "pos": {0: nodes}, "p4": {0: nodes}, "batch": {0: nodes},
              "ptr": {0: jets + 1}, "u": {0: jets}, "mask": {0: jets, 1: largest}}
    write_onnx(OnnxInterface(model), onnx_inputs(example), path, dynamic_shapes=shapes, input_names=list(INPUTS),
               output_names=["output"], opset=opset)


def write_onnx(wrapper: nn.Module, inputs: tuple[Tensor, ...], path: str | Path, *, dynamic_shapes: Any,
               input_names: list[str], output_names: list[str], opset: int) -> None:
    """Trace `wrapper` (a module around a gnnjet model, its `model`) on `inputs` with torch.export and write the
    ONNX graph at `opset` to `path` atomically; a model that cannot be traced (its `onnx_blocker`) is a
    GnnjetError giving the reason, before any work."""
    model = wrapper.model
    if getattr(model, "onnx_blocker", None):
        raise GnnjetError(f"{type(model).__name__} cannot be exported to ONNX: {model.onnx_blocker}")
    with atomic_path(path) as tmp, warnings.catch_warnings(), _quiet_exporter():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(wrapper.eval(), inputs, dynamo=True, dynamic_shapes=dynamic_shapes,
                                    input_names=input_names, output_names=output_names, verbose=False,
                                    opset_version=opset)
        _unique_output_names(program.model.graph)
        program.save(str(tmp))
    log.info("exported %s to %s (ONNX opset %d)", type(model).__name__, path, opset)


def _unique_output_names(graph) -> None:  # noqa: ANN001 - an onnx_ir Graph
    """Rename values inside the graph that carry a graph output's name (the exporter names a value after its
    operator: a transformer's attention softmax is `softmax`, as is a tagger's output in CMSSW's convention), so
    that every name is defined once and the outputs keep theirs."""
    import onnx_ir

    outputs = {id(value): value.name for value in graph.outputs}
    taken = set(outputs.values())
    for node in onnx_ir.traversal.RecursiveGraphIterator(graph):
        for value in node.outputs:
            if value.name in taken and id(value) not in outputs:
                value.name = f"{value.name}_inner"


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's own warnings (optional torchvision operators it skips, attributes it defaults) are about its
    internals, not the model: they are silenced while it runs; errors still show."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnx_ir", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def synthetic_batch(spec: DataSpec, sizes: tuple[int, ...] = TRACE_SIZES, seed: int = 0) -> Batch:
    """Jets of `sizes` nodes with the input widths of `spec` (node features, node types, coordinates, jet features)
    and physical four-vectors (E > |p|): what an export is traced on, so that exporting needs the run directory
    alone, not its training files."""
    generator = torch.Generator().manual_seed(seed)
    total, types = sum(sizes), len(spec.node_types)
    pt = torch.rand(total, generator=generator) * 50 + 1
    eta, phi = torch.randn(total, generator=generator) * 0.2, torch.randn(total, generator=generator) * 0.2
    p4 = torch.stack([pt * torch.cos(phi), pt * torch.sin(phi), pt * torch.sinh(eta),
                      torch.sqrt((pt * torch.cosh(eta)) ** 2 + 0.01)], dim=1)
    counts = torch.tensor(sizes)
    batch = Batch(x=torch.randn(total, len(spec.columns), generator=generator), node_type=torch.arange(total) % types,
                  pos=torch.randn(total, spec.num_coordinates, generator=generator),
                  p4=p4, u=torch.randn(len(sizes), len(spec.jet_features), generator=generator),
                  batch=torch.repeat_interleave(torch.arange(len(sizes)), counts))
    batch.ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    batch.max_num_nodes = max(sizes)
    return batch


def export_onnx(model_dir: str | Path, path: str | Path, *, opset: int = DEFAULT_OPSET, overwrite: bool = False,
                trust_code: bool = False) -> None:
    """Export the best model of a run directory (gnnjet's packed-input convention, module docstring), traced on
    synthetic jets built from its config: the run directory is all it needs. An output that is a file of the run is
    refused, an existing one unless `overwrite`."""
    run = Run(Path(model_dir), trust_code)
    refuse_to_clobber(path, protected=run.files(), overwrite=overwrite, what="ONNX file")
    trained = run.load()
    make_directory(Path(path).parent, "export directory")
    export_model(trained.model, synthetic_batch(trained.spec), path, opset)


@dataclass
class ExportCheck:
    """onnxruntime against PyTorch on the same jets: per output column, max and mean |difference| [out_dim], and for
    a tagger the fraction of jets whose highest-scoring class agrees (None for a regression)."""

    jets: int
    max_difference: np.ndarray
    mean_difference: np.ndarray
    argmax_agreement: float | None

    def passes(self, tolerance: float) -> bool:
        return bool(np.all(self.max_difference <= tolerance)) and self.argmax_agreement in (None, 1.0)

    def table(self) -> str:
        rows = [f"| {i} | {m:.3g} | {a:.3g} |" for i, (m, a) in enumerate(zip(self.max_difference,
                                                                             self.mean_difference))]
        agreement = "" if self.argmax_agreement is None else f"; argmax agreement {self.argmax_agreement:.6f}"
        return "\n".join([f"{self.jets} jets{agreement}", "| output | max abs diff | mean abs diff |",
                          "|---|---|---|", *rows])


def check_export(model_dir: str | Path, onnx_file: str | Path, files: list[str], *, batch_size: int = 512,
                 progress: bool = False, trust_code: bool = False) -> ExportCheck:
    """Run the exported file (onnxruntime) and the run's PyTorch model on the jets of `files` and compare their
    raw outputs (logits or regression outputs), batch by batch on the same batches."""
    from gnnjet.runs.prediction import run_model

    options = dict(batch_size=batch_size, progress=progress, trust_code=trust_code)
    reference = run_model(model_dir, files, **options)
    exported = run_model(model_dir, files, onnx=onnx_file, **options)
    if not len(reference.outputs):
        raise GnnjetError(f"no jets in {', '.join(files)} to compare the export on")
    return compare_outputs(exported.outputs, reference.outputs,
                           classification=reference.spec.task_type == "classification")


def compare_outputs(exported: np.ndarray, reference: np.ndarray, *, classification: bool) -> ExportCheck:
    """ExportCheck of outputs [J, K] of an export against PyTorch's [J, K] on the same J >= 1 jets."""
    difference = np.abs(exported.astype(np.float64) - reference)
    agreement = float(np.mean(exported.argmax(axis=1) == reference.argmax(axis=1))) if classification else None
    return ExportCheck(len(difference), difference.max(axis=0), difference.mean(axis=0), agreement)
