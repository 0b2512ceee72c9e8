"""k-fold: k runs in one directory, each jet scored by the model that never trained on it."""


import numpy as np
import pytest
import uproot
import yaml

from tests.cli import run_bin
from tests.conftest import write_fake
from tests.training.test_trainer import tiny_config


def cli(script, *args):
    return run_bin(script, *args)


@pytest.fixture(scope="module")
def kfold_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kfold")
    config = tiny_config(tmp, num_jets=240, epochs=1)
    events = np.arange(240) * 7 + 3
    write_fake(tmp / "train.root", 240, event=events)  # the jets of tiny_config's file, with event numbers
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    result = cli("train.py", "-c", tmp / "c.yaml", "-o", tmp / "run", "--kfold", "3", "--fold-expr", "event % 3")
    assert result.returncode == 0, result.stderr
    return tmp, events


def test_each_jet_is_scored_by_the_model_of_its_fold_which_never_saw_it(kfold_run, tmp_path):
    tmp, events = kfold_run
    run, data = tmp / "run", tmp / "train.root"
    assert sorted(p.name for p in run.iterdir() if p.is_dir()) == ["fold_0", "fold_1", "fold_2"]
    assert cli("predict.py", "-m", run, "-i", data, "-o", tmp_path / "oof.root").returncode == 0
    oof = uproot.open(tmp_path / "oof.root")["Jets"].arrays(library="np")
    fold = events % 3
    per_fold = []
    for f in range(3):
        result = cli("predict.py", "-m", run / f"fold_{f}", "-i", data, "-o", tmp_path / f"{f}.root")
        assert result.returncode == 0, result.stderr
        per_fold.append(uproot.open(tmp_path / f"{f}.root")["Jets"]["score_label_q"].array(library="np"))
        np.testing.assert_array_equal(oof["score_label_q"][fold == f], per_fold[f][fold == f])
        split = np.load(run / f"fold_{f}" / "split.npz")
        seen = np.concatenate([split["train"], split["val"]])  # store indices = entries: no jet was dropped
        assert not np.isin(np.flatnonzero(fold == f), seen).any()
        assert np.isin(np.flatnonzero(fold != f), seen).all()
    assert not np.allclose(per_fold[0], per_fold[1])  # three different models
    result = cli("predict.py", "-m", run, "-i", data, "-o", tmp_path / "mean.root", "--fold-average")
    assert result.returncode == 0, result.stderr
    mean = uproot.open(tmp_path / "mean.root")["Jets"]["score_label_q"].array(library="np")
    scores = np.stack(per_fold)
    assert (mean >= scores.min(axis=0) - 1e-6).all() and (mean <= scores.max(axis=0) + 1e-6).all()


def test_a_killed_kfold_run_resumes_fold_by_fold(kfold_run):
    tmp, _ = kfold_run
    (tmp / "run" / "fold_2" / "last.pt").unlink()  # as if killed during fold 2's first epoch
    for name in ("best.pt", "metrics.csv"):
        (tmp / "run" / "fold_2" / name).unlink()
    before = (tmp / "run" / "fold_0" / "last.pt").read_bytes()
    result = cli("train.py", "-o", tmp / "run", "--resume")
    assert result.returncode == 0, result.stderr
    assert (tmp / "run" / "fold_0" / "last.pt").read_bytes() == before  # finished folds are left as they are
    assert (tmp / "run" / "fold_2" / "last.pt").exists()


@pytest.mark.parametrize("k, expr, message", [
    ("3", "event % 4", "training.kfold.expr: 'event % 4' gives 3 for a jet; a fold must be an integer in [0, 3)"),
    ("3", "event / 7", "a fold must be an integer in [0, 3)"),
    ("1", "event % 1", "--kfold/--fold-expr: training.kfold.k: expected an integer >= 2, got 1"),
])
def test_bad_folds_are_one_line(tmp_path, k, expr, message):
    config = tiny_config(tmp_path, num_jets=60, epochs=1)
    write_fake(tmp_path / "train.root", 60, event=np.arange(60))
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = cli("train.py", "-c", tmp_path / "c.yaml", "-o", tmp_path / "run", "--kfold", k, "--fold-expr", expr)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr
