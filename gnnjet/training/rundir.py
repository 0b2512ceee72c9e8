"""One training per run directory: an exclusive lock for the whole run, no silent overwrite of a finished or
killed run, resume with the run's own config, and removal of temporary files left by killed writes."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from gnnjet.config import RESUMABLE_KEYS, flatten_config
from gnnjet.errors import GnnjetError
from gnnjet.fileio import alive, make_directory, remove_stale_temporaries
from gnnjet.runs.layout import LOCK, RESULTS, RUN_DIRECTORIES, RUN_FILES

log = logging.getLogger(__name__)

PREVIOUS = ".previous-run."  # + pid: the directory a run replaced by --overwrite waits in


class RunDirectory:
    """Holds ``OUT/.lock`` (fcntl.flock) from `claim` until `release`: a second training into the same directory
    stops at once naming the process that holds it. The lock ends with the process, however it ends."""

    def __init__(self, path: Path, lock_file: Any):
        self.path, self._lock_file = path, lock_file
        self.previous: Path | None = None  # the replaced run's files, kept until the new run's first checkpoint

    @classmethod
    def claim(cls, path: str | Path, resume: bool, overwrite: bool = False) -> RunDirectory:
        """Lock `path` (created if needed); refuse a directory holding a run unless `resume` or `overwrite`
        (which moves that run's files aside: `commit` deletes them once the new run has a checkpoint, `release`
        before that puts them back)."""
        path = Path(path)
        make_directory(path)
        lock_file = open(path / LOCK, "a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "another process"
            lock_file.close()
            raise GnnjetError(f"run directory {path} is in use by process {holder}: wait for it to finish or "
                              "choose another -o") from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        run = cls(path, lock_file)
        try:
            run._prepare(resume, overwrite)
        except BaseException:
            run.release()
            raise
        return run

    def _prepare(self, resume: bool, overwrite: bool) -> None:
        self._recover_killed_replacements()
        existing = self._existing()
        results = [name for name in RESULTS if name in existing]
        if results and not resume:
            if not overwrite:
                raise GnnjetError(f"{self.path} already holds a run ({', '.join(results)}): continue it with "
                                  "--resume, replace it with --overwrite, or choose another -o")
            self.previous = self.path / f"{PREVIOUS}{os.getpid()}"
            self.previous.mkdir()
            for name in existing:
                os.rename(self.path / name, self.previous / name)
            log.info("--overwrite: the previous run's %s moved aside to %s until the new run's first checkpoint",
                     ", ".join(existing), self.previous)
        for stale in remove_stale_temporaries(self.path):
            log.info("removed %s, left by a write that was killed", stale)

    def _existing(self) -> list[str]:
        return [name for name in (*RUN_FILES, *RUN_DIRECTORIES) if (self.path / name).exists()]

    def _recover_killed_replacements(self) -> None:
        """A run moved aside by an --overwrite whose process died: put it back if the new run never wrote a
        checkpoint, else delete it."""
        for aside in self.path.glob(f"{PREVIOUS}*"):
            if alive(int(aside.name.removeprefix(PREVIOUS) or 0)):
                continue
            if any((self.path / name).exists() for name in RESULTS):
                shutil.rmtree(aside, ignore_errors=True)
            else:
                self.previous = aside
                self._restore_previous()

    def commit(self) -> None:
        """The new run has written a checkpoint: delete the run it replaces."""
        if self.previous is not None:
            shutil.rmtree(self.previous, ignore_errors=True)
            log.info("--overwrite: deleted the previous run (%s)", self.previous)
            self.previous = None

    def _restore_previous(self) -> None:
        assert self.previous is not None
        for name in self._existing():
            target = self.path / name
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        for entry in self.previous.iterdir():
            os.rename(entry, self.path / entry.name)
        self.previous.rmdir()
        log.warning("the new run stopped before its first checkpoint: the previous run is back in %s", self.path)
        self.previous = None

    def release(self) -> None:
        """Unlock; a replaced run whose replacement never wrote a checkpoint is put back first."""
        if self.previous is not None:
            self._restore_previous()
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()


def resumed_config(run_config: dict[str, Any], given: dict[str, Any] | None, run_dir: Path) -> dict[str, Any]:
    """The config a --resume continues with: the run's own, with the `RESUMABLE_KEYS` of `given` (a -c config)
    applied. Any other difference is a GnnjetError listing the key paths."""
    if given is None:
        return run_config
    ours, theirs = flatten_config(run_config), flatten_config(given)
    differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    refused = [k for k in differing if k not in RESUMABLE_KEYS]
    if refused:
        shown = ", ".join(refused[:8]) + (f" and {len(refused) - 8} more" if len(refused) > 8 else "")
        raise GnnjetError(f"--resume continues {run_dir} with its own config; the given config differs in {shown}. "
                          f"Only {', '.join(RESUMABLE_KEYS)} may change on resume: start a new run (another -o) "
                          "for anything else")
    config = {section: dict(values) if isinstance(values, dict) else values for section, values in run_config.items()}
    for key in differing:
        section, name = key.split(".", 1)
        config[section][name] = theirs.get(key)
    return config
