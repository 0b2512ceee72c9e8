"""Run directories: one training at a time, no silent overwrite, resume with the run's own config, stale
temporary files removed, checkpoint order, damaged checkpoints and batch-size edge cases."""

import csv
import os

import pytest
import torch
import yaml

from gnnjet.config import validate_config
from gnnjet.errors import ConfigError, GnnjetError
from gnnjet.fileio import atomic_write_text
from gnnjet.runs.checkpoint import load_checkpoint
from gnnjet.training import trainer as trainer_module
from gnnjet.training.rundir import RunDirectory
from gnnjet.training.trainer import train
from tests.cli import run_bin
from tests.training.test_trainer import tiny_config


def rows(run):
    return list(csv.DictReader(open(run / "metrics.csv")))


def test_existing_run_is_refused_unless_resume_or_overwrite(tmp_path):
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    best = (tmp_path / "run" / "best.pt").read_bytes()
    with pytest.raises(GnnjetError, match=r"already holds a run \(best\.pt, last\.pt, metrics\.csv\).*--resume.*"
                                          r"--overwrite"):
        train(tiny_config(tmp_path, epochs=2), tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "best.pt").read_bytes() == best and len(rows(tmp_path / "run")) == 1
    train(tiny_config(tmp_path, epochs=2), tmp_path / "run", progress=False, overwrite=True)
    assert len(rows(tmp_path / "run")) == 2 and load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_a_second_training_into_a_directory_in_use_stops_at_once(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path, epochs=1)))
    holder = RunDirectory.claim(tmp_path / "run", resume=False)
    try:
        result = run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run")
    finally:
        holder.release()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"run directory {tmp_path / 'run'} is in use by process {os.getpid()}" in result.stderr
    assert not (tmp_path / "run" / "config.yaml").exists()  # stopped before any work
    RunDirectory.claim(tmp_path / "run", resume=False).release()  # released: free again


def test_resume_uses_the_runs_config_and_refuses_other_changes(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    train(config, tmp_path / "run", progress=False)
    changed = validate_config({**config, "task": {**config["task"], "loss": "l1" if config["task"]["type"] ==
                                                  "regression" else "cross_entropy"},
                               "model": {**config["model"], "phi": [16, 16]},
                               "training": {**config["training"], "lr": 0.1}})
    with pytest.raises(GnnjetError, match=r"differs in model\.phi, training\.lr\. Only training\.epochs"):
        train(changed, tmp_path / "run", resume=True, progress=False)
    longer = validate_config({**config, "training": {**config["training"], "epochs": 2}})
    history = train(longer, tmp_path / "run", resume=True, progress=False)
    assert [row["epoch"] for row in history] == [0, 1]
    assert load_checkpoint(tmp_path / "run" / "last.pt")["config"]["training"]["lr"] == config["training"]["lr"]


def test_stale_temporary_files_are_removed_and_live_ones_kept(tmp_path):
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / "run" / f".last.pt.{dead_pid}.tmp.pt"
    live = tmp_path / "run" / f".metrics.csv.{os.getppid()}.tmp.csv"  # the parent process: alive
    stale.write_bytes(b"x" * 1000)
    live.write_text("being written")
    train(validate_config({**tiny_config(tmp_path, epochs=2)}), tmp_path / "run", resume=True, progress=False)
    assert not stale.exists() and live.exists()


def test_best_is_written_before_last(tmp_path, monkeypatch):
    order = []
    original = trainer_module.save_checkpoint
    monkeypatch.setattr(trainer_module, "save_checkpoint", lambda path, state: (order.append(path.name),
                                                                                original(path, state)))
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    assert order == ["best.pt", "last.pt"]


def test_atomic_writes_are_flushed_to_disk(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    atomic_write_text(tmp_path / "a.txt", "content")
    assert len(synced) == 2 and (tmp_path / "a.txt").read_text() == "content"  # the file, then its directory


@pytest.mark.parametrize("damage", ["empty", "truncated", "random"])
def test_resume_from_a_damaged_last_checkpoint_names_it(tmp_path, damage):
    config = tiny_config(tmp_path, epochs=1)
    train(config, tmp_path / "run", progress=False)
    last = tmp_path / "run" / "last.pt"
    data = last.read_bytes()
    last.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "random": os.urandom(4000)}[damage])
    result = run_bin("train.py", "-o", tmp_path / "run", "--resume")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{last} is damaged" in result.stderr and "use best.pt or start a fresh run" in result.stderr


