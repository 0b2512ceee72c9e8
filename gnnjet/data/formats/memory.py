"""Jets held in memory (an awkward Array of jet records, as uproot or a coffea processor give them, or a dict of
per-jet and jagged arrays), read through the same interface as files: `hold` registers them under a pseudo path
``<name>.memory`` for the life of a `with` block, and the reader, the cache and the predictions see one more input
file. Fields are the schema's branch names (``pt``, ``ch_pt``, ...); a collection given as a list of records
(``jets.ch.pt``) is read as the branches ``ch_pt``, ... . In-memory jets are read in this process (never by worker
processes, which would not see them)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from typing import Any, Iterator, Mapping

import awkward as ak

from gnnjet.data.formats.chunk import ChunkRef
from gnnjet.data.spec import DataSpec
from gnnjet.errors import DataError

SUFFIXES = (".memory",)
_HELD: dict[str, ak.Array] = {}
_NUMBERS = itertools.count()


def is_memory(path: str) -> bool:
    return str(path).endswith(SUFFIXES)


def as_jets(source: ak.Array | Mapping[str, Any]) -> ak.Array:
    """One record per jet with flat branch fields: collections of records become ``<collection>_<field>``; a dict
    of arrays is zipped at the jet level (its arrays must have one entry per jet)."""
    if isinstance(source, Mapping):
        lengths = {name: len(values) for name, values in source.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"in-memory jets: the arrays have different numbers of jets: {lengths}")
        source = ak.zip({name: ak.Array(values) if not isinstance(values, ak.Array) else values
                         for name, values in source.items()}, depth_limit=1)
    if not isinstance(source, ak.Array) or not source.fields:
        raise DataError(f"in-memory jets: expected an awkward Array of jet records or a dict of arrays, got "
                        f"{type(source).__name__}")
    branches = {}
    for field in source.fields:
        values = source[field]
        nested = values.ndim == 2 and values.fields  # a collection as a list of records: jets.ch.pt
        if nested:
            branches.update({f"{field}_{sub}": values[sub] for sub in values.fields})
        else:
            branches[field] = values
    return ak.zip(branches, depth_limit=1)


@contextlib.contextmanager
def hold(source: ak.Array | Mapping[str, Any], name: str = "jets") -> Iterator[str]:
    """Register `source` (`as_jets`) under a pseudo path for the block; yields the path."""
    path = f"{name}-{next(_NUMBERS)}{SUFFIXES[0]}"
    _HELD[path] = as_jets(source)
    try:
        yield path
    finally:
        del _HELD[path]


def _jets(path: str) -> ak.Array:
    try:
        return _HELD[str(path)]
    except KeyError:
        raise DataError(f"{path}: in-memory jets are readable only inside the block that holds them") from None


def stamp(path: str) -> list[Any]:
    """What the cache key records of in-memory jets (in place of a file's path, size and mtime): the path, the
    number of jets and a hash of the array's buffers."""
    jets = _jets(path)
    digest = hashlib.sha256()
    for buffer in ak.to_buffers(jets)[2].values():
        digest.update(memoryview(buffer).cast("B"))
    return [str(path), len(jets), digest.hexdigest()[:20]]


def plan_chunks(spec: DataSpec, path: str, jets_per_chunk: int) -> list[ChunkRef]:
    """Row ranges of `jets_per_chunk` jets, after checking that every branch of `spec` is a field."""
    jets = _jets(path)
    for branch, key in spec.branches.items():
        if branch not in jets.fields:
            raise DataError(f"in-memory jets: field {branch!r} (needed by {key}) is missing (fields: "
                            f"{', '.join(jets.fields[:12])}{' ...' if len(jets.fields) > 12 else ''})")
    return [ChunkRef(path, lo, min(lo + jets_per_chunk, len(jets))) for lo in range(0, len(jets), jets_per_chunk)]


def read_chunk(spec: DataSpec, chunk: ChunkRef) -> ak.Array:
    """The fields of `spec` for the jets of `chunk`."""
    return _jets(chunk.path)[chunk.start : chunk.stop][sorted(spec.branches)]
