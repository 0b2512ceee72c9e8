"""Input file lists: globs and directories expanded, in order, to the files of the native formats, and the
command line's replacements of a config's lists."""

from __future__ import annotations

import glob
import logging
import os
from typing import Any

from gnnjet.data.formats import SUFFIXES
from gnnjet.errors import DataError

log = logging.getLogger(__name__)


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


def override_inputs(config: dict[str, Any], train: list[str] | None = None, val: list[str] | None = None,
                    test: list[str] | None = None) -> dict[str, Any]:
    """bin/train.py's -i/--val/--test: a config with data.train/val/test replaced by those given (a new dict).

    With -i but no --val, a data.val of the config is the validation set of other training files: it is kept
    when its files exist, else dropped with a warning for data.val_fraction of the new training files (never a
    hard error on a file the command line did not name). Files given that do not exist are a DataError."""
    data = dict(config["data"])
    for key, option, files in (("train", "-i", train), ("val", "--val", val), ("test", "--test", test)):
        if files:
            for path in expand_files(list(files)):
                _check_readable(path, option)
            data[key] = list(files)
    if train and not val and data["val"]:
        try:
            for path in expand_files(data["val"]):
                _check_readable(path, "data.val")
        except DataError as err:
            log.warning("data.val of the config (%s) is not there (%s): validating on data.val_fraction = %g of "
                        "the -i files instead; pass --val FILES to choose", ", ".join(data["val"]), err,
                        data["val_fraction"])
            data["val"] = []
    return {**config, "data": data}


def _check_readable(path: str, option: str) -> None:
    """A DataError naming `option` if the input file `path` cannot be opened (missing, a symlink loop, ...)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{option}: input file {path} does not exist") from None
    except OSError as err:
        raise DataError(f"{option}: input file {path}: {err.strerror}") from None
