"""Input files -> chunks of columnar jets: each file is planned into chunks by its format (`formats`, which
checks the file and its branches first), a chunk's branches are read and converted by `columnar.columnarise`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gnnjet.data.arrays import DROPPED
from gnnjet.data.columnar import columnarise
from gnnjet.data.formats import format_of
from gnnjet.data.formats.chunk import ChunkRef
from gnnjet.data.read_stats import ReadStats
from gnnjet.data.spec import DataSpec
from gnnjet.errors import ConfigError, DataError


def plan_chunks(spec: DataSpec, files: list[str], jets_per_chunk: int) -> list[ChunkRef]:
    """The chunks of all jets in `files`, in file order, after checking every file and its branches.

    Chunks only cut the jet sequence: concatenated in order they give the same arrays whatever their size.
    """
    chunks, offset = [], 0
    for path in files:
        planned = format_of(path).plan_chunks(spec, path, jets_per_chunk)
        chunks += [replace(chunk, offset=offset) for chunk in planned]
        offset += planned[-1].stop if planned else 0
    return chunks


def read_chunk(spec: DataSpec, chunk: ChunkRef, stats: ReadStats) -> dict[str, np.ndarray]:
    """The columnar arrays (see `columnar.columnarise`) of one chunk, its jets' entries counted over all input
    files; its counts are added to `stats`. A problem with the data (a column of the wrong shape or type) is a
    DataError naming the file."""
    arrays = format_of(chunk.path).read_chunk(spec, chunk)
    try:
        columns = columnarise(spec, arrays, stats)
    except (DataError, ConfigError) as err:  # an expression that fails on this file's values: name the file too
        raise type(err)(f"{chunk.path}: {err}") from None
    first = chunk.offset + chunk.start  # chunk rows -> rows of all input files in order
    return {**columns, "entry": columns["entry"] + first, DROPPED: columns[DROPPED] + first}
