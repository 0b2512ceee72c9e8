"""Per-particle evaluation (`gnnjet.evaluate.particles`) and its figures (`gnnjet.plots.nodes`, through bin/plot.py's
`plot_models`): a network's file and a PUPPI file compared on the same particles and jets, with known AUCs and
resolutions."""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import pytest

from gnnjet import columns as column_names
from gnnjet.data.writer import write_jets
from gnnjet.evaluate.particles import align_types, particle_scores, particle_table
from gnnjet.evaluate.predictions import load_all
from gnnjet.plots.compare import plot_models


def write_pair(tmp_path, jets: int = 200, seed: int = 0):
    """A node classification's predictions file whose network separates perfectly (score_hard = 1 - is_pu, and its
    weighted jet is the hard-interaction jet), and a PUPPI file of random weights on the same jets and particles; the
    network leaves the first charged constituent of every jet unscored (no node), which both comparisons skip."""
    rng = np.random.default_rng(seed)
    n_ch, n_ne = rng.integers(2, 12, jets), rng.integers(1, 8, jets)
    ch_pu = ak.unflatten(rng.integers(0, 2, int(n_ch.sum())).astype(np.int32), n_ch)
    ne_pu = ak.unflatten(rng.integers(0, 2, int(n_ne.sum())).astype(np.int32), n_ne)
    ch_pt, ne_pt = (ak.unflatten(rng.exponential(3.0, int(n.sum())).astype(np.float32), n) for n in (n_ch, n_ne))
    hard_ch = ak.values_astype(1 - ch_pu, np.float32)
    first = ak.local_index(hard_ch) == 0
    network_ch = ak.where(first, np.float32(np.nan), hard_ch)
    pt = rng.uniform(100, 400, jets).astype(np.float32)
    eta = rng.uniform(-2, 2, jets).astype(np.float32)
    nopu = {"pt_nopu": pt * 0.9, "mass_nopu": np.full(jets, 20.0, np.float32), "npv": rng.integers(30, 90, jets)}
    network = {
        "entry": np.arange(jets), "valid": np.ones(jets, np.int8),
        "charged_score_hard": network_ch, "charged_score_pileup": 1 - network_ch,
        "charged_label": ak.values_astype(ch_pu, np.float32), "charged_pt": ch_pt,
        "neutral_score_hard": ak.values_astype(1 - ne_pu, np.float32),
        "neutral_score_pileup": ak.values_astype(ne_pu, np.float32),
        "neutral_label": ak.values_astype(ne_pu, np.float32), "neutral_pt": ne_pt,
        "pt_weighted_hard": nopu["pt_nopu"], "mass_weighted_hard": nopu["mass_nopu"] * 1.0,
        "pt_weighted_pileup": pt * 0.1, "mass_weighted_pileup": np.ones(jets, np.float32),
        "pt": pt, "eta": eta, **nopu}
    random = {name: ak.unflatten(rng.uniform(0, 1, int(n.sum())).astype(np.float32), n)
              for name, n in (("ch", n_ch), ("ne", n_ne))}
    spread = rng.normal(1.0, 0.1, jets).astype(np.float32)
    puppi = {"ch_puppi": random["ch"], "ne_puppi": random["ne"], "ch_pt": ch_pt, "ne_pt": ne_pt,
             "ch_is_pu": ch_pu, "ne_is_pu": ne_pu, "pt": pt, "eta": eta, **nopu}
    for method, factor in (("puppi", spread), ("chs", spread * 1.1), ("none", spread * 1.3)):
        puppi[f"pt_{method}"], puppi[f"mass_{method}"] = nopu["pt_nopu"] * factor, nopu["mass_nopu"] * factor
    write_jets(tmp_path / "network.root", network, notes={column_names.TASK: "node_classification"})
    write_jets(tmp_path / "puppi.root", puppi, notes={column_names.TASK: column_names.PUPPI_TASK})
    return tmp_path / "network.root", tmp_path / "puppi.root"


