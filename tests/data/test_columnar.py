"""Jets -> columnar chunks: ordering, caps, node types, dropped jets and constituents, bad expressions."""

import logging

import awkward as ak
import numpy as np
import pytest

from gnnjet.config import validate_config
from gnnjet.data.cache.build import build_store
from gnnjet.data.columnar import columnarise
from gnnjet.data.read_stats import ReadStats
from gnnjet.data.reader import plan_chunks, read_chunk
from gnnjet.data.spec import DataSpec
from gnnjet.errors import ConfigError
from tests.conftest import fake_jets, write_fake, write_fake_with_nonfinite_dxy, write_fake_with_nonfinite_kinematics


def read_all(config, path):
    spec = DataSpec.from_config(validate_config(config))
    stats = ReadStats()
    chunks = [read_chunk(spec, chunk, stats) for chunk in plan_chunks(spec, [str(path)], spec.step_size)]
    return spec, {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}, stats


def test_nodes_are_typed_pt_ordered_and_capped(base_config, fake_file):
    spec, out, stats = read_all(base_config, fake_file)
    raw = fake_jets(200)
    assert stats.jets_read == 200
    expected = (np.minimum(ak.to_numpy(ak.num(raw["ch"].pt)), 16) + np.minimum(ak.to_numpy(ak.num(raw["ne"].pt)), 8)
                + np.minimum(ak.to_numpy(ak.num(raw["sv"].pt)), 4))
    np.testing.assert_array_equal(out["counts"], expected)
    start = 0
    log_pt = spec.columns.index(next(f for f in spec.columns if f.name == "log_pt"))
    for jet, n in enumerate(out["counts"]):
        types = out["node_type"][start : start + n]
        assert np.all(np.diff(types) >= 0), "charged, then neutral, then SV"
        for code, name in enumerate(("ch", "ne", "sv")):
            pts = np.exp(out["x"][start : start + n][types == code, log_pt])
            ref = np.sort(ak.to_numpy(raw[name].pt[jet]))[::-1][: len(pts)]
            np.testing.assert_allclose(pts, ref, rtol=1e-5)
        start += n


def test_jet_without_svs_or_charged_is_kept(base_config, fake_file):
    _, out, _ = read_all(base_config, fake_file)
    ptr = np.concatenate([[0], np.cumsum(out["counts"])])
    assert 2 not in out["node_type"][ptr[0] : ptr[1]]  # jet 0 has no SV
    assert 0 not in out["node_type"][ptr[1] : ptr[2]]  # jet 1 has no charged
    assert out["counts"][2] == 1


def test_foreign_columns_are_zero(base_config, fake_file):
    spec, out, _ = read_all(base_config, fake_file)
    for code in range(3):
        rows = out["x"][out["node_type"] == code]
        assert np.all(rows[:, ~spec.type_columns[code]] == 0)


def test_pos_and_p4(base_config, tmp_path):
    branches = fake_jets(10)
    branches["phi"][:] = 3.1
    branches["ch"] = ak.zip({**{f: branches["ch"][f] for f in branches["ch"].fields},
                             "phi": ak.full_like(branches["ch"].phi, -3.1)})
    path = write_fake(tmp_path / "wrap.root", 10, ch=branches["ch"], phi=branches["phi"])
    _, out, _ = read_all(base_config, path)
    charged = out["node_type"] == 0
    np.testing.assert_allclose(out["pos"][charged, 1], 2 * np.pi - 6.2, atol=1e-5)
    px, py, pz, energy = out["p4"].T
    mass2 = energy**2 - px**2 - py**2 - pz**2
    sv = out["node_type"] == 2
    assert np.all(np.abs(mass2[~sv]) < 1e-2 * energy[~sv] ** 2)  # massless charged/neutral
    assert np.all(mass2[sv] > 0)


def test_empty_jets_dropped_and_counted(base_config, tmp_path, caplog):
    raw = fake_jets(20)
    for name in ("ch", "ne", "sv"):
        counts = ak.to_numpy(ak.num(raw[name].pt)).copy()
        keep = np.ones(int(counts.sum()), bool)
        flat_jet = np.repeat(np.arange(20), counts)
        keep[np.isin(flat_jet, [4, 7])] = False
        counts[[4, 7]] = 0
        raw[name] = ak.unflatten(ak.flatten(raw[name])[keep], counts)
    path = write_fake(tmp_path / "empty.root", 20, **{k: raw[k] for k in ("ch", "ne", "sv")})
    spec = DataSpec.from_config(validate_config(base_config))
    with caplog.at_level(logging.WARNING):
        store = build_store(spec, [str(path)], tmp_path / "cache", progress=False)
    assert store.num_jets == 18
    assert store.meta["stats"]["no_nodes"] == 2
    assert "dropped 2 of 20 jets that had no constituents (or none with finite kinematics)" in caplog.text


