"""Atomic file writes (write to a temporary name beside the target, then rename over it) and file locks."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from pathlib import Path
from typing import Iterable, Iterator

from gnnjet.errors import GnnjetError

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
    except (OSError, RuntimeError) as err:  # RuntimeError: torch.save's "file write failed"
        if disk_full(err, path.parent):
            raise DiskFull(f"no space left on {mount_point(path.parent)} while writing {path}; "
                           f"{'the previous file is intact' if path.exists() else 'nothing was written'}") from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()


class DiskFull(GnnjetError):
    """A write failed because the file system is full (what was there before is intact)."""


DISK_FULL_BYTES = 16 << 20  # below this much free space a failed write is taken for a full disk


def disk_full(err: BaseException, directory: str | Path) -> bool:
    """Whether `err`, raised while writing into `directory`, means its file system is full: ENOSPC, or a write
    error without errno (torch's "file write failed") with less than DISK_FULL_BYTES free."""
    if isinstance(err, OSError) and err.errno is not None:
        return err.errno in (errno.ENOSPC, errno.EDQUOT)
    try:
        return "write" in str(err) and shutil.disk_usage(directory).free < DISK_FULL_BYTES
    except OSError:
        return False


def mount_point(path: str | Path) -> Path:
    """The mount point of the file system holding `path` (what a user calls the device)."""
    path = Path(path).resolve()
    while not os.path.ismount(path):
        path = path.parent
    return path


@contextlib.contextmanager
def exclusive_lock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive flock on `path` (created if missing), waiting while another process holds it: on this
    machine, or on another node sharing the file system (NFSv4, Lustre and GPFS implement flock across nodes).

    The file is deleted on release. A process that was already waiting then holds a lock on the deleted file
    while a newcomer may lock a new one: callers must tolerate that rare overlap (the cache does: whoever
    finishes second keeps the first one's entry)."""
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            Path(path).unlink(missing_ok=True)
            fcntl.flock(file, fcntl.LOCK_UN)


def is_locked(path: str | Path) -> bool:
    """Whether a process holds the flock on `path` (False if the file does not exist)."""
    try:
        with open(path, "r") as file:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False


def remove_if_unlocked(path: str | Path) -> bool:
    """Delete the lock file `path` unless a process holds it; True if deleted."""
    try:
        with open(path, "a") as file:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            Path(path).unlink()
            return True
    except (BlockingIOError, FileNotFoundError):
        return False


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Delete temporary files of `atomic_path` left in `directory` by processes that no longer run (killed
    mid-write); returns them. Files of live processes are kept."""
    removed = []
    for tmp in Path(directory).glob(".*.tmp*"):
        parts = tmp.name.rsplit(".tmp", 1)[0].rsplit(".", 1)
        if len(parts) == 2 and parts[1].isdigit() and not alive(int(parts[1])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def alive(pid: int) -> bool:
    """Whether process `pid` runs (on this machine)."""
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


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether `a` and `b` are the same existing file, by any path or link (False if either is missing)."""
    try:
        return Path(a).samefile(b)
    except OSError:  # one of them does not exist
        return False


def refuse_to_clobber(output: str | Path, inputs: Iterable[str | Path] = (), protected: Iterable[str | Path] = (),
                      overwrite: bool = False, what: str = "output") -> None:
    """Raise GnnjetError if writing `output` would destroy something: one of `inputs` (the same file by any path
    or link), one of the `protected` files (a model's checkpoints and config), a directory, a path that runs
    through a file, or, unless `overwrite`, any existing file. Nothing is written or deleted here."""
    output = Path(output)
    for path in inputs:
        if same_file(output, path):
            raise GnnjetError(f"{what} {output} is one of the input files: choose another output")
    for path in protected:
        if same_file(output, path):
            raise GnnjetError(f"{what} {output} would overwrite {path}, a file of the model: choose another output")
    if output.is_dir():
        raise GnnjetError(f"{what} {output} is a directory: give a file name")
    for parent in output.parents:
        if parent.exists() and not parent.is_dir():
            raise GnnjetError(f"{what} {output}: {parent} is not a directory (it is a file): choose another path")
    if output.exists() and not overwrite:
        raise GnnjetError(f"{what} {output} already exists: pass --overwrite to replace it, or choose another name")


def make_directory(path: str | Path, what: str = "output directory") -> Path:
    """Create the directory `path` (and its parents) if missing; a path that is, or runs through, an existing
    file, or that cannot be created, is one GnnjetError naming it and `what` it was meant for."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            where = f"{path}" if part == path else f"{path}: {part}"
            raise GnnjetError(f"{what} {where} is not a directory (it is a file): choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GnnjetError(f"{what} {path} cannot be created: {err.strerror}") from None
    return path