def test_methods_are_compared_on_the_same_particles_with_known_aucs(tmp_path):
    network, puppi = write_pair(tmp_path)
    models = load_all([str(network), str(puppi)], ["net", "PUPPI file"])
    methods = align_types([m for model in models for m in particle_scores(model)])
    assert [m.method for m in methods] == ["net", "PUPPI", "CHS", "no mitigation"]
    assert all(list(m.score) == ["charged", "neutral"] for m in methods)  # ch -> charged, ne -> neutral
    table = particle_table(methods, [0.0, 2.0, np.inf])
    assert table["net"]["auc"] == 1.0 and table["net"]["auc_charged_pt0_2"] == 1.0
    assert table["net"]["accuracy_neutral"] == 1.0 and table["no mitigation"]["accuracy_neutral"] == pytest.approx(
        float(np.mean(methods[0].signal["neutral"] == 1)))  # keeping everything: right on the hard ones only
    assert table["PUPPI"]["auc"] == pytest.approx(0.5, abs=0.08)
    assert table["CHS"]["auc_neutral"] == 0.5  # neutral constituents all kept: no separation
    assert table["no mitigation"]["auc"] == 0.5 and table["CHS"]["auc_charged"] == table["PUPPI"]["auc_charged"]
    charged = int(methods[0].counts["charged"].sum()) - 200  # each jet's first charged constituent: not scored
    assert table["net"]["particles"] == table["PUPPI"]["particles"] == charged + methods[0].counts["neutral"].sum()


def test_plot_models_writes_particle_and_jet_figures(tmp_path):
    network, puppi = write_pair(tmp_path)
    paths = plot_models([str(network), str(puppi)], ["net", "PUPPI file"], tmp_path / "figs")
    names = {p.name for p in paths}
    assert {"particle_roc_charged.png", "particle_roc_neutral.png", "jet_mass_response.png",
            "jet_pt_resolution_vs_npv.png", "jet_mass_resolution_vs_pt_nopu.png"} <= names
    jets = json.loads((tmp_path / "figs" / "jet_metrics.json").read_text())
    assert set(jets) == {"net", "PUPPI", "CHS", "no mitigation"}
    assert jets["net"]["mass_response"] == pytest.approx(1.0) and jets["net"]["mass_resolution"] == 0.0
    assert jets["no mitigation"]["pt_response"] == pytest.approx(1.3, rel=0.05)
    assert jets["CHS"]["pt_resolution"] == pytest.approx(jets["PUPPI"]["pt_resolution"], rel=1e-3)  # one spread
    particles = json.loads((tmp_path / "figs" / "particle_metrics.json").read_text())
    assert particles["net"]["auc"] == 1.0


def test_node_regression_residuals_per_type_and_pt_bin(tmp_path):
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 6, 300)
    total = int(counts.sum())
    target = rng.uniform(0, 1, total)
    pt = rng.exponential(3.0, total)
    noise = rng.normal(0, 0.2, total)
    columns = {"entry": np.arange(300), "valid": np.ones(300, np.int8), "pt": rng.uniform(50, 100, 300)}
    for name, pred in (("charged", target + 0.1), ("neutral", target + noise)):
        pred = np.where(np.arange(total) % 7 == 0, np.nan, pred)  # constituents that are no node: left out
        columns |= {f"{name}_pred": ak.unflatten(pred.astype(np.float32), counts),
                    f"{name}_target": ak.unflatten(target.astype(np.float32), counts),
                    f"{name}_pt": ak.unflatten(pt.astype(np.float32), counts)}
    write_jets(tmp_path / "pred.root", columns, notes={column_names.TASK: "node_regression"})
    paths = plot_models([str(tmp_path / "pred.root")], ["net"], tmp_path / "figs")
    assert {"node_residual_charged.png", "node_residual_neutral.png"} <= {p.name for p in paths}
    row = json.loads((tmp_path / "figs" / "node_residuals.json").read_text())["net"]
    assert row["median_charged"] == pytest.approx(0.1, abs=1e-6) and row["width_charged"] == pytest.approx(0, abs=1e-6)
    assert row["rms_charged"] == pytest.approx(0.1, abs=1e-6)
    assert row["width_neutral"] == pytest.approx(0.2, rel=0.1)
    assert row["width_neutral_pt2_5"] == pytest.approx(0.2, rel=0.2)
