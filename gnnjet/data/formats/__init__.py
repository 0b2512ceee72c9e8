"""Native input formats, one module each, chosen by a file's suffix (anything else is read as ROOT).

A format module has ``SUFFIXES``, ``plan_chunks(spec, path, jets_per_chunk) -> [ChunkRef]`` (checking the
file and that it has every branch the config needs, naming what is missing) and ``read_chunk(spec, chunk) ->
ak.Array`` (the config's branches of the chunk's jets). A third format (e.g. HDF5 read natively) is one more
module and one entry in `FORMATS`. In-memory jets (`memory`: awkward Arrays and dicts of arrays) are one more
format, under a pseudo path.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from gnnjet.data.formats import memory, parquet, root

FORMATS: dict[str, ModuleType] = {"parquet": parquet, "root": root, "memory": memory}
SUFFIXES = tuple(suffix for module in (parquet, root) for suffix in module.SUFFIXES)  # of files on disk


def format_of(path: str | Path) -> ModuleType:
    """The format module reading `path`: by suffix (case-insensitive), ROOT for any other."""
    name = str(path).lower()
    return next((module for module in FORMATS.values() if name.endswith(module.SUFFIXES)), root)
