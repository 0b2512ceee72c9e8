"""docs/examples/ run as a user runs them: each on a tiny trained run, checked against bin/ on the same jets."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import uproot

from gnnjet.evaluate.stats import auc
from gnnjet.predict import predict
from gnnjet.training.trainer import train
from tests.conftest import write_fake
from tests.training.test_trainer import ENV, tiny_config

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def test_scoring_an_awkward_array_draws_the_roc_of_the_file_predictions(tmp_path):
    config = tiny_config(tmp_path, epochs=1)
    train(config, tmp_path / "run", progress=False)
    write_fake(tmp_path / "jets" / "a.root", 70, seed=8)
    write_fake(tmp_path / "jets" / "b.root", 50, seed=9)
    result = subprocess.run([sys.executable, str(EXAMPLES / "score_awkward.py"), "--run", str(tmp_path / "run"),
                             "--input", str(tmp_path / "jets" / "*.root"), "--output", str(tmp_path / "roc.png")],
                            capture_output=True, text=True, env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    predict(tmp_path / "run", [str(tmp_path / "jets" / "*.root")], tmp_path / "pred.root", progress=False)
    columns = uproot.open(tmp_path / "pred.root")["Jets"].arrays(library="np")
    expected = auc(columns["score_label_q"], columns["label_q"] == 1)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("120 jets scored") and float(last.split()[-1]) == pytest.approx(expected, abs=1e-6)
    assert np.isfinite(expected)
    again = subprocess.run([sys.executable, str(EXAMPLES / "score_awkward.py"), "--run", str(tmp_path / "run"),
                            "--input", str(tmp_path / "jets" / "*.root"), "--output", str(tmp_path / "roc.png")],
                           capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 1 and "roc.png already exists: pass --overwrite" in again.stderr
