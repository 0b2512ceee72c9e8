"""Histogram reweighting (data.weights.reweight) and jet weights: weaver-core's flat/ref semantics, checks, errors."""

import numpy as np
import pytest

from gnnjet.config import validate_config
from gnnjet.data.reweight import Reweighting, check_weights
from gnnjet.data.spec import DataSpec
from gnnjet.errors import ConfigError, DataError
from tests.conftest import BASE_CONFIG

SETTINGS = {"vars": {"pt": [0.0, 1.0, 2.0, 3.0], "mass": [0.0, 1.0, 2.0]}, "method": "flat", "classes": None,
            "class_weights": None, "threshold": 0.0, "discard_outside": True}


def sample(seed=0, jets=20000):
    """Two classes with different, falling (pt, mass) shapes; class 1 twice as many jets."""
    rng = np.random.default_rng(seed)
    y = (rng.random(jets) < 2 / 3).astype(np.int64)
    pt = np.where(y == 0, rng.exponential(0.8, jets), rng.exponential(1.5, jets))
    mass = np.where(y == 0, rng.uniform(0, 2, jets), rng.triangular(0, 0, 2, jets))
    return y, np.stack([pt, mass], axis=1)


def weighted_histogram(rw, y, aux, weights, index):
    hist, _, _ = np.histogram2d(aux[y == index, 0], aux[y == index, 1], bins=rw.edges, weights=weights[y == index])
    return hist


def test_flat_makes_every_class_flat_in_the_fitted_histogram_and_within_errors_on_new_jets():
    y, aux = sample()
    rw = Reweighting.fit(SETTINGS, ["a", "b"], y, aux, np.ones(len(y)))
    weights = rw.weights(y, aux)
    for index in (0, 1):
        hist = weighted_histogram(rw, y, aux, weights, index)
        np.testing.assert_allclose(hist, hist.flat[0], rtol=1e-5)  # threshold 0: every filled bin at the minimum
    # classes balanced (equal weighted totals) and mean weight 1 over the jets
    assert weights[y == 0].sum() == pytest.approx(weights[y == 1].sum(), rel=1e-5)
    assert weights.mean() == pytest.approx(1.0, rel=1e-5)
    # new jets of the same distributions: flat within the statistical error sqrt(sum w^2) of each bin
    y2, aux2 = sample(seed=1)
    weights2 = rw.weights(y2, aux2)
    for index in (0, 1):
        hist = weighted_histogram(rw, y2, aux2, weights2, index)
        errors = np.sqrt(weighted_histogram(rw, y2, aux2, weights2**2, index))
        pulls = (hist - hist.mean()) / errors
        assert np.abs(pulls).max() < 4.5 and np.abs(pulls).std() < 2.0


def test_flat_threshold_keeps_rare_bins_at_weight_one():
    y, aux = sample()
    rw = Reweighting.fit({**SETTINGS, "threshold": 50.0}, ["a", "b"], y, aux, np.ones(len(y)))
    raw = rw.factors["b"] / rw.factors["b"].max()  # before the class balance
    counts = rw.before["b"]
    rare, common = counts <= np.percentile(counts, 50), counts > np.percentile(counts, 50)
    np.testing.assert_allclose(raw[rare], 1.0)
    assert (raw[common] < 1).all()


def test_ref_gives_every_class_the_first_class_shape_and_class_weights_scale_totals():
    y, aux = sample()
    settings = {**SETTINGS, "method": "ref", "class_weights": [1.0, 3.0]}
    rw = Reweighting.fit(settings, ["a", "b"], y, aux, np.ones(len(y)))
    weights = rw.weights(y, aux)
    first, second = (weighted_histogram(rw, y, aux, weights, i) for i in (0, 1))
    # class a is its own reference (weights 1 up to the class balance); b takes a's shape where b's ratio is
    # below the cap (the 90th percentile)
    shape_a, shape_b = first / first.sum(), second / second.sum()
    capped = rw.factors["b"] == rw.factors["b"].max()
    np.testing.assert_allclose(shape_b[~capped] / shape_a[~capped], (shape_b / shape_a)[~capped][0], rtol=1e-5)
    assert weights[y == 1].sum() == pytest.approx(3 * weights[y == 0].sum(), rel=1e-5)


def test_base_weights_enter_the_histograms_and_outside_jets_get_zero():
    y, aux = sample()
    base = np.where(aux[:, 1] > 1, 2.0, 1.0)
    rw = Reweighting.fit(SETTINGS, ["a", "b"], y, aux, base)
    weights = rw.weights(y, aux) * base
    for index in (0, 1):
        hist = weighted_histogram(rw, y, aux, weights, index)
        np.testing.assert_allclose(hist, hist.flat[0], rtol=1e-5)
    outside = aux[:, 0] > 3.0
    assert outside.any() and (rw.weights(y, aux)[outside] == 0).all()
    kept = Reweighting.fit({**SETTINGS, "discard_outside": False}, ["a", "b"], y, aux, base)
    assert (kept.weights(y, aux)[outside] > 0).all()


