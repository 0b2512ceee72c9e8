"""Fill a store's arrays from input chunks in worker processes that write their rows in place.

The cache fill is CPU-bound (decompression, awkward, the feature expressions). Each of `workers`
processes converts whole chunks (`reader.read_chunk`); a chunk's first node and jet row are
the previous chunk's last + 1, so a worker waits only for its predecessor to publish where it ends,
publishes its own end, and then writes its rows straight into the store's files (`ChunkWriter`). The
rows land where one process reading the chunks in order would put them: the store is the same, bit
for bit, whatever the number of workers, it is written once, and the parent process only collects
counters. Memory is bounded by one chunk per worker.
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any, Iterator, NamedTuple, Protocol

import numpy as np

from gnnjet.data.arrays import DROPPED
from gnnjet.data.formats.chunk import ChunkRef
from gnnjet.data.read_stats import ReadStats
from gnnjet.data.reader import read_chunk
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError

# Below this many jets per worker a pool is not worth starting.
MIN_JETS_PER_WORKER = 20_000
# Chunks per worker when reading in parallel: enough to keep every worker busy to the end; the chunks are as
# large as that allows (up to data.step_size), since converting large chunks costs less per jet.
CHUNKS_PER_WORKER = 4
MIN_CHUNK_JETS = 4_096


class ChunkWriter(Protocol):
    """Writes one chunk's columnar arrays (see `columnar.columnarise`) at its first node and jet row."""

    def __call__(self, arrays: dict[str, np.ndarray], node_start: int, jet_start: int) -> None: ...


class Written(NamedTuple):
    """What one chunk added to the store: its read counters, node rows and jet rows, and the entries of its jets
    that passed the selection but were dropped (`arrays.DROPPED`)."""

    stats: ReadStats
    nodes: int
    jets: int
    dropped: np.ndarray

    @classmethod
    def of(cls, stats: ReadStats, arrays: dict[str, np.ndarray]) -> "Written":
        return cls(stats, int(arrays["counts"].sum()), len(arrays["counts"]), arrays[DROPPED])


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. a batch system's allocation)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parallel_chunk_jets(step_size: int, num_jets: int, workers: int) -> int:
    """Jets per chunk when `workers` processes read `num_jets` jets: about CHUNKS_PER_WORKER chunks each."""
    return max(MIN_CHUNK_JETS, min(step_size, -(-num_jets // (CHUNKS_PER_WORKER * workers))))


def workers_for(requested: int | None, num_jets: int) -> int:
    """Worker processes to use for `num_jets` jets: `requested` (None: every available core), fewer when the
    sample is too small to keep them busy; 1 means read in this process."""
    wanted = available_cores() if requested is None else requested
    return max(1, min(wanted, num_jets // MIN_JETS_PER_WORKER))


def fill(spec: DataSpec, chunks: list[ChunkRef], workers: int, write: ChunkWriter) -> Iterator[Written]:
    """Convert and `write` every chunk (in this process when `workers` is 1); yields what each chunk added, in
    input order, once it is written."""
    if workers <= 1:
        node_start = jet_start = 0
        for chunk in chunks:
            stats = ReadStats()
            arrays = read_chunk(spec, chunk, stats)
            write(arrays, node_start, jet_start)
            written = Written.of(stats, arrays)
            node_start, jet_start = node_start + written.nodes, jet_start + written.jets
            yield written
        return
    yield from _fill_in_workers(spec, chunks, workers, write)


# ----------------------------------------------------------------------------- worker side
# offsets[2k], offsets[2k + 1]: first node and jet row of chunk k (-1 until published); offsets[-1] = 1 once a
# chunk failed, so that workers waiting for it give up.
_shared: dict[str, Any] = {}


def _init_worker(offsets: Any, condition: Any) -> None:
    _shared.update(offsets=offsets, condition=condition)


def _convert_and_write(spec: DataSpec, chunk: ChunkRef, index: int, write: ChunkWriter) -> Written:
    offsets, condition = _shared["offsets"], _shared["condition"]
    stats = ReadStats()
    try:
        arrays = read_chunk(spec, chunk, stats)
        with condition:
            condition.wait_for(lambda: offsets[2 * index + 1] >= 0 or offsets[-1])
            if offsets[-1]:
                raise DataError("cache fill abandoned: another chunk failed")
            node_start, jet_start = offsets[2 * index], offsets[2 * index + 1]
            offsets[2 * index + 2] = node_start + int(arrays["counts"].sum())
            offsets[2 * index + 3] = jet_start + len(arrays["counts"])
            condition.notify_all()
        write(arrays, node_start, jet_start)
    except BaseException:
        with condition:
            offsets[-1] = 1
            condition.notify_all()
        raise
    return Written.of(stats, arrays)


def _fill_in_workers(spec: DataSpec, chunks: list[ChunkRef], workers: int, write: ChunkWriter) -> Iterator[Written]:
    from concurrent.futures import ProcessPoolExecutor

    # fork where there is one (Linux), as torch's DataLoader does: spawn would re-run the caller's script in every
    # worker, which breaks scripts without an `if __name__ == "__main__":` guard. The workers only run the reader
    # (numpy, awkward, uproot), never torch, so the parent's torch threads do not matter to them.
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    offsets = context.Array("q", [0, 0] + [-1] * (2 * len(chunks)) + [0], lock=False)
    condition = context.Condition()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(offsets, condition)) as pool:
        # tasks start in submission order, so chunk k's predecessor is always running or done: no deadlock
        futures = [pool.submit(_convert_and_write, spec, chunk, index, write) for index, chunk in enumerate(chunks)]
        try:
            for future in futures:
                yield future.result()
        finally:
            with condition:
                if any(not f.done() for f in futures):
                    offsets[-1] = 1  # an error or an abandoned fill: release the waiting workers
                    condition.notify_all()
            for future in futures:
                future.cancel()
