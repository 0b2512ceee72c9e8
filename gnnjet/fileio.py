"""Atomic file writes: write to a temporary name beside the target, then rename over it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


TEMPORARY = ".{name}.{pid}.tmp{suffix}"  # name of the temporary file beside the target


def fsync_directory(directory: str | Path) -> None:
    """Make a rename or removal in `directory` durable (a crash right after it cannot undo it)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is flushed to disk and replaces `path`, on error it is
    removed.

    A reader of `path` sees either the old complete file or the new complete file, never a partial one, even
    after a power cut (file and directory are fsynced around the rename).
    """
    path = Path(path)
    tmp = path.with_name(TEMPORARY.format(name=path.name, pid=os.getpid(), suffix=path.suffix))
    try:
        yield tmp
        with open(tmp, "rb+") as file:
            os.fsync(file.fileno())
        os.replace(tmp, path)
        fsync_directory(path.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Delete temporary files of `atomic_path` left in `directory` by processes that no longer run (killed
    mid-write); returns them. Files of live processes are kept."""
    removed = []
    for tmp in Path(directory).glob(".*.tmp*"):
        parts = tmp.name.rsplit(".tmp", 1)[0].rsplit(".", 1)
        if len(parts) == 2 and parts[1].isdigit() and not _alive(int(parts[1])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
