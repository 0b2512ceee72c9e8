"""Dense batched k-nearest-neighbour graphs for jets (PyG's knn needs pyg-lib, absent here).

Nodes are scattered into a padded [B, P, D] tensor with `to_dense_batch`, squared distances come
from |x_i|^2 + |x_j|^2 - 2 x_i.x_j, padding and the node itself are masked with +inf and `topk`
picks the k nearest. Everything is exact and, given the largest jet size P as a Python int, free
of host synchronisation (so it runs unchanged on GPU and exports to ONNX).

Two output forms:
* `knn` returns a PyG ``edge_index`` [2, E] with exactly min(k, n_j - 1) neighbours per node.
* `knn_padded` returns [2, N * k'] (k' = min(k, P - 1)) where missing neighbours (jets smaller
  than k + 1) are edges from and to a dummy node N: message-passing layers run on x with one
  extra zero row appended and the dummy row is dropped afterwards, so no compaction is needed.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from gnnjet._optional import WITH_TORCH_CLUSTER


def batch_vector(ptr: Tensor, num_nodes: int) -> Tensor:
    """[N] jet index of each node from CSR offsets ptr [B + 1]."""
    counts = ptr[1:] - ptr[:-1]
    return torch.repeat_interleave(torch.arange(len(counts), device=ptr.device), counts, output_size=num_nodes)


def largest_jet(ptr: Tensor) -> int:
    """max_j n_j (a host sync on GPU; pass it in where it is known on the CPU side)."""
    return int((ptr[1:] - ptr[:-1]).max()) if len(ptr) > 1 else 0


def knn_padded(x: Tensor, k: int, ptr: Tensor, batch: Tensor | None = None,
               max_num_nodes: int | None = None, zero_neighbours: bool = False) -> Tensor:
    """k nearest neighbours of every node within its jet, padded with dummy edges.

    Args:
        x: [N, D] coordinates. ptr: [B + 1] CSR offsets. batch: [N] jet index (derived if None).
        max_num_nodes: P, the largest jet (computed if None, which syncs on GPU).
        zero_neighbours: weaver-core's convention. Every node gets exactly k neighbours; in a jet of
            k or fewer nodes the missing ones are the dummy node N (an edge (N, i)), which message
            passing sees as a neighbour with zero features, as weaver gathers zero-feature padding.
    Returns: edge_index [2, N * k'] (row 0 source = neighbour j, row 1 target = node i), k' =
        min(k, P - 1) (k with zero_neighbours); without zero_neighbours an edge (N, N) stands for
        "no neighbour".
    """
    num_nodes, num_jets = x.size(0), ptr.numel() - 1
    if batch is None:
        batch = batch_vector(ptr, num_nodes)
    if max_num_nodes is None:
        max_num_nodes = largest_jet(ptr)
    if zero_neighbours:
        max_num_nodes = max(max_num_nodes, k + 1)
    k_eff = min(k, max_num_nodes - 1)
    if k_eff <= 0 or num_nodes == 0:
        return torch.full((2, 0), num_nodes, dtype=torch.long, device=x.device)
    dense, mask = to_dense_batch(x, batch, batch_size=num_jets, max_num_nodes=max_num_nodes)  # [B, P, D]
    square = (dense * dense).sum(-1)  # [B, P]
    distance = square.unsqueeze(2) + square.unsqueeze(1) - 2 * torch.bmm(dense, dense.transpose(1, 2))
    eye = torch.eye(max_num_nodes, dtype=torch.bool, device=x.device).unsqueeze(0)
    distance = distance.masked_fill(eye | ~mask.unsqueeze(1), float("inf"))
    nearest_distance, nearest = distance.topk(k_eff, dim=2, largest=False)  # [B, P, k']
    position = torch.arange(num_nodes, device=x.device) - ptr[batch]  # node's slot within its jet
    neighbour_distance = nearest_distance[batch, position]  # [N, k']
    source = nearest[batch, position] + ptr[batch].unsqueeze(1)
    valid = torch.isfinite(neighbour_distance)
    source = torch.where(valid, source, torch.full_like(source, num_nodes))
    target = torch.arange(num_nodes, device=x.device).unsqueeze(1).expand(-1, k_eff)
    if not zero_neighbours:
        target = torch.where(valid, target, torch.full_like(target, num_nodes))
    return torch.stack([source.reshape(-1), target.reshape(-1)])


def knn(x: Tensor, k: int, ptr: Tensor, batch: Tensor | None = None, max_num_nodes: int | None = None,
        backend: str = "dense") -> Tensor:
    """Exact k-nearest-neighbour edge_index [2, E], E = sum_j n_j * min(k, n_j - 1), self excluded.

    backend "dense" (default, no dependency) or "torch_cluster" (when installed). The dense form
    drops the dummy edges of `knn_padded`, which syncs once on GPU.
    """
    if backend == "torch_cluster":
        if not WITH_TORCH_CLUSTER:
            raise ImportError("knn backend 'torch_cluster' needs the optional torch-cluster package")
        import torch_cluster

        if batch is None:
            batch = batch_vector(ptr, x.size(0))
        return torch_cluster.knn_graph(x, k, batch, loop=False, flow="source_to_target")
    if backend != "dense":
        raise ValueError(f"unknown knn backend {backend!r} (dense or torch_cluster)")
    edges = knn_padded(x, k, ptr, batch, max_num_nodes)
    return edges[:, edges[0] < x.size(0)]
