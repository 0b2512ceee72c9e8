"""The test set of a run (bin/train.py --test / data.test): predictions of best.pt and the task's metrics."""

import json

import uproot
import yaml

from gnnjet.evaluate.stats import auc
from tests.cli import run_bin
from tests.conftest import write_fake
from tests.training.test_trainer import tiny_config


def train_cli(*args):
    return run_bin("train.py", *args)


def test_train_ends_with_the_test_set_and_its_metrics(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path, num_jets=150, epochs=1)))
    test = write_fake(tmp_path / "test.root", 80, seed=21)
    result = train_cli("-c", tmp_path / "c.yaml", "-o", tmp_path / "run", "--test", test)
    assert result.returncode == 0, result.stderr
    out = uproot.open(tmp_path / "run" / "test_predictions.root")["Jets"].arrays(library="np")
    record = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert record["jets"] == len(out["entry"]) == 80 and record["selection"] == "none"
    assert record["metrics"]["auc"] == auc(out["score_label_q"], out["label_q"] == 1)
    assert "| auc |" in (tmp_path / "run" / "test_metrics.md").read_text()
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]["test"] == [str(test)]


def test_no_test_skips_it_and_missing_val_files_fall_back_to_the_fraction(tmp_path):
    config = tiny_config(tmp_path, num_jets=150, epochs=1)
    config["data"]["val"] = [str(tmp_path / "elsewhere" / "val.root")]  # another sample's validation files
    config["data"]["test"] = [str(write_fake(tmp_path / "test.root", 30))]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = train_cli("-c", tmp_path / "c.yaml", "-i", config["data"]["train"][0], "-o", tmp_path / "run",
                       "--no-test")
    assert result.returncode == 0, result.stderr
    assert "is not there" in result.stderr and "data.val_fraction = 0.1" in result.stderr
    assert not (tmp_path / "run" / "test_predictions.root").exists()
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]["val"] == []


def test_val_files_given_must_exist_before_any_work(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path, num_jets=50, epochs=1)))
    for option in ("--val", "--test"):
        result = train_cli("-c", tmp_path / "c.yaml", "-o", tmp_path / "run", option, tmp_path / "nothere.root")
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert f"{option}: input file {tmp_path / 'nothere.root'} does not exist" in result.stderr
        assert not (tmp_path / "run").exists()


def test_validation_on_the_given_val_files(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config(tmp_path, num_jets=100, epochs=1)))
    val = write_fake(tmp_path / "val.root", 40, seed=8)
    result = train_cli("-c", tmp_path / "c.yaml", "-o", tmp_path / "run", "--val", val)
    assert result.returncode == 0, result.stderr
    assert "100 training and 40 validation jets" in result.stderr