def test_selection_and_regression_target(base_config, tmp_path):
    base_config["data"]["selection"] = "(pt > 100) & (abs(eta) < 2)"
    base_config["task"] = {"type": "regression"}
    raw = fake_jets(100)
    raw["pt_gen"][:5] = 0.0  # log(0 / pt) = -inf: invalid target
    path = write_fake(tmp_path / "reg.root", 100, pt_gen=raw["pt_gen"])
    _, out, stats = read_all(base_config, path)
    passed = (raw["pt"] > 100) & (np.abs(raw["eta"]) < 2)
    valid = passed & (raw["pt_gen"] > 0)
    assert stats.failed_selection == int((~passed).sum())
    assert stats.invalid_target == int((passed & ~valid).sum())
    np.testing.assert_allclose(out["y"], np.log(raw["pt_gen"][valid] / raw["pt"][valid]), rtol=1e-5)
    assert out["y"].dtype == np.float32


def test_nonfinite_features_counted(base_config, tmp_path, caplog):
    path = write_fake_with_nonfinite_dxy(tmp_path / "nan.root", 30)
    base_config["data"]["node_types"]["charged"]["max_nodes"] = 64  # keep every track
    spec = DataSpec.from_config(validate_config(base_config))
    with caplog.at_level(logging.WARNING):
        build_store(spec, [str(path)], tmp_path / "cache", progress=False)
    assert "feature 'dxy' (data.node_types.charged.features[5]): 3 NaN/inf values" in caplog.text


def test_feature_mixing_collections_is_a_config_error(base_config, fake_file):
    base_config["data"]["node_types"]["charged"]["features"].append({"name": "bad", "expr": "ne_pt"})
    with pytest.raises(ConfigError, match=r"charged\.features\[6\]: 'ne_pt' does not have one value per constituent"):
        read_all(base_config, fake_file)


def test_columnarise_on_in_memory_arrays(base_config):
    spec = DataSpec.from_config(validate_config(base_config))
    raw = fake_jets(5)
    arrays = ak.Array({**{k: v for k, v in raw.items() if k not in ("ch", "ne", "sv")},
                       **{f"{p}_{f}": raw[p][f] for p in ("ch", "ne", "sv") for f in raw[p].fields}})
    out = columnarise(spec, arrays, ReadStats())
    assert out["x"].shape == (int(out["counts"].sum()), len(spec.columns))
    assert out["obs"].shape == (5, 4)


def test_constituents_with_nonfinite_kinematics_are_dropped_and_counted(base_config, tmp_path, caplog):
    """NaN pt of jet 2's only constituent drops the jet; inf eta / NaN phi drop two constituents of jet 0."""
    path = write_fake_with_nonfinite_kinematics(tmp_path / "bad_kinematics.root", 40)
    base_config["data"]["node_types"]["charged"]["max_nodes"] = 64
    _, out, stats = read_all(base_config, path)
    _, clean, _ = read_all(base_config, write_fake(tmp_path / "clean.root", 40))
    assert stats.nonfinite_kinematics == 3 and stats.no_nodes == 1
    assert len(out["counts"]) == 39 and out["counts"][0] == clean["counts"][0] - 2
    assert np.isfinite(out["p4"]).all() and np.isfinite(out["pos"]).all()
    spec = DataSpec.from_config(validate_config(base_config))
    with caplog.at_level(logging.WARNING):
        build_store(spec, [str(path)], tmp_path / "cache", progress=False)
    assert "dropped 3 constituents with NaN/inf kinematics" in caplog.text


def test_class_expressions_give_the_one_hot_classes(base_config, fake_file):
    """task.labels as {name: expression} reads the same classes as the one-hot branches they restate."""
    _, branches, _ = read_all(base_config, fake_file)
    base_config["task"]["labels"] = {"quark": "label_q == 1", "gluon": "label_g > 0.5"}
    spec, expressions, stats = read_all(base_config, fake_file)
    assert spec.labels == ["quark", "gluon"] and stats.invalid_target == 0
    np.testing.assert_array_equal(expressions["y"], branches["y"])
    assert 0 < expressions["y"].mean() < 1


def test_jets_of_no_class_or_of_two_are_dropped_and_counted(base_config, tmp_path):
    raw = fake_jets(100)
    path = write_fake(tmp_path / "pt.root", 100)
    base_config["task"]["labels"] = {"soft": "pt < 120", "hard": "pt > 80", "forward": "abs(eta) > 9"}
    _, out, stats = read_all(base_config, path)
    overlap = (raw["pt"] < 120) & (raw["pt"] > 80)
    assert 0 < overlap.sum() < 100 and stats.invalid_target == int(overlap.sum())
    np.testing.assert_array_equal(out["y"], (raw["pt"][~overlap] > 80).astype(np.int64))


