"""Background sculpting: score cuts at fixed signal efficiency, the Jensen-Shannon divergence and 1/JSD."""

import numpy as np
import pytest

from gnnjet.evaluate.sculpting import background_histograms, inverse_jsd, jensen_shannon, score_cut


def test_jensen_shannon_limits_and_a_known_value():
    p = np.array([1.0, 2.0, 3.0])
    assert jensen_shannon(p, 2 * p) == pytest.approx(0.0, abs=1e-12)
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    # p = (1, 0), q = (1/2, 1/2): m = (3/4, 1/4); JSD = 1/2 log2(4/3) + 1/2 (1/2 log2(2/3) + 1/2 log2(2))
    expected = 0.5 * np.log2(4 / 3) + 0.25 * np.log2(2 / 3) + 0.25
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(expected)


def test_score_cut_keeps_the_weighted_efficiency():
    rng = np.random.default_rng(0)
    score, weights = rng.random(10000), rng.uniform(0.5, 2.0, 10000)
    for efficiency in (0.8, 0.5, 0.3):
        cut = score_cut(score, weights, efficiency)
        assert weights[score >= cut].sum() / weights.sum() == pytest.approx(efficiency, abs=1e-3)
    assert score_cut(score, weights, 1.0) == -np.inf


def test_independent_score_does_not_sculpt_and_a_mass_correlated_one_does():
    rng = np.random.default_rng(1)
    jets = 40000
    signal = rng.random(jets) < 0.5
    mass = np.where(signal, rng.normal(175, 15, jets), rng.exponential(60, jets) + 20)
    edges = np.linspace(20, 300, 29)
    independent = np.where(signal, rng.beta(3, 2, jets), rng.beta(2, 3, jets))
    correlated = 1 / (1 + np.exp(-(mass - 140) / 20)) + rng.normal(0, 0.05, jets)
    hists = background_histograms(independent, signal, mass, None, edges)
    assert set(hists) == {1.0, 0.8, 0.5, 0.3}
    np.testing.assert_allclose(hists[1.0].sum(), 1.0)
    good, good_err = inverse_jsd(independent, signal, mass, None, edges)
    bad, bad_err = inverse_jsd(correlated, signal, mass, None, edges)
    assert good > 100 and bad < 5 and good_err > 0 and bad_err > 0
    # the correlated cut pushes the passing background towards the signal's mass
    passing = background_histograms(correlated, signal, mass, None, edges)[0.5]
    centres = (edges[1:] + edges[:-1]) / 2
    assert centres @ passing > centres @ hists[1.0] + 50


def test_weights_count_as_repeated_jets():
    rng = np.random.default_rng(2)
    jets = 3000
    signal = rng.random(jets) < 0.4
    mass = rng.uniform(0, 200, jets)
    score = np.clip(signal * 0.3 + mass / 400 + rng.random(jets) * 0.5, 0, 1)
    repeats = rng.integers(1, 4, jets)
    edges = np.linspace(0, 200, 11)
    weighted = background_histograms(score, signal, mass, repeats.astype(float), edges)
    repeated = background_histograms(np.repeat(score, repeats), np.repeat(signal, repeats), np.repeat(mass, repeats),
                                     None, edges)
    for efficiency in weighted:
        np.testing.assert_allclose(weighted[efficiency], repeated[efficiency], atol=1e-3)
