"""JetLoader: determinism, DDP sharding, prefetch."""

import threading

import numpy as np
import pytest
import torch

from gnnjet.config import validate_config
from gnnjet.data.dataset import JetDataset
from gnnjet.data.loader import JetLoader
from gnnjet.data.spec import DataSpec


@pytest.fixture
def dataset(base_config, fake_file, cache_root):
    spec = DataSpec.from_config(validate_config(base_config))
    return JetDataset.from_files(spec, [str(fake_file)], cache_root=cache_root, progress=False)


@pytest.mark.parametrize("n, batch_size, world_size", [(100, 8, 2), (101, 8, 3), (97, 10, 4), (64, 64, 1), (50, 7, 5)])
def test_shards_disjoint_complete_and_balanced(dataset, n, batch_size, world_size):
    indices = np.random.default_rng(n).permutation(len(dataset))[:n]
    shards = []
    for rank in range(world_size):
        loader = JetLoader(dataset, batch_size, shuffle=True, seed=3, indices=indices, rank=rank, world_size=world_size)
        shards.append(loader.batch_indices())
    assert len({len(s) for s in shards}) == 1, "every rank must see the same number of batches"
    flat = [np.concatenate(s) for s in shards]
    for a in range(world_size):
        for b in range(a + 1, world_size):
            assert not set(flat[a]) & set(flat[b])
    assert sorted(np.concatenate(flat)) == sorted(indices)


def test_tiny_last_global_batch_is_left_out(dataset):
    shards = [JetLoader(dataset, 4, indices=np.arange(9), rank=r, world_size=2).batch_indices() for r in range(2)]
    assert [len(s) for s in shards] == [1, 1]  # 9 = 8 + 1: the single leftover jet cannot be split over 2 ranks


def test_single_process_sees_the_same_global_batches(dataset):
    world = [JetLoader(dataset, 8, shuffle=True, seed=5, rank=r, world_size=3).batch_indices() for r in range(3)]
    single = JetLoader(dataset, 24, shuffle=True, seed=5).batch_indices()
    for step, global_batch in enumerate(single):
        np.testing.assert_array_equal(np.concatenate([w[step] for w in world]), global_batch)


def test_seeded_shuffling(dataset):
    a = JetLoader(dataset, 16, shuffle=True, seed=1)
    b = JetLoader(dataset, 16, shuffle=True, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a.batch_indices(), b.batch_indices()))
    b.set_epoch(1)
    assert not np.array_equal(np.concatenate(a.batch_indices()), np.concatenate(b.batch_indices()))
    plain = JetLoader(dataset, 16).batch_indices()
    np.testing.assert_array_equal(np.concatenate(plain), np.arange(len(dataset)))


def test_drop_last(dataset):
    loader = JetLoader(dataset, 64, drop_last=True)
    assert len(loader) == len(dataset) // 64
    assert all(b.num_graphs == 64 for b in loader)


def test_prefetch_gives_same_batches(dataset):
    eager = list(JetLoader(dataset, 32, shuffle=True, seed=2, prefetch=0))
    prefetched = list(JetLoader(dataset, 32, shuffle=True, seed=2, prefetch=3))
    assert len(eager) == len(prefetched)
    for a, b in zip(eager, prefetched):
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_prefetch_stops_when_consumer_breaks(dataset):
    def prefetchers():
        return [t for t in threading.enumerate() if t.name == "gnnjet-prefetch"]

    loader = JetLoader(dataset, 4, prefetch=1)
    iterator = iter(loader)
    for i, _ in enumerate(iterator):
        if i == 2:
            break
    assert prefetchers(), "the producer thread runs while the consumer holds the iterator"
    iterator.close()  # what a `break` out of a for loop leads to once the generator is released
    assert not prefetchers(), "the producer thread ended"
    assert len(list(loader)) == len(loader)


def test_prefetch_propagates_errors(dataset, monkeypatch):
    def broken(index):
        raise RuntimeError("boom")

    monkeypatch.setattr(dataset, "batch", broken)
    with pytest.raises(RuntimeError, match="boom"):
        list(JetLoader(dataset, 8, prefetch=2))


def test_bad_rank():
    with pytest.raises(ValueError):
        JetLoader(None, 8, rank=2, world_size=2)


def test_block_shuffle_keeps_every_jet_and_reads_few_blocks_per_batch(dataset):
    indices = np.arange(0, len(dataset), 2)[:96]  # e.g. a training split: every other jet; 12 blocks of 8
    loader = JetLoader(dataset, 10, shuffle=True, seed=4, indices=indices, block_size=8)
    first = loader.batch_indices()
    order = np.concatenate(first)
    assert sorted(order) == sorted(indices)  # a permutation of the split
    assert not np.array_equal(order, indices)
    block_of = {jet: position // 8 for position, jet in enumerate(indices)}
    groups = [{block_of[j] for j in order[lo : lo + 32]} for lo in range(0, 96, 32)]
    assert [len(g) for g in groups] == [4, 4, 4] and len(set().union(*groups)) == 12  # 4 whole blocks mixed
    for batch in first:
        assert len({block_of[j] for j in batch}) <= 8  # 10 jets from at most 2 groups of 4 blocks
    loader.set_epoch(1)
    assert not np.array_equal(np.concatenate(loader.batch_indices()), order)  # reshuffled each epoch
    loader.set_epoch(0)
    assert all(np.array_equal(a, b) for a, b in zip(loader.batch_indices(), first))  # seeded


def test_block_shuffle_shards_like_the_jet_shuffle(dataset):
    shards = [JetLoader(dataset, 5, shuffle=True, seed=2, rank=r, world_size=2, block_size=16).batch_indices()
              for r in range(2)]
    single = JetLoader(dataset, 10, shuffle=True, seed=2, block_size=16).batch_indices()
    for step, global_batch in enumerate(single):
        np.testing.assert_array_equal(np.concatenate([s[step] for s in shards]), global_batch)


def test_samples_per_epoch_cut_one_endless_stream_of_passes(dataset):
    """Epochs of S jets are consecutive windows of the stream pass 0, pass 1, ... (each a seeded shuffle of all
    jets): every jet once per pass, windows crossing pass boundaries, any epoch computed alone."""
    n = len(dataset)
    loader = JetLoader(dataset, batch_size=16, shuffle=True, seed=3, samples_per_epoch=70, prefetch=0)
    windows = []
    for epoch in range(7):
        loader.set_epoch(epoch)
        windows.append(np.concatenate(loader.batch_indices()))
        assert len(windows[-1]) == 70 and len(loader) == 5 and sum(loader.global_batch_sizes()) == 70
    stream = np.concatenate(windows)
    passes = JetLoader(dataset, batch_size=16, shuffle=True, seed=3, prefetch=0)
    expected = []
    for number in range(len(stream) // n + 1):
        passes.set_epoch(number)
        expected.append(passes.epoch_order())
    np.testing.assert_array_equal(stream, np.concatenate(expected)[: len(stream)])
    np.testing.assert_array_equal(np.sort(stream[:n]), np.arange(n))  # the first pass: every jet once
    loader.set_epoch(4)
    np.testing.assert_array_equal(np.concatenate(loader.batch_indices()), windows[4])  # no history needed
