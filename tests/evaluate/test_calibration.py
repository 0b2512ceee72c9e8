"""Conformal interval corrections and temperature scaling on synthetic data whose truth is known: a mis-sized
interval comes back to its nominal coverage within binomial errors per group, a correct one is left (nearly)
alone, and a known temperature is recovered."""

import numpy as np
import pytest

from gnnjet.evaluate.calibration import (
    conformal_quantile,
    expected_calibration_error,
    fit_temperature,
    group_index,
    interval_corrections,
    negative_log_likelihood,
    softmax,
)

LOW, HIGH = 0.16, 0.84


def gaussian_jets(rng, n, sigma, claimed):
    """y ~ N(mu, sigma) with a predicted 16-84% interval mu -+ claimed (correct when claimed == sigma)."""
    mu = rng.normal(size=n)
    return mu - claimed, mu + claimed, mu + rng.normal(size=n) * sigma


def covered(low, high, y):
    return float(np.mean((y >= low) & (y <= high)))


def binomial_error(p, n):
    return np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("claimed", [0.4, 2.5])  # intervals far too narrow, and far too wide
def test_a_mis_sized_interval_comes_back_to_its_level_on_new_jets(claimed):
    rng = np.random.default_rng(1)
    low, high, y = gaussian_jets(rng, 3000, 1.0, claimed)
    d_low, d_high = interval_corrections(low, high, y, LOW, HIGH)
    test_low, test_high, test_y = gaussian_jets(rng, 40000, 1.0, claimed)
    before = covered(test_low, test_high, test_y)
    after = covered(test_low - d_low, test_high + d_high, test_y)
    assert abs(before - 0.68) > 0.2  # it was badly off
    assert abs(after - 0.68) < 3 * binomial_error(0.68, 40000) + 3 * binomial_error(0.68, 3000)
    # each side on its own: 16% below, 16% above
    assert np.mean(test_y < test_low - d_low) == pytest.approx(0.16, abs=0.015)
    assert np.mean(test_y > test_high + d_high) == pytest.approx(0.16, abs=0.015)


def test_a_correct_interval_is_left_nearly_alone():
    rng = np.random.default_rng(2)
    low, high, y = gaussian_jets(rng, 5000, 1.0, 0.994)  # the true 16-84% half-width of a unit Gaussian
    d_low, d_high = interval_corrections(low, high, y, LOW, HIGH)
    assert abs(d_low) < 0.06 and abs(d_high) < 0.06


def test_groups_get_their_own_corrections():
    """Jets of two groups, one with intervals too narrow and one too wide: one correction per group fixes both,
    one correction for all would leave both off."""
    rng = np.random.default_rng(3)

    def sample(n):
        group = rng.integers(0, 2, n)
        mu = rng.normal(size=n)
        sigma = np.where(group == 0, 2.0, 0.5)
        return group, mu - 0.994, mu + 0.994, mu + rng.normal(size=n) * sigma

    group, low, high, y = sample(6000)
    corrections = [interval_corrections(low[group == g], high[group == g], y[group == g], LOW, HIGH) for g in (0, 1)]
    test_group, test_low, test_high, test_y = sample(40000)
    shift = np.array(corrections)[test_group]
    for g in (0, 1):
        members = test_group == g
        after = covered(test_low[members] - shift[members, 0], test_high[members] + shift[members, 1], test_y[members])
        assert abs(after - 0.68) < 0.02
    pooled = interval_corrections(low, high, y, LOW, HIGH)
    narrow = test_group == 0
    assert covered(test_low[narrow] - pooled[0], test_high[narrow] + pooled[1], test_y[narrow]) < 0.6


def test_the_conformal_quantile_is_the_finite_sample_one_and_needs_enough_jets():
    scores = np.arange(1.0, 11.0)  # 10 scores: level 0.8 -> k = ceil(11 * 0.8) = 9 -> the 9th smallest
    assert conformal_quantile(scores, 0.8) == 9.0
    with pytest.raises(ValueError, match=r"5 jets are too few for a conformal bound at level 0.84: at least 6"):
        conformal_quantile(scores[:5], 0.84)


def test_groups_index_jets_row_major_and_clamp_the_ends():
    pt, eta = np.array([10.0, 35.0, 500.0, 35.0]), np.array([0.5, 2.0, 0.1, 9.0])
    index = group_index([pt, eta], [np.array([20.0, 50.0, 100.0]), np.array([0.0, 1.3, 2.5])])
    assert index.tolist() == [0, 1, 2, 1]  # (bin of pt) * 2 + (bin of eta); out of range -> end bins


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_the_ece():
    rng = np.random.default_rng(4)
    true_logits = rng.normal(size=(20000, 3)) * 2
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    overconfident = true_logits * 2.5  # a network whose logits are 2.5x too large
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(2.5, rel=0.05)
    assert negative_log_likelihood(overconfident, labels, temperature) < negative_log_likelihood(overconfident, labels)
    ece_before = expected_calibration_error(softmax(overconfident), labels)
    ece_after = expected_calibration_error(softmax(overconfident, temperature), labels)
    assert ece_before > 0.05 and ece_after < 0.02


def test_isotonic_fit_pools_violators_and_calibrates_probabilities():
    from gnnjet.evaluate.calibration import isotonic_apply, isotonic_fit

    x, y = isotonic_fit(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(x, [0.1, 0.25, 0.4])  # the violating pair (1, 0) pooled to 0.5
    np.testing.assert_allclose(y, [0.0, 0.5, 1.0])
    rng = np.random.default_rng(6)
    true_logits = rng.normal(size=(20000, 3)) * 2
    labels = np.array([rng.choice(3, p=p) for p in softmax(true_logits)])
    overconfident = softmax(true_logits * 2.5)
    fits = [isotonic_fit(overconfident[:10000, c], labels[:10000] == c) for c in range(3)]
    calibrated = isotonic_apply(overconfident[10000:], fits)  # on jets the fit never saw
    np.testing.assert_allclose(calibrated.sum(axis=1), 1)
    assert all(np.all(np.diff(y) > 0) for _, y in fits)
    assert expected_calibration_error(overconfident[10000:], labels[10000:]) > 0.05
    assert expected_calibration_error(calibrated, labels[10000:]) < 0.03
