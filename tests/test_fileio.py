"""Atomic writes and a full disk: the write fails with one line naming the file and its file system, and what
was there before is intact."""

import errno
import hashlib
import shutil

import numpy as np
import pytest
import torch

from gnnjet.data.npy import NpyFile
from gnnjet.errors import GnnjetError
from gnnjet.fileio import DiskFull, atomic_path, mount_point
from gnnjet.runs import checkpoint
from gnnjet.training.trainer import train
from tests.training.test_trainer import tiny_config


def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_during_an_atomic_write_keeps_the_previous_file(tmp_path):
    (tmp_path / "a.txt").write_text("before")
    with pytest.raises(DiskFull, match=rf"no space left on {mount_point(tmp_path)} while writing .*a\.txt; the "
                                       "previous file is intact"):
        with atomic_path(tmp_path / "a.txt") as tmp:
            tmp.write_text("partial")
            full()
    assert (tmp_path / "a.txt").read_text() == "before" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_other_write_errors_are_not_taken_for_a_full_disk(tmp_path):
    with pytest.raises(RuntimeError, match="something else"):
        with atomic_path(tmp_path / "b.txt"):
            raise RuntimeError("something else")
    with pytest.raises(PermissionError):
        with atomic_path(tmp_path / "b.txt"):
            raise PermissionError(errno.EACCES, "denied")


def test_a_full_disk_while_filling_the_cache(tmp_path, monkeypatch):
    file = NpyFile(tmp_path / "x.npy", "<f4", (2,))
    file.create()
    monkeypatch.setattr("os.pwrite", full)
    with pytest.raises(DiskFull, match=r"no space left on .* while writing .*x\.npy"):
        file.write_rows(0, np.zeros((3, 2)))


def test_a_full_disk_while_checkpointing_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    """torch.save reports a full disk as RuntimeError("... file write failed") without errno: with (almost) no
    free space left that is a full disk too."""
    config = tiny_config(tmp_path, epochs=1)
    train(config, tmp_path / "run", progress=False)
    before = hashlib.sha256((tmp_path / "run" / "last.pt").read_bytes()).hexdigest()

    def failing_save(state, path):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed")

    monkeypatch.setattr(checkpoint.torch, "save", failing_save)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 << 30, 10 << 30, 4096))
    with pytest.raises(GnnjetError, match=r"no space left on .* while writing .*(best|last)\.pt; the previous file is "
                                          "intact"):
        train(config, tmp_path / "run", progress=False, resume=True, epochs=2)
    monkeypatch.undo()
    assert hashlib.sha256((tmp_path / "run" / "last.pt").read_bytes()).hexdigest() == before
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["epoch"] == 0
