"""gnnjet's packed ONNX convention, shared by the export (`gnnjet.export`) and the onnxruntime backend of
prediction: the graph takes a batch's flat tensors plus a dense occupancy mask whose shape gives the largest jet P
(data-dependent sizes cannot be exported):

    x [N, F] float32, node_type [N] int64, pos [N, D] float32, p4 [N, 4] float32,
    batch [N] int64, ptr [B + 1] int64, u [B, G] float32, mask [B, P] bool
    -> output [B, out_dim] (class logits, or the regression outputs)

N, B and P are dynamic. `mask[b, i]` is True for the first n_b entries of row b (what
torch_geometric.utils.to_dense_batch returns for the batch vector).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor
from torch_geometric.data import Batch
from torch_geometric.utils import to_dense_batch

from gnnjet.data.dataset import JetDataset
from gnnjet.data.loader import JetLoader
from gnnjet.errors import GnnjetError
from gnnjet.progress import progress_bar

INPUTS = ("x", "node_type", "pos", "p4", "batch", "ptr", "u", "mask")


def onnx_inputs(batch: Batch) -> tuple[Tensor, ...]:
    """The ONNX graph's inputs (INPUTS order) for a gnnjet Batch."""
    _, mask = to_dense_batch(batch.x, batch.batch, batch_size=batch.ptr.numel() - 1)
    return (batch.x, batch.node_type, batch.pos, batch.p4, batch.batch, batch.ptr, batch.u, mask)


def open_session(path: str | Path):  # noqa: ANN201 - an onnxruntime.InferenceSession (imported lazily)
    """An onnxruntime session of the file at `path` on the CPU, checked to take gnnjet's packed inputs."""
    import onnxruntime

    if not Path(path).is_file():
        raise GnnjetError(f"ONNX file {path} does not exist: export it with bin/export.py -m RUN -o {path}")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own kinds for files that are not ONNX
        raise GnnjetError(f"{path}: not a readable ONNX model ({type(err).__name__}: {err})") from None
    names = tuple(i.name for i in session.get_inputs())
    if names != INPUTS:
        raise GnnjetError(f"{path}: its inputs are {', '.join(names)}, not gnnjet's packed ones ({', '.join(INPUTS)}): "
                          "export it with bin/export.py --format onnx")
    return session


def evaluate_onnx(session, dataset: JetDataset, index: np.ndarray, batch_size: int,  # noqa: ANN001
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Outputs [J, out_dim] and targets [J] of an onnxruntime `session` (`open_session`) on jets `index` [J], in
    order: the onnxruntime twin of `runs.inference.evaluate`."""
    outputs, targets = [], []
    loader = JetLoader(dataset, batch_size, indices=index, prefetch=2)
    for batch in progress_bar(loader, progress, desc="evaluating (onnxruntime)", unit=" batch", leave=False):
        feeds = {name: tensor.numpy() for name, tensor in zip(INPUTS, onnx_inputs(batch))}
        outputs.append(session.run(None, feeds)[0])
        targets.append(batch.y.numpy())
    return np.concatenate(outputs).astype(np.float32), np.concatenate(targets)