@pytest.mark.parametrize("labels, message", [
    ({"top": "is_signal_new ==", "qcd": "1"}, "task.labels.top"),
    ({"top": "1"}, "task.labels: expected a list of at least two one-hot label branches, or a mapping"),
    ({"top quark": "1", "qcd": "0"}, "class name 'top quark' must be a name"),
])
def test_bad_class_expressions_are_config_errors(base_config, labels, message):
    base_config["task"]["labels"] = labels
    with pytest.raises(ConfigError, match=message):
        DataSpec.from_config(validate_config(base_config))


def test_weights_and_weighting_variables_are_read_and_nonfinite_ones_give_weight_zero(base_config, tmp_path, caplog):
    raw = fake_jets(60)
    weight = raw["pt"] / 100
    weight[[3, 7]] = [np.nan, np.inf]
    mass = raw["mass"].copy()
    mass[11] = np.nan
    path = write_fake(tmp_path / "weighted.root", 60, weight=weight, mass=mass)
    base_config["data"]["weights"] = {"expr": "weight", "reweight": {"vars": {"pt": [0, 400]}}}
    base_config["task"]["decorrelation"] = {"expr": "mass"}
    spec, out, stats = read_all(base_config, path)
    assert stats.nonfinite_weight == 3
    kept = np.setdiff1d(out["entry"], [3, 7, 11])
    np.testing.assert_allclose(out["weight"][kept], weight[kept], rtol=1e-6)
    assert (out["weight"][[3, 7, 11]] == 0).all() and (out["aux"][[3, 7, 11]] == 0).all()
    np.testing.assert_allclose(out["aux"][kept], np.stack([raw["pt"], mass], axis=1)[kept], rtol=1e-6)
    with caplog.at_level(logging.WARNING):
        build_store(spec, [str(path)], tmp_path / "cache", progress=False)
    assert "3 jets have a NaN/inf weight or weighting variable" in caplog.text


def test_a_weight_or_reweighting_variable_per_constituent_is_a_config_error(base_config, fake_file):
    base_config["data"]["weights"] = {"reweight": {"vars": {"ch_pt": [0, 400]}}}
    with pytest.raises(ConfigError, match=r"data.weights.reweight.vars.ch_pt: 'ch_pt' is not a per-jet quantity"):
        read_all(base_config, fake_file)
    base_config["data"]["weights"] = {"expr": "ch_pt"}
    with pytest.raises(ConfigError, match=r"data.weights.expr: 'ch_pt' is not a per-jet quantity"):
        read_all(base_config, fake_file)


def test_named_variables_reach_features_selections_and_the_cache_key(base_config, tmp_path):
    """data.variables: a jet-level reduction in the selection and a jet feature, a per-constituent variable in a
    node feature; the values are those of the expressions written out, and a new definition is a new cache entry."""
    path = write_fake(tmp_path / "jets.root", 200)
    raw = uproot_arrays(path)
    base_config["data"]["variables"] = {"nsv": "count(sv_pt)", "lead": "max(ch_pt)", "rel": "log(ch_pt / pt)"}
    base_config["data"]["selection"] = "nsv >= 1"
    base_config["data"]["jet_features"] = [{"name": "lead_frac", "expr": "lead / pt", "center": None, "scale": None}]
    base_config["data"]["node_types"]["charged"]["features"][1] = {"name": "rel_pt", "expr": "rel"}
    spec = DataSpec.from_config(validate_config(base_config))
    store = build_store(spec, [str(path)], tmp_path / "cache", progress=False)
    kept = ak.to_numpy(ak.num(raw["sv_pt"]) >= 1)  # a jet with an SV has a node: none is dropped
    entries = np.asarray(store.arrays["entry"])
    np.testing.assert_array_equal(entries, np.flatnonzero(kept))
    lead = ak.to_numpy(ak.max(raw["ch_pt"], axis=1)[kept], allow_missing=True).filled(np.nan) / raw["pt"][kept]
    np.testing.assert_allclose(np.asarray(store.arrays["u"])[:, 0], lead, rtol=1e-6)
    base_config["data"]["variables"]["nsv"] = "count(sv_pt) + 0"
    other = DataSpec.from_config(validate_config(base_config))
    assert other.fingerprint() != spec.fingerprint()


def uproot_arrays(path):
    import uproot

    return uproot.open(path)["Jets"].arrays(["pt", "sv_pt", "ch_pt", "ne_pt"])
