"""Trainer: a run directory's contents, resume equality, DDP (gloo) equality, atomic checkpoints."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gnnjet.config import validate_config
from gnnjet.data.writer import write_jets
from gnnjet.errors import ConfigError, GnnjetError
from gnnjet.runs.checkpoint import load_checkpoint, save_checkpoint
from gnnjet.training.distributed import check_gpus
from gnnjet.training.launch import free_port
from gnnjet.training.trainer import Trainer, monitored, train
from tests.cli import run_bin
from tests.conftest import write_fake, write_fake_with_nonfinite_kinematics

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "GNNJET_CACHE": ""}


def tiny_config(tmp_path, num_jets=300, epochs=2, **training):
    from tests.conftest import BASE_CONFIG

    files = [str(write_fake(tmp_path / "train.root", num_jets))]
    config = {**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "train": files,
                                      "cache_dir": str(tmp_path / "cache")}}
    config["model"] = {"name": "deepsets", "preset": "small", "norm": None, "dropout": 0.0}
    config["training"] = {"epochs": epochs, "batch_size": 32, "lr": 0.003, "prefetch": 0, **training}
    return validate_config(config)


def test_run_directory_contents(tmp_path):
    history = train(tiny_config(tmp_path), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in ("config.yaml", "preprocess.json", "best.pt", "last.pt", "metrics.csv", "train.log"):
        assert (run / name).exists(), name
    assert any((run / "tensorboard").iterdir())
    assert len(history) == 2 and {"train_loss", "val_loss", "val_auc", "lr", "jets_per_s"} <= set(history[0])
    assert len((run / "metrics.csv").read_text().splitlines()) == 3
    assert "epoch 1:" in (run / "train.log").read_text()
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["phi"] == [32, 64]


def test_regression_lowers_validation_loss_below_no_correction(tmp_path):
    config = tiny_config(tmp_path, num_jets=400, epochs=4)
    config["task"] = {"type": "regression", "target": "log(pt_gen / pt)", "loss": "huber", "labels": None,
                      "target_abs_max": None}
    history = train(validate_config(config), tmp_path / "run", progress=False)
    assert history[-1]["val_loss"] < history[-1]["val_no_correction_loss"]
    assert history[-1]["val_resolution"] <= history[-1]["val_raw_resolution"] * 1.2
    assert abs(history[-1]["val_median_response"] - 1) < abs(history[-1]["val_raw_median_response"] - 1)


def test_early_stopping(tmp_path):
    config = tiny_config(tmp_path, epochs=30, lr=0.0, early_stopping_patience=2, scheduler="none")
    history = train(config, tmp_path / "run", progress=False)
    assert len(history) == 3  # epoch 0 sets the best; 2 epochs without improvement stop the run


def run_cli(args, **kwargs):
    return subprocess.Popen([sys.executable, str(ROOT / "bin" / "train.py"), *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def test_killed_run_resumes_to_the_same_result(tmp_path):
    config = tiny_config(tmp_path, num_jets=1500, epochs=4)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    reference = run_cli(["-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "full")])
    assert reference.wait(timeout=300) == 0, reference.stdout.read()

    victim = run_cli(["-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "killed")])
    last = tmp_path / "killed" / "last.pt"
    deadline = time.time() + 240
    while not last.exists() and victim.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    interrupted_at = load_checkpoint(last)["epoch"]
    assert interrupted_at < 3, "the run was killed before its last epoch"

    resumed = run_cli(["-o", str(tmp_path / "killed"), "--resume"])
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()
    full, again = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(last)
    assert again["epoch"] == full["epoch"] == 3
    for key, value in full["model"].items():
        torch.testing.assert_close(again["model"][key], value, rtol=0, atol=0)


def train_with_torchrun(config, tmp_path) -> Path:
    """Train `config` with bin/train.py under torchrun, 2 local gloo processes, into tmp_path/ddp (checked to have
    run on both)."""
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(config))
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                          str(free_port()), str(ROOT / "bin" / "train.py"), "-c", str(tmp_path / "ddp.yaml"), "-o",
                          str(tmp_path / "ddp")], env=ENV, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    assert "2 process(es)" in (tmp_path / "ddp" / "train.log").read_text()
    return tmp_path / "ddp"


def test_ddp_gloo_matches_single_process_on_global_batches(tmp_path):
    config = tiny_config(tmp_path, num_jets=260, epochs=1, batch_size=16, scheduler="none", grad_clip=None)
    single = dict(config, training={**config["training"], "batch_size": 32})
    train_with_torchrun(config, tmp_path)
    train(validate_config(single), tmp_path / "single", progress=False)
    a, b = load_checkpoint(tmp_path / "ddp" / "last.pt"), load_checkpoint(tmp_path / "single" / "last.pt")
    for key, value in b["model"].items():
        torch.testing.assert_close(a["model"][key], value, rtol=1e-4, atol=1e-5)


def test_ddp_node_task_normalises_by_the_global_batch_nodes(tmp_path):
    """A node task's loss is the mean over the global batch's labelled nodes, whichever rank holds them: two gloo
    processes of 16 jets train the same weights as one process of 32."""
    from tests.tasks.test_node import node_config, pileup_like

    write_jets(tmp_path / "in.root", pileup_like(200, seed=5))
    config = node_config(tmp_path / "in.root", tmp_path / "cache")
    config["model"] |= {"norm": None, "dropout": 0.0}
    config["training"] |= {"epochs": 1, "batch_size": 16, "scheduler": "none", "grad_clip": None}
    train_with_torchrun(config, tmp_path)
    config["training"]["batch_size"] = 32
    train(validate_config(config), tmp_path / "single", progress=False)
    a, b = load_checkpoint(tmp_path / "ddp" / "last.pt"), load_checkpoint(tmp_path / "single" / "last.pt")
    for key, value in b["model"].items():
        torch.testing.assert_close(a["model"][key], value, rtol=1e-4, atol=1e-5)


def test_interrupted_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.ones(3)})

    def crash(obj, f, *args, **kwargs):
        Path(f).write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"epoch": 2, "weights": torch.zeros(3)})
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_missing_gpu_is_reported_before_any_work():
    with pytest.raises(GnnjetError, match=r"not available \(this machine has"):
        check_gpus([torch.cuda.device_count() + 3])


def test_cli_errors(tmp_path):
    config = tiny_config(tmp_path)
    config["model"] = {"name": "graphsage"}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = run_bin("train.py", "-c", tmp_path / "bad.yaml", "-o", tmp_path / "x")
    assert result.returncode == 1
    assert "unknown model 'graphsage'" in result.stderr and "available: particlenet" in result.stderr
    (tmp_path / "good.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path)))
    result = run_bin("train.py", "-c", tmp_path / "good.yaml", "-o", tmp_path / "x", "--gpus",
                     torch.cuda.device_count() + 3)
    assert result.returncode == 1 and "not available" in result.stderr
    assert not (tmp_path / "x").exists(), "nothing is done before the GPU check"


@pytest.mark.parametrize("model", [{"name": "transformer", "preset": "small"},
                                   {"name": "particlenet", "preset": "lite"}])
def test_nonfinite_kinematics_do_not_reach_the_loss(tmp_path, model):
    config = tiny_config(tmp_path, epochs=3)
    config["data"]["train"] = [str(write_fake_with_nonfinite_kinematics(tmp_path / "bad.root", 300))]
    config["model"] = model
    history = train(validate_config(config), tmp_path / "run", progress=False)
    assert all(np.isfinite(row["train_loss"]) and np.isfinite(row["val_loss"]) for row in history)


def test_mipart_trains_and_predicts_through_the_command_lines(tmp_path):
    """configs/qg_mipart.yaml (tiny preset) on 300 generated-schema jets: bin/train.py, then bin/predict.py."""
    config = yaml.safe_load((ROOT / "configs" / "qg_mipart.yaml").read_text())
    config["data"] |= {"train": [str(write_fake(tmp_path / "train.root", 300))], "cache_dir": str(tmp_path / "cache")}
    config["data"]["node_types"] = tiny_config(tmp_path)["data"]["node_types"]  # the fake file's branches
    config["data"]["jet_features"], config["data"]["observers"] = [], ["pt", "eta"]
    config["training"] |= {"epochs": 1, "batch_size": 32, "prefetch": 0}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    trained = run_bin("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run")
    assert trained.returncode == 0, trained.stderr
    predicted = run_bin("predict.py", "-m", tmp_path / "run", "-i", write_fake(tmp_path / "test.root", 50, seed=3),
                        "-o", tmp_path / "p.root")
    assert predicted.returncode == 0, predicted.stderr
    import uproot

    scores = uproot.open(tmp_path / "p.root")["Jets"].arrays(["score_label_q", "score_label_g"], library="np")
    assert len(scores["score_label_q"]) == 50
    np.testing.assert_allclose(scores["score_label_q"] + scores["score_label_g"], 1.0, rtol=1e-5)


def test_two_nodes_with_torchrun_match_single_process(tmp_path):
    """2 "nodes" x 2 processes on localhost, joined by torchrun's c10d rendezvous, each node with its own local
    cache (GNNJET_CACHE); the result equals one process on the same global batches."""
    config = tiny_config(tmp_path, num_jets=260, epochs=1, batch_size=8, scheduler="none", grad_clip=None)
    config["data"]["cache_dir"] = None
    (tmp_path / "ddp.yaml").write_text(yaml.safe_dump(config))
    single = dict(config, training={**config["training"], "batch_size": 32})
    single["data"] = {**config["data"], "cache_dir": str(tmp_path / "single_cache")}
    port = free_port()
    nodes = []
    for node in range(2):
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "2",
                   "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "gnnjet-test",
                   "--local-addr", "127.0.0.1", str(ROOT / "bin" / "train.py"), "-c", str(tmp_path / "ddp.yaml"),
                   "-o", str(tmp_path / "ddp")]
        env = {**ENV, "GNNJET_CACHE": str(tmp_path / f"node{node}_cache")}
        nodes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [node.communicate(timeout=300)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(outputs)
    assert "4 process(es)" in (tmp_path / "ddp" / "train.log").read_text()
    for node in range(2):  # each node filled its own local cache once
        assert len([p for p in (tmp_path / f"node{node}_cache").iterdir() if p.is_dir()]) == 1
    train(validate_config(single), tmp_path / "single", progress=False)
    a, b = load_checkpoint(tmp_path / "ddp" / "last.pt"), load_checkpoint(tmp_path / "single" / "last.pt")
    for key, value in b["model"].items():
        torch.testing.assert_close(a["model"][key], value, rtol=1e-4, atol=1e-5)


def test_samples_per_epoch_resumes_exactly_and_fraction_trains_on_fewer_jets(tmp_path):
    """Epochs of 100 jets from the stream of passes: two epochs, then a resume to four, give the weights of four
    epochs in one go (a constant lr, so that the schedule does not depend on the epochs planned); data.fraction:
    0.5 trains on half the training jets."""
    config = tiny_config(tmp_path, num_jets=300, epochs=4, samples_per_epoch=100, scheduler="none")
    history = train(config, tmp_path / "full", progress=False)
    assert len(history) == 4
    train(tiny_config(tmp_path, num_jets=300, epochs=2, samples_per_epoch=100, scheduler="none"),
          tmp_path / "split", progress=False)
    train(config, tmp_path / "split", progress=False, resume=True, epochs=4)
    full, again = load_checkpoint(tmp_path / "full" / "last.pt"), load_checkpoint(tmp_path / "split" / "last.pt")
    for key, value in full["model"].items():
        torch.testing.assert_close(again["model"][key], value, rtol=0, atol=0)
    halved = tiny_config(tmp_path, num_jets=300, epochs=1)
    halved["data"]["fraction"] = 0.5
    train(validate_config(halved), tmp_path / "half", progress=False)
    assert "135 training and 30 validation jets" in (tmp_path / "half" / "train.log").read_text()


@pytest.mark.parametrize("monitor, best", [("val_loss", 1), ("val_auc", 2), ("last", 3)])
def test_monitor_chooses_best_pt(tmp_path, monkeypatch, monitor, best):
    """best.pt is the epoch of the lowest validation loss, the highest AUC or the last one: validation results
    scripted so that the three disagree."""
    rows = iter([{"val_loss": loss, "val_auc": auc} for loss, auc in [(0.5, 0.6), (0.4, 0.7), (0.6, 0.9), (0.7, 0.8)]])
    monkeypatch.setattr(Trainer, "_validate", lambda self: next(rows))
    train(tiny_config(tmp_path, epochs=4, monitor=monitor), tmp_path / "run", progress=False)
    assert load_checkpoint(tmp_path / "run" / "best.pt")["epoch"] == best


def test_monitor_scores():
    row = {"epoch": 2, "val_loss": 0.4, "val_accuracy": 0.8, "val_auc_b": 0.9, "val_auc_c": 0.7,
           "val_auc_b_vs_c": 0.1}
    assert monitored(row, "val_loss") == 0.4 and monitored(row, "last") == -2
    assert monitored(row, "val_auc") == pytest.approx(-0.8) and monitored(row, "val_accuracy") == -0.8
    node_row = {"val_auc": 0.95, "val_auc_charged": 0.99, "val_auc_neutral": 0.80}  # a node task's per-type AUCs
    assert monitored(node_row, "val_auc") == -0.95


def test_monitor_must_fit_the_task(tmp_path):
    config = tiny_config(tmp_path)
    config["task"] = {"type": "regression", "target": "log(pt_gen / pt)", "loss": "huber", "labels": None}
    config["training"]["monitor"] = "val_auc"
    with pytest.raises(ConfigError, match="training.monitor: val_auc needs a classification task"):
        validate_config(config)
    with pytest.raises(ConfigError, match="training.early_stopping_patience"):
        tiny_config(tmp_path, monitor="last", early_stopping_patience=2)
