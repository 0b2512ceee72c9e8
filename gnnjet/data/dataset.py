"""PyG view of columnar jets: `dataset[i]` is a `Data`, `dataset.batch(idx)` a `Batch`.

`batch` gathers the node rows of the selected jets with one index computation and a few
`index_select`s: no per-jet `Data` objects are built, which is what makes training input fast.
The result equals ``Batch.from_data_list([dataset[i] for i in idx])`` (tested).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from gnnjet.data.arrays import BATCHED_JET_ARRAYS
from gnnjet.data.cache.build import build_store
from gnnjet.data.cache.store import ColumnarStore
from gnnjet.data.inputs import expand_files
from gnnjet.data.preprocess import Preprocessing
from gnnjet.data.spec import DataSpec

# Batch(...) goes through PyG's dynamic-inheritance metaclass on every call (~0.2 ms); creating
# its DataBatch class once and filling an empty instance is 3x cheaper and gives the same object.
_BATCH_CLASS = type(Batch())
BATCH_NODE_ARRAYS = ("x", "node_type", "pos", "p4")  # the node arrays of every batch (node tasks: node_target too)


class JetDataset(torch.utils.data.Dataset):
    """Preprocessed jets of one store as torch tensors (memory-mapped, not loaded into RAM).

    Each jet j owns node rows ptr[j]:ptr[j+1] of x [N, F], node_type [N] (the position of the node's
    type in the config: 0 charged, 1 neutral, 2 SV by convention), pos [N, D] (deta, dphi by default), p4 [N, 4]
    (px, py, pz, E in GeV); u [J, G] are jet features and y [J] the class index (int64) or regression target
    (float32); a node task's node_target [N] float32 is each node's class index or target (NaN: unlabelled).
    obs [J, O] holds observers (`arrays.STORE_ARRAYS`). weight [J] float32 is each jet's loss weight: the store's
    weight expression (1 without), times the reweighting factors once the training split sets them
    (`training.data.prepare_split`); decor [J] float32 the decorrelation variable (None without task.decorrelation).
    """

    def __init__(self, spec: DataSpec, store: ColumnarStore, preprocessing: Preprocessing):
        self.spec, self.store, self.preprocessing = spec, store, preprocessing
        nodes, u = preprocessing.processed(spec, store)
        arrays = store.arrays
        # x, pos, p4 (and a node task's target) side by side [N, F + D + 4 (+ 1)]: a batch gathers each node's row
        # once (three gathers of short rows cost twice as much), then views its columns
        self.nodes = torch.from_numpy(nodes)
        widths = [arrays[name].shape[1] for name in ("x", "pos", "p4", "node_target")]
        edges = np.cumsum([0, *widths])
        self._columns = {name: slice(int(lo), int(hi)) for name, lo, hi in
                         zip(("x", "pos", "p4", "node_target"), edges[:-1], edges[1:])}
        self.x, self.pos, self.p4 = (self.nodes[:, self._columns[name]] for name in ("x", "pos", "p4"))
        self.node_target = self.nodes[:, self._columns["node_target"]].squeeze(1) if spec.is_node_task else None
        self.u = torch.from_numpy(u)
        self.node_type = torch.from_numpy(arrays["node_type"])  # int8 on disk; long once gathered
        self.ptr = torch.from_numpy(arrays["ptr"])
        self.y = torch.from_numpy(arrays["y"])
        self.obs = arrays["obs"]
        self.weight = torch.from_numpy(np.array(arrays["weight"]))
        self.decor = torch.from_numpy(np.array(arrays["aux"][:, -1])) if spec.decorrelation is not None else None

    @classmethod
    def from_files(cls, spec: DataSpec, files: Sequence[str], preprocessing: Preprocessing | None = None,
                   cache_root: str | Path | None = None, seed: int = 0, progress: bool = True,
                   workers: int | None = None) -> "JetDataset":
        """Read (or reuse the cache of) `files` with `workers` processes (None: all cores); fit preprocessing on
        them if none is given."""
        store = build_store(spec, expand_files(list(files)), Path(cache_root) if cache_root else None, progress,
                            workers)
        if preprocessing is None:
            preprocessing = Preprocessing.fit(spec, store, seed=seed)
        return cls(spec, store, preprocessing)

    def __len__(self) -> int:
        return len(self.ptr) - 1

    def node_counts(self) -> np.ndarray:
        """Each jet's number of nodes [J] int64."""
        return np.diff(self.ptr.numpy())

    def observers(self) -> dict[str, np.ndarray]:
        """Each observer's values [J] (data.observers, by `DataSpec.observer_names`)."""
        return {name: np.asarray(self.obs[:, i]) for i, name in enumerate(self.spec.observer_names)}

    @property
    def num_node_features(self) -> int:
        return self.x.shape[1]

    @property
    def num_jet_features(self) -> int:
        return self.u.shape[1]

    def __getitem__(self, index: int) -> Data:
        """One jet as a Data with x, node_type, pos, p4 ([n, ...]) and u [1, G], y [1], weight [1] (and decor [1])."""
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"jet index {index} out of range for {len(self)} jets")
        lo, hi = int(self.ptr[index]), int(self.ptr[index + 1])
        extra = {} if self.decor is None else {"decor": self.decor[index : index + 1].clone()}
        if self.node_target is not None:
            extra["node_target"] = self.node_target[lo:hi].clone()
        return Data(x=self.x[lo:hi].clone(), node_type=self.node_type[lo:hi].long(),
                    pos=self.pos[lo:hi].clone(), p4=self.p4[lo:hi].clone(),
                    u=self.u[index : index + 1].clone(), y=self.y[index : index + 1].clone(),
                    weight=self.weight[index : index + 1].clone(), **extra)

    def batch(self, index: torch.Tensor | np.ndarray | Sequence[int]) -> Batch:
        """Gather jets `index` [B] into a Batch (x, node_type, pos, p4, batch, ptr, u, y, weight, and decor and
        node_target where the dataset has them).

        The Batch also carries ``max_num_nodes`` (an int: the largest jet), for dense padding.
        """
        index = torch.as_tensor(index, dtype=torch.long)
        start = self.ptr.index_select(0, index)
        counts = self.ptr.index_select(0, index + 1) - start
        ptr = torch.zeros(len(index) + 1, dtype=torch.long)
        torch.cumsum(counts, 0, out=ptr[1:])
        total = int(ptr[-1])
        # node row of output position p in jet b: start[b] + (p - ptr[b])
        rows = torch.repeat_interleave(start - ptr[:-1], counts, output_size=total)
        rows += torch.arange(total)
        batch_vector = torch.repeat_interleave(torch.arange(len(index)), counts, output_size=total)
        out = _BATCH_CLASS.__new__(_BATCH_CLASS)
        Data.__init__(out)
        nodes = self.nodes.index_select(0, rows)
        out.x, out.pos, out.p4 = (nodes[:, self._columns[name]] for name in ("x", "pos", "p4"))
        node_arrays = BATCH_NODE_ARRAYS
        if self.node_target is not None:
            out.node_target = nodes[:, self._columns["node_target"]].squeeze(1)
            node_arrays += ("node_target",)
        out.node_type = self.node_type.index_select(0, rows).long()
        out.u, out.y = self.u.index_select(0, index), self.y.index_select(0, index)
        out.weight = self.weight.index_select(0, index)
        jet_arrays = BATCHED_JET_ARRAYS + ("weight",)
        if self.decor is not None:
            out.decor = self.decor.index_select(0, index)
            jet_arrays += ("decor",)
        out.batch, out.ptr = batch_vector, ptr
        graph_slices = torch.arange(len(index) + 1)
        zeros = torch.zeros(len(index), dtype=torch.long)
        out._num_graphs = len(index)
        out.max_num_nodes = int(counts.max()) if len(index) else 0  # lets models pad without a GPU sync
        out._slice_dict = {**{k: ptr for k in node_arrays}, **{k: graph_slices for k in jet_arrays}}
        out._inc_dict = {k: zeros for k in node_arrays + jet_arrays}
        return out