def test_only_listed_classes_are_reweighted_and_save_load_round_trip(tmp_path):
    y, aux = sample()
    rw = Reweighting.fit({**SETTINGS, "classes": ["b"]}, ["a", "b"], y, aux, np.ones(len(y)))
    assert (rw.weights(y, aux)[y == 0] == 0).all()
    rw.save(tmp_path / "weights.json")
    again = Reweighting.load(tmp_path / "weights.json")
    np.testing.assert_array_equal(again.weights(y, aux), rw.weights(y, aux))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="bad.json"):
        Reweighting.load(tmp_path / "bad.json")


def test_a_class_without_jets_inside_the_edges_is_an_error():
    y, aux = sample()
    aux[y == 0, 1] = 5.0  # every jet of class a above the mass edges
    with pytest.raises(DataError, match="class 'a' has no training jets"):
        Reweighting.fit(SETTINGS, ["a", "b"], y, aux, np.ones(len(y)))


def test_check_weights():
    y = np.array([0, 0, 1, 1])
    check_weights(np.array([1.0, 0.0, 2.0, 1.0]), y, ["a", "b"], False, "training")
    with pytest.raises(DataError, match="1 of 4 training jets a negative weight"):
        check_weights(np.array([1.0, -1.0, 2.0, 1.0]), y, ["a", "b"], False, "training")
    check_weights(np.array([1.0, -0.5, 2.0, 1.0]), y, ["a", "b"], True, "training")
    with pytest.raises(DataError, match="class 'b' has weight 0"):
        check_weights(np.array([1.0, 1.0, 0.0, 0.0]), y, ["a", "b"], False, "validation")


def config_with(weights=None, task=None):
    config = {**BASE_CONFIG, "data": {**BASE_CONFIG["data"], "weights": weights}}
    config["task"] = {**BASE_CONFIG["task"], **(task or {})}
    return config


@pytest.mark.parametrize("weights, task, message", [
    ({"reweight": {"vars": {"pt": [100, 50]}}}, None, r"data.weights.reweight.vars.pt: bin edges must increase"),
    ({"reweight": {"vars": {"pt": [0, 1], "mass": [0, 1], "eta": [0, 1]}}}, None, "one or two jet-level"),
    ({"reweight": {"vars": {"pt": [0, 1]}, "classes": ["label_x"]}}, None,
     r"data.weights.reweight.classes: 'label_x' is not a class of task.labels \(label_q, label_g\)"),
    ({"reweight": {"vars": {"pt": [0, 1]}, "class_weights": [1, 2, 3]}}, None, "3 weights for 2 classes"),
    ({"reweight": {"vars": {"pt": [0, 1]}, "method": "flatt"}}, None, "method"),
    ({"reweight": {"vars": {"pt": [0, 1]}}}, {"type": "regression", "labels": None},
     "data.weights.reweight: needs a classification task"),
    (None, {"decorrelation": {"expr": "mass", "classes": ["label_qq"]}},
     "task.decorrelation.classes: 'label_qq' is not a class.*did you mean 'label_q'"),
    (None, {"decorrelation": {"expr": "mass", "classes": ["label_q"]}}, "the score's own class 'label_q'"),
    (None, {"decorrelation": {"expr": "mass", "strength": -1}}, "task.decorrelation.strength"),
])
def test_config_errors_name_the_key(weights, task, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(config_with(weights, task))


def test_weights_are_part_of_the_cache_fingerprint():
    plain = DataSpec.from_config(validate_config(config_with()))
    weighted = DataSpec.from_config(validate_config(config_with({"expr": "pt_gen / pt"})))
    reweighted = DataSpec.from_config(validate_config(config_with({"reweight": {"vars": {"pt": [0, 1]}}})))
    assert len({plain.fingerprint(), weighted.fingerprint(), reweighted.fingerprint()}) == 3
    assert [e.text for e in reweighted.aux_exprs] == ["pt"]
    assert reweighted.branches["pt"]


def test_without_discarding_outside_jets_count_in_the_edge_bins():
    """discard_outside: false (weaver's reweight_discard_under_overflow: false) histograms the jets beyond the edges
    in the edge bins, so the reweighted classes are flat including them."""
    y, aux = sample()
    rw = Reweighting.fit({**SETTINGS, "discard_outside": False}, ["a", "b"], y, aux, np.ones(len(y)))
    clipped = np.stack([np.clip(aux[:, i], rw.edges[i][0], rw.edges[i][-1]) for i in range(2)], axis=1)
    weights = rw.weights(y, aux)
    for index, name in enumerate(("a", "b")):
        np.testing.assert_allclose(rw.before[name], weighted_histogram(rw, y, clipped, np.ones(len(y)), index))
        hist = weighted_histogram(rw, y, clipped, weights, index)
        np.testing.assert_allclose(hist, hist.flat[0], rtol=1e-5)
