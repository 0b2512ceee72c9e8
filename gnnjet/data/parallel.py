"""Read and convert input chunks in worker processes, handing them back in input order.

The cache fill is CPU-bound (decompression, awkward, the feature expressions), so `workers` spawned
processes each read whole chunks (`reader.read_chunk`) while the caller writes the finished ones to the
store in order: the store is the same, bit for bit, whatever the number of workers, and it is written
once. At most ``2 x workers`` chunks are in flight, so memory stays bounded by the chunk size.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Iterator

import numpy as np

from gnnjet.data.reader import ChunkRef, ReadStats, read_chunk
from gnnjet.data.spec import DataSpec

# Below this many jets per worker a pool is not worth starting (spawning imports numpy/awkward/uproot, ~1 s).
MIN_JETS_PER_WORKER = 20_000
# Chunk size when reading in parallel: small enough to keep every worker busy, large enough that uproot's
# per-call overhead stays negligible.
PARALLEL_CHUNK_JETS = 16_384


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a batch system's allocation)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def workers_for(requested: int | None, num_jets: int) -> int:
    """Worker processes to use for `num_jets` jets: `requested` (None: every available core), fewer when the
    sample is too small to keep them busy; 1 means read in this process."""
    wanted = available_cores() if requested is None else requested
    return max(1, min(wanted, num_jets // MIN_JETS_PER_WORKER))


def _read(spec: DataSpec, chunk: ChunkRef) -> tuple[dict[str, np.ndarray], ReadStats]:
    stats = ReadStats()
    return read_chunk(spec, chunk, stats), stats


def read_chunks(spec: DataSpec, chunks: list[ChunkRef], workers: int) -> Iterator[tuple[dict[str, np.ndarray], ReadStats]]:
    """Yield (columnar arrays, their ReadStats) of every chunk, in order, read by `workers` processes (1: here)."""
    if workers <= 1:
        for chunk in chunks:
            yield _read(spec, chunk)
        return
    # spawn, not fork: the caller may already run torch's thread pools, which do not survive a fork.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        pending: deque[Future] = deque()
        todo = iter(chunks)
        try:
            for chunk in todo:
                pending.append(pool.submit(_read, spec, chunk))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:  # an error or an abandoned iteration: do not read the rest
                future.cancel()
