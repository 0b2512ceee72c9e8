"""Batches for training: seeded shuffling, per-rank sharding for DDP and background prefetch.

Each epoch the jet indices are shuffled with ``seed + epoch`` and cut into *global* batches of
``batch_size * world_size`` jets; rank r takes the r-th of ``world_size`` near-equal parts of every
global batch. So all ranks see the same number of batches (DDP needs that), their shards are
disjoint, and one process with ``world_size=1`` and ``batch_size * world_size`` sees exactly the
same global batches. Only when the last global batch has fewer jets than ranks are those few jets
left out of that epoch.

With ``samples_per_epoch`` an epoch is a window of that many jets of an endless stream of shuffled passes
over the indices (pass p shuffled with ``seed + p``): epoch e covers stream positions [e S, (e + 1) S), so
epochs may end inside a pass and the next one continues it. The stream is a function of the seed, so the
epoch number alone gives its position (a resumed run continues exactly).

With ``block_size`` the shuffle is by blocks, as weaver-core does for data larger than memory: the jet
indices are cut into consecutive blocks of that many jets, the blocks are shuffled, and each group of
`BLOCKS_MIXED` blocks is shuffled jet by jet. An epoch then reads the store block by block (sequential
disk reads that the page cache can hold) instead of jumping through all of it for every batch.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np
import torch
from torch_geometric.data import Batch

from gnnjet.data.dataset import JetDataset

BLOCKS_MIXED = 4  # blocks whose jets are shuffled together with block_size


class JetLoader:
    """Iterates `Batch`es of `dataset` jets (all, or those in `indices`).

    Args:
        dataset: the jets.
        batch_size: jets per batch per rank.
        shuffle: reshuffle every epoch (seeded by ``seed + epoch``).
        indices: [n] jet indices to draw from (e.g. the training part of a split); default all.
        drop_last: drop a final global batch smaller than ``batch_size * world_size``.
        min_last: drop a final batch that would give a rank fewer jets than this (training uses 2: BatchNorm
            cannot normalise a batch of one jet).
        rank, world_size: this process's shard under DDP.
        prefetch: batches built ahead in a background thread (0 = build in the caller).
        block_size: with shuffle, shuffle blocks of this many consecutive jets (see the module docstring);
            None shuffles jet by jet.
        samples_per_epoch: jets per epoch taken from the endless stream of passes (module docstring); None: one
            pass per epoch.
    """

    def __init__(self, dataset: JetDataset, batch_size: int = 512, shuffle: bool = False, seed: int = 0,
                 indices: np.ndarray | None = None, drop_last: bool = False, rank: int = 0,
                 world_size: int = 1, prefetch: int = 2, min_last: int = 1, block_size: int | None = None,
                 samples_per_epoch: int | None = None):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        if block_size is not None and block_size < 1:
            raise ValueError(f"block_size must be a positive number of jets, not {block_size}")
        self.block_size = block_size
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.indices = np.arange(len(dataset)) if indices is None else np.asarray(indices, dtype=np.int64)
        self.drop_last, self.rank, self.world_size, self.prefetch = drop_last, rank, world_size, prefetch
        self.min_last, self.samples_per_epoch = min_last, samples_per_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffling of `epoch` (call before iterating, as with DistributedSampler)."""
        self.epoch = epoch

    def _pass_order(self, number: int) -> np.ndarray:
        """The jet indices of pass `number` (shuffled with seed + number when shuffling)."""
        if not self.shuffle:
            return self.indices
        rng = np.random.default_rng(self.seed + number)
        return self.indices[rng.permutation(len(self.indices)) if self.block_size is None else self._block_order(rng)]

    def epoch_order(self) -> np.ndarray:
        """The jet indices of the current epoch, in order: pass `epoch`, or with samples_per_epoch its window of
        the stream of passes."""
        if self.samples_per_epoch is None:
            return self._pass_order(self.epoch)
        total = len(self.indices)
        if total == 0:
            return self.indices
        start = self.epoch * self.samples_per_epoch
        first, last = start // total, (start + self.samples_per_epoch - 1) // total
        stream = np.concatenate([self._pass_order(p) for p in range(first, last + 1)])
        return stream[start - first * total : start - first * total + self.samples_per_epoch]

    def batch_indices(self) -> list[np.ndarray]:
        """This rank's batches of jet indices for the current epoch."""
        order = self.epoch_order()
        global_size = self.batch_size * self.world_size
        batches = []
        for lo in range(0, len(order), global_size):
            chunk = order[lo : lo + global_size]
            if len(chunk) < global_size and (self.drop_last or len(chunk) < self.world_size * self.min_last):
                break
            batches.append(np.array_split(chunk, self.world_size)[self.rank])
        return batches

    def _block_order(self, rng: np.random.Generator) -> np.ndarray:
        """Positions into `indices`: blocks of `block_size` shuffled, jets shuffled within groups of blocks."""
        total, size = len(self.indices), self.block_size
        starts = np.arange(0, total, size)
        starts = starts[rng.permutation(len(starts))]
        groups = []
        for first in range(0, len(starts), BLOCKS_MIXED):
            blocks = starts[first : first + BLOCKS_MIXED]
            group = np.concatenate([np.arange(lo, min(lo + size, total)) for lo in blocks])
            groups.append(group[rng.permutation(len(group))])
        return np.concatenate(groups) if groups else np.zeros(0, np.int64)

    def global_batch_sizes(self) -> list[int]:
        """Jets in each step's global batch (all ranks together), for exact loss weighting under DDP."""
        total = len(self.indices) if self.samples_per_epoch is None or not len(self.indices) else \
            self.samples_per_epoch
        global_size = self.batch_size * self.world_size
        sizes = [min(global_size, total - lo) for lo in range(0, total, global_size)]
        return sizes[: len(self.batch_indices())]

    def __len__(self) -> int:
        return len(self.batch_indices())

    def __iter__(self) -> Iterator[Batch]:
        batches = self.batch_indices()
        if self.prefetch <= 0:
            for index in batches:
                yield self.dataset.batch(torch.from_numpy(index))
            return
        yield from _prefetched(self.dataset, batches, self.prefetch)


_DONE = object()


def _prefetched(dataset: JetDataset, batches: list[np.ndarray], depth: int) -> Iterator[Batch]:
    """Build batches in a daemon thread (torch's gathers release the GIL) `depth` ahead."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for index in batches:
                if stop.is_set():
                    return
                ready.put(dataset.batch(torch.from_numpy(index)))
            ready.put(_DONE)
        except BaseException as err:  # hand the error to the consumer
            ready.put(err)

    thread = threading.Thread(target=work, daemon=True, name="gnnjet-prefetch")
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
