"""The Q-factor eps_s / sqrt(eps_b) on hand-computed cases, per size bin, and its figure through bin/plot.py."""

import json

import numpy as np
import pytest
import uproot

from gnnjet.evaluate.qfactor import best_efficiency, q_factor, q_factor_bins, size_edges

SCORES = np.array([0.9, 0.8, 0.7, 0.2, 0.85, 0.3, 0.1, 0.05])
SIGNAL = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)


def test_q_factor_of_a_hand_computed_case():
    # at 50% signal efficiency (scores >= 0.8) one of four background events passes: Q = 0.5 / sqrt(0.25)
    assert q_factor(SCORES, SIGNAL, 0.5) == pytest.approx(1.0)
    # cuts: >= 0.7 keeps 3 signal, 1 background: 0.75 / 0.5 = 1.5, the best
    assert q_factor(SCORES, SIGNAL, min_background=1) == pytest.approx(1.5)
    assert best_efficiency(SCORES, SIGNAL, min_background=1) == pytest.approx(0.75)
    # with at least 2 background events kept: >= 0.2 (4 signal, 2 background): 1 / sqrt(0.5)
    assert q_factor(SCORES, SIGNAL, min_background=2) == pytest.approx(np.sqrt(2))
    assert q_factor(SCORES, SIGNAL, 0.25) == float("inf")  # the top signal event passes alone


def test_q_factor_weights_count_events():
    doubled = q_factor(np.r_[SCORES, SCORES], np.r_[SIGNAL, SIGNAL], 0.5)
    weighted = q_factor(SCORES, SIGNAL, 0.5, weights=np.full(8, 2.0))
    assert weighted == pytest.approx(doubled) == pytest.approx(1.0)


def test_q_factor_bins_use_each_bins_events():
    rng = np.random.default_rng(0)
    n = 4000
    signal = rng.uniform(size=n) < 0.5
    size = rng.uniform(0, 100, n)
    # separation grows with size: a perfect separation above 50
    scores = np.where(size > 50, signal.astype(float), rng.uniform(size=n))
    rows = q_factor_bins(scores, signal, size, np.array([0.0, 50.0, 100.0]))
    assert rows[0]["auc"] == pytest.approx(0.5, abs=0.04) and rows[1]["auc"] == pytest.approx(1.0)
    assert rows[0]["q_fixed"] == pytest.approx(0.5 / np.sqrt(0.5), abs=0.06)
    assert rows[1]["q_fixed"] == float("inf")
    assert rows[0]["signal"] + rows[0]["background"] == (size < 50).sum()
    edges = size_edges(size, 4)
    assert len(edges) == 5 and edges[-1] > size.max() and edges[0] == size.min()


def test_plot_q_factor_tables_every_model(tmp_path):
    from gnnjet.data.writer import write_jets
    from gnnjet.plots.compare import plot_models

    rng = np.random.default_rng(1)
    n = 3000
    gamma = (rng.uniform(size=n) < 0.5).astype(np.int32)
    nhit = rng.integers(20, 500, n).astype(np.float32)
    for name, noise in (("net", 0.5), ("compactness", 0.9)):
        score = (gamma + rng.normal(0, noise, n)).astype(np.float32)
        write_jets(tmp_path / f"{name}.root", {"score_label_gamma": score, "score_label_proton": 1 - score,
                                               "label_gamma": gamma, "label_proton": 1 - gamma, "nhit": nhit,
                                               "event": np.arange(n)}, notes={"task": "classification"})
    paths = plot_models([str(tmp_path / "net.root"), str(tmp_path / "compactness.root")], ["net", "compactness"],
                        tmp_path / "figs", q_factor="nhit", q_factor_edges=[20, 100, 500])
    assert tmp_path / "figs" / "q_factor.png" in paths
    table = json.loads((tmp_path / "figs" / "q_factor.json").read_text())
    assert table["signal"] == "gamma" and table["edges"] == [20, 100, 500]
    net, classic = table["models"]["net"], table["models"]["compactness"]
    assert all(a["q_fixed"] > b["q_fixed"] for a, b in zip(net, classic))
    columns = uproot.open(tmp_path / "net.root")["Jets"].arrays(library="np")
    low = columns["nhit"] < 100
    expected = q_factor(columns["score_label_gamma"][low], columns["label_gamma"][low] == 1, 0.5)
    assert net[0]["q_fixed"] == pytest.approx(expected)
    assert "| net, nhit 20-100 |" in (tmp_path / "figs" / "q_factor.md").read_text()
