"""Exports of a trained run: ONNX (torch.export + the dynamo ONNX exporter) and weaver-core's state dict.

The ONNX graph takes the flat batch tensors plus a dense occupancy mask whose shape gives the
largest jet P (data-dependent sizes cannot be exported):

    x [N, F] float32, node_type [N] int64, pos [N, 2] float32, p4 [N, 4] float32,
    batch [N] int64, ptr [B + 1] int64, u [B, G] float32, mask [B, P] bool
    -> output [B, out_dim] (class logits, or the regression prediction)

N, B and P are dynamic. `mask[b, i]` is True for the first n_b entries of row b (what
torch_geometric.utils.to_dense_batch returns for the batch vector).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch
from torch_geometric.utils import to_dense_batch

from gnnjet.errors import GnnjetError
from gnnjet.fileio import atomic_path
from gnnjet.nn.weaver import gnnjet_to_weaver
from gnnjet.runs.checkpoint import save_checkpoint
from gnnjet.runs.run import Run

log = logging.getLogger(__name__)
INPUTS = ("x", "node_type", "pos", "p4", "batch", "ptr", "u", "mask")


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


def onnx_inputs(batch: Batch) -> tuple[Tensor, ...]:
    """The ONNX graph's inputs (INPUTS order) for a gnnjet Batch."""
    _, mask = to_dense_batch(batch.x, batch.batch, batch_size=batch.ptr.numel() - 1)
    return (batch.x, batch.node_type, batch.pos, batch.p4, batch.batch, batch.ptr, batch.u, mask)


def export_model(model: nn.Module, example: Batch, path: str | Path) -> None:
    """Export `model` (eval mode) to `path` with dynamic N, B and P, traced on `example` (>= 2 jets, >= 3 nodes); a
    model that cannot be traced (its `onnx_blocker`) is a GnnjetError giving the reason."""
    from torch.export import Dim

    if getattr(model, "onnx_blocker", None):
        raise GnnjetError(f"{type(model).__name__} cannot be exported to ONNX: {model.onnx_blocker}")

    nodes, jets, largest = Dim("N", min=2), Dim("B", min=2), Dim("P", min=3)
    shapes = {"x": {0: nodes}, "node_type": {0: nodes}, "pos": {0: nodes}, "p4": {0: nodes}, "batch": {0: nodes},
              "ptr": {0: jets + 1}, "u": {0: jets}, "mask": {0: jets, 1: largest}}
    wrapper = OnnxInterface(model).eval()
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(wrapper, onnx_inputs(example), dynamo=True, dynamic_shapes=shapes,
                                    input_names=list(INPUTS), output_names=["output"], verbose=False)
        program.save(str(tmp))
    log.info("exported %s to %s", type(model).__name__, path)


def export_onnx(model_dir: str | Path, path: str | Path) -> None:
    """Export the best model of a run directory, traced on jets of its training data."""
    from gnnjet.data.dataset import JetDataset

    trained = Run(Path(model_dir)).load()
    dataset = JetDataset.from_files(trained.spec, trained.config["data"]["train"], trained.preprocessing,
                                    cache_root=trained.config["data"]["cache_dir"], progress=False)
    sizes = (dataset.ptr[1:] - dataset.ptr[:-1]).numpy()
    index = [i for i in range(len(dataset)) if sizes[i] >= 3][:8]
    if len(index) < 2:
        raise GnnjetError(f"{model_dir}: need at least two jets with 3+ constituents to trace the ONNX export")
    export_model(trained.model, dataset.batch(index), path)


def export_weaver(model_dir: str | Path, path: str | Path) -> None:
    """Write the best model of a run directory as a state dict that weaver-core's ParticleNet /
    ParticleTransformer loads with strict=True (a model of layout weaver)."""
    save_checkpoint(path, gnnjet_to_weaver(Run(Path(model_dir)).load().model))