def test_batch_size_one_is_refused_and_a_last_batch_of_one_jet_is_dropped(tmp_path):
    with pytest.raises(ConfigError, match=r"training\.batch_size.*>= 2"):
        tiny_config(tmp_path, batch_size=1)
    config = tiny_config(tmp_path, num_jets=300, epochs=1)
    config["model"]["norm"] = "batch_norm"
    config["training"]["batch_size"] = 269  # 270 training jets: a last batch of one jet
    history = train(validate_config(config), tmp_path / "run", progress=False)
    assert torch.isfinite(torch.tensor(history[0]["train_loss"]))


def digests(run):
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir() if p.is_file()
            and p.name in ("best.pt", "last.pt", "metrics.csv", "config.yaml", "preprocess.json")}


@pytest.mark.parametrize("mistake", ["missing file", "missing branch"])
def test_overwrite_keeps_the_previous_run_until_the_new_one_has_a_checkpoint(tmp_path, mistake):
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    before = digests(tmp_path / "run")
    config = tiny_config(tmp_path, epochs=2)
    if mistake == "missing file":
        config["data"]["train"] = [str(tmp_path / "nothere.root")]
    else:
        config["data"]["jet_features"].append({"name": "x", "expr": "no_such_branch", "center": None, "scale": None,
                                               "clip": None})
        config = validate_config(config)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = run_bin("train.py", "-c", tmp_path / "bad.yaml", "-o", tmp_path / "run", "--overwrite")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert ("nothere.root does not exist" if mistake == "missing file" else "no_such_branch") in result.stderr
    assert digests(tmp_path / "run") == before
    assert not list((tmp_path / "run").glob(".previous-run.*"))
    history = train(tiny_config(tmp_path, epochs=2), tmp_path / "run", progress=False, overwrite=True)
    assert len(history) == 2 and len(rows(tmp_path / "run")) == 2
    assert digests(tmp_path / "run")["best.pt"] != before["best.pt"]
    assert not list((tmp_path / "run").glob(".previous-run.*"))


def test_a_replacement_killed_before_its_first_checkpoint_gives_the_previous_run_back(tmp_path):
    train(tiny_config(tmp_path, epochs=1), tmp_path / "run", progress=False)
    before = digests(tmp_path / "run")
    aside = RunDirectory.claim(tmp_path / "run", resume=False, overwrite=True)
    aside._lock_file.close()  # as if the process were killed: its lock ends, the run stays aside
    assert aside.previous is not None and not (tmp_path / "run" / "best.pt").exists()
    aside.previous.rename(aside.previous.with_name(".previous-run.999999999"))  # a process that no longer runs
    RunDirectory.claim(tmp_path / "run", resume=True).release()
    assert digests(tmp_path / "run") == before


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_epochs_must_be_positive(tmp_path, epochs):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path, epochs=1)))
    result = run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run", "--epochs", epochs)
    assert result.returncode == 1 and f"--epochs {epochs}: give a positive number of epochs" in result.stderr
    assert not (tmp_path / "run").exists()


def test_overwrite_moves_every_run_file_aside_and_restores_them_together(tmp_path):
    """A replaced run's files (a k-fold run's split.npz and the test-set files included) leave together and come
    back together when the new run stops before its first checkpoint."""
    run = tmp_path / "run"
    run.mkdir()
    names = ("best.pt", "last.pt", "config.yaml", "split.npz", "test_predictions.root", "test_metrics.json")
    for name in names:
        (run / name).write_text(f"old {name}")
    claimed = RunDirectory.claim(run, resume=False, overwrite=True)
    assert not any((run / name).exists() for name in names)
    (run / "split.npz").write_text("the new run's split")  # written at set-up, before its first checkpoint
    claimed.release()
    assert {name: (run / name).read_text() for name in names} == {name: f"old {name}" for name in names}
