"""gnnjet.nn.knn: exact neighbours, per jet, self excluded, small jets, optional torch_cluster parity."""

import pytest
import torch

from gnnjet._optional import WITH_TORCH_CLUSTER
from gnnjet.nn.knn import batch_vector, knn, knn_padded


def brute_force(x, ptr, k):
    expected = {}
    for jet in range(len(ptr) - 1):
        lo, hi = int(ptr[jet]), int(ptr[jet + 1])
        for i in range(lo, hi):
            distance = ((x[lo:hi] - x[i]) ** 2).sum(1)
            distance[i - lo] = float("inf")
            count = min(k, hi - lo - 1)
            expected[i] = set((torch.argsort(distance)[:count] + lo).tolist())
    return expected


@pytest.mark.parametrize("sizes, k", [([1, 2, 3, 100], 16), ([5, 17, 16, 40], 16), ([7, 7, 7], 3), ([1], 4)])
def test_exact_neighbours_within_jets(sizes, k):
    generator = torch.Generator().manual_seed(sum(sizes))
    ptr = torch.tensor([0, *torch.tensor(sizes).cumsum(0).tolist()])
    x = torch.randn(int(ptr[-1]), 3, generator=generator)
    edges = knn(x, k, ptr)
    source, target = edges
    batch = batch_vector(ptr, x.size(0))
    assert torch.equal(batch[source], batch[target]), "edges never cross jets"
    assert not torch.any(source == target), "self excluded"
    counts = torch.bincount(target, minlength=x.size(0))
    expected_counts = torch.repeat_interleave(torch.tensor([min(k, n - 1) for n in sizes]), torch.tensor(sizes))
    assert torch.equal(counts, expected_counts)
    assert edges.size(1) == sum(n * min(k, n - 1) for n in sizes)
    found = {i: set(source[target == i].tolist()) for i in range(x.size(0))}
    assert found == brute_force(x, ptr, k)


def test_padded_form_matches_exact():
    generator = torch.Generator().manual_seed(1)
    ptr = torch.tensor([0, 3, 40, 42])
    x = torch.randn(42, 2, generator=generator)
    padded = knn_padded(x, 8, ptr, max_num_nodes=37)
    assert padded.shape == (2, 42 * 8)
    dummy = padded[0] == 42
    assert torch.equal(dummy, padded[1] == 42), "missing neighbours are (dummy, dummy) edges"
    assert torch.equal(padded[:, ~dummy], knn(x, 8, ptr))


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown knn backend"):
        knn(torch.zeros(2, 2), 1, torch.tensor([0, 2]), backend="faiss")


@pytest.mark.skipif(not WITH_TORCH_CLUSTER, reason="torch_cluster not installed (optional extra)")
def test_torch_cluster_parity():
    generator = torch.Generator().manual_seed(2)
    ptr = torch.tensor([0, 10, 60, 61, 90])
    x = torch.randn(90, 2, generator=generator)
    ours, theirs = knn(x, 16, ptr), knn(x, 16, ptr, backend="torch_cluster")
    as_set = lambda e: {i: set(e[0][e[1] == i].tolist()) for i in range(90)}  # noqa: E731
    assert as_set(ours) == as_set(theirs)
