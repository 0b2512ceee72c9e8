"""The arrays of a columnar jet store, named once: what each row is, its dtype and row shape for a config.

A store holds node arrays (one row per node, the nodes of jet j at rows ptr[j]:ptr[j+1]), ``ptr`` and jet
arrays (one row per jet). The cache files, the reader's chunks, the dataset and its batches all take their
names from `STORE_ARRAYS`: adding a per-jet array (weights, fold ids) is one entry here plus the reader
line that fills it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from gnnjet.data.spec import DataSpec


@dataclass(frozen=True)
class StoreArray:
    """`rows`: "node", "jet" or "ptr" ([num_jets + 1] CSR offsets); `layout(spec)` -> (numpy dtype string, row
    shape); `batched`: a Batch carries it as a tensor (observers stay numpy)."""

    rows: str
    layout: Callable[[DataSpec], tuple[str, tuple[int, ...]]]
    batched: bool = True


STORE_ARRAYS: dict[str, StoreArray] = {
    "x": StoreArray("node", lambda spec: ("<f4", (len(spec.columns),))),  # node features [N, F]
    "node_type": StoreArray("node", lambda spec: ("|i1", ())),  # position of the node's type in the config [N]
    "pos": StoreArray("node", lambda spec: ("<f4", (spec.num_coordinates,))),  # graph coordinates [N, D]
    "p4": StoreArray("node", lambda spec: ("<f4", (4,))),  # px, py, pz, E in GeV [N, 4]
    # node tasks (no columns for jet tasks): each node's target [N, 1] (class index or value; NaN: unlabelled), its
    # index in its node type's input collection [N, 1], and each jet's number of constituents in the collection of
    # each node type [J, T] (selected or not), so that per-node predictions align with the input collections
    "node_target": StoreArray("node", lambda spec: ("<f4", (int(spec.is_node_task),))),
    "node_index": StoreArray("node", lambda spec: ("<i4", (int(spec.is_node_task),)), batched=False),
    "ptr": StoreArray("ptr", lambda spec: ("<i8", ())),
    "u": StoreArray("jet", lambda spec: ("<f4", (len(spec.jet_features),))),  # jet features [J, G]
    # [J] class index or target, [J, T] for T regression targets
    "y": StoreArray("jet", lambda spec: ("<i8" if spec.task_type == "classification" else "<f4", spec.target_shape)),
    "obs": StoreArray("jet", lambda spec: ("<f8", (len(spec.observers),)), batched=False),  # observers [J, O]
    # each jet's row in the input files taken as one sequence (the predictions' `entry`) [J]
    "entry": StoreArray("jet", lambda spec: ("<i8", ()), batched=False),
    # each jet's weight expression (data.weights.expr; 1 without; 0 where it or an aux value is NaN/inf) [J]
    "weight": StoreArray("jet", lambda spec: ("<f4", ()), batched=False),
    # jet-level variables of the weighting: reweighting variables, then the decorrelation variable [J, A]
    "aux": StoreArray("jet", lambda spec: ("<f4", (len(spec.aux_exprs),)), batched=False),
    "collection_size": StoreArray("jet", lambda spec: ("<i4", (len(spec.node_types) * spec.is_node_task,)),
                                  batched=False),
    # each jet's k-fold fold (training.kfold.expr; 0 without k-fold) [J]
    "fold": StoreArray("jet", lambda spec: ("<i8", ()), batched=False),
}
# beside the row-aligned arrays: the input rows of the jets that passed the selection but were dropped (invalid
# target, no constituents) [D] int64, so that predictions keep one row per selected input jet
DROPPED = "dropped"
STORE_FILES = (*STORE_ARRAYS, DROPPED)  # the npy files of a cache entry
ARRAYS = tuple(STORE_ARRAYS)
NODE_ARRAYS = tuple(name for name, array in STORE_ARRAYS.items() if array.rows == "node")
JET_ARRAYS = tuple(name for name, array in STORE_ARRAYS.items() if array.rows == "jet")
BATCHED_JET_ARRAYS = tuple(name for name in JET_ARRAYS if STORE_ARRAYS[name].batched)
