"""A chunk of an input file: the unit that is read, converted and written to the cache in one go."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChunkRef:
    """Rows (jets) [start, stop) of the file at `path`, in every format. `parts` are the format's own read units
    that hold exactly those rows where it reads by unit rather than by row range (Parquet: row groups; empty for
    ROOT, which reads entry ranges). Row r of the file is row `offset` + r of all input files in order."""

    path: str
    start: int
    stop: int
    parts: tuple[int, ...] = ()
    offset: int = 0  # rows of the files before this one in the input list (`reader.plan_chunks`)

    @property
    def num_jets(self) -> int:
        return self.stop - self.start
