"""Input file lists: globs and directories expanded, in order, to the files of the native formats."""

from __future__ import annotations

import glob
import os

from gnnjet.data.formats import SUFFIXES
from gnnjet.errors import DataError


def expand_files(patterns: list[str]) -> list[str]:
    """Expand globs in order (a directory gives its files of every native format, sorted); a pattern matching
    nothing is a DataError naming it."""
    files: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern))) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise DataError(f"no input file matches {pattern!r}")
        for match in matches:
            if os.path.isdir(match):
                found = sorted(f for suffix in SUFFIXES for f in glob.glob(os.path.join(match, f"*{suffix}")))
                if not found:
                    raise DataError(f"input directory {match} contains no {', '.join(SUFFIXES)} files")
                files += found
            else:
                files.append(match)
    return files
