"""The compactness C = N_hit / CxPE40 on hand-made events, and as a discriminant on generated showers."""

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.data.writer import write_jets
from gnnjet.evaluate.compactness import compactness, write_compactness
from gnnjet.evaluate.stats import auc
from gnnjet.generate.showers import ShowerSetup, simulate_shard
from tests.cli import run_bin


def test_compactness_of_hand_made_events():
    charge = ak.Array([[50.0, 10.0, 5.0], [20.0, 2.0], [8.0, 0.5]])
    deltar = ak.Array([[5.0, 45.0, 60.0], [3.0, 10.0], [3.0, 50.0]])
    # 3 hits / largest far charge 10; no hit beyond 40 m: 2 / 1 pe; a far hit below 1 pe counts as 1 pe
    np.testing.assert_allclose(compactness(charge, deltar), [0.3, 2.0, 2.0])
    np.testing.assert_allclose(compactness(charge, deltar, radius=4.0), [3 / 50, 2 / 2, 2 / 1])


def test_compactness_separates_generated_gammas_from_protons(tmp_path):
    branches, _ = simulate_shard(300, seed=11, setup=ShowerSetup(), first_event=0)
    write_jets(tmp_path / "showers.root", branches)
    result = run_bin("compactness.py", "-i", tmp_path / "showers.root", "-o", tmp_path / "compactness")
    assert result.returncode == 0
    columns = uproot.open(tmp_path / "compactness" / "pred.root")["Jets"].arrays(library="np")
    assert auc(columns["compactness"], columns["label_gamma"] == 1) > 0.75
    np.testing.assert_allclose(columns["score_label_gamma"], columns["compactness"] / (1 + columns["compactness"]),
                               rtol=1e-6)
    np.testing.assert_array_equal(columns["event"], np.arange(300))


def test_compactness_of_a_jet_sample_names_the_missing_branch(tmp_path):
    write_jets(tmp_path / "jets.root", {"pt": np.ones(3, np.float32)})
    with pytest.raises(Exception, match="hit_charge"):
        write_compactness([str(tmp_path / "jets.root")], tmp_path / "out")


def test_compactness_refuses_to_overwrite_predictions(tmp_path):
    """OUT/pred.root may be a network's predictions: an existing one needs --overwrite (and stays as it was
    without), an input file is never written."""
    branches, _ = simulate_shard(20, seed=3, setup=ShowerSetup(), first_event=0)
    write_jets(tmp_path / "showers.root", branches)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "pred.root").write_text("a network's predictions")
    result = run_bin("compactness.py", "-i", tmp_path / "showers.root", "-o", tmp_path / "run")
    assert result.returncode != 0 and "already exists: pass --overwrite" in result.stderr
    assert (tmp_path / "run" / "pred.root").read_text() == "a network's predictions"
    assert run_bin("compactness.py", "-i", tmp_path / "showers.root", "-o", tmp_path / "run",
                   "--overwrite").returncode == 0
    assert len(uproot.open(tmp_path / "run" / "pred.root")["Jets"]["compactness"].array()) == 20
    (tmp_path / "inputs").mkdir()
    write_jets(tmp_path / "inputs" / "pred.root", branches)
    result = run_bin("compactness.py", "-i", tmp_path / "inputs" / "pred.root", "-o", tmp_path / "inputs",
                     "--overwrite")
    assert result.returncode != 0 and "is one of the input files" in result.stderr
