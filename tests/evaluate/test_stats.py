"""Statistics on inputs with known answers."""

import numpy as np
import pytest

from gnnjet.evaluate.stats import (auc, auc_difference, bootstrap_std, classification_summary, median, rejection_at,
                                   resolution, roc_curve)


def test_gaussian_response_median_and_resolution():
    rng = np.random.default_rng(0)
    response = rng.normal(0.95, 0.1, 400_000)
    assert median(response) == pytest.approx(0.95, abs=1e-3)
    iqr = 2 * 0.6744897501960817 * 0.1
    assert resolution(response) == pytest.approx(iqr / 0.95, rel=0.01)
    assert resolution(response, "68") == pytest.approx(0.1 / 0.95, rel=0.01)
    with pytest.raises(ValueError):
        resolution(response, "rms")


def test_roc_of_perfect_and_random_classifiers():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 100_000).astype(bool)
    perfect = truth + rng.uniform(0, 0.5, len(truth))
    assert auc(perfect, truth) == pytest.approx(1.0)
    assert rejection_at(perfect, truth, 0.5) == float("inf")
    random = rng.uniform(size=len(truth))
    assert auc(random, truth) == pytest.approx(0.5, abs=0.01)
    assert rejection_at(random, truth, 0.3) == pytest.approx(1 / 0.3, rel=0.05)
    fpr, tpr = roc_curve(random, truth)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1 and np.all(np.diff(tpr) >= 0)


def test_auc_with_ties_and_weights():
    assert auc(np.ones(10), np.arange(10) % 2 == 0) == pytest.approx(0.5)
    scores, truth = np.array([0.9, 0.1]), np.array([True, False])
    assert auc(scores, truth, weights=np.array([2.0, 1.0])) == 1.0


def test_classification_summary_multiclass():
    labels = np.repeat(np.arange(3), 100)
    probabilities = np.eye(3)[labels] * 0.8 + 0.2 / 3
    out = classification_summary(probabilities, labels, ["b", "c", "light"])
    assert out["accuracy"] == 1.0 and out["auc_b"] == out["auc_light"] == 1.0
    binary = classification_summary(np.eye(2)[labels % 2], labels % 2, ["q", "g"])
    assert set(binary) == {"accuracy", "auc", "rej30", "rej50"}


def test_bootstrap_errors_shrink_with_sample_size():
    rng = np.random.default_rng(2)
    small = bootstrap_std(rng.normal(1, 0.1, 100), np.median, resamples=50)
    large = bootstrap_std(rng.normal(1, 0.1, 10_000), np.median, resamples=50)
    assert large < small / 5
    assert small == pytest.approx(1.2533 * 0.1 / 10, rel=0.4)


def test_auc_error_matches_the_mann_whitney_variance_of_a_random_classifier():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 500)
    probabilities = rng.uniform(size=1000)
    out = classification_summary(np.stack([probabilities, 1 - probabilities], axis=1), labels, ["q", "g"], errors=True)
    # Var(AUC) = (n_s + n_b + 1) / (12 n_s n_b) for scores independent of the label
    assert out["auc_err"] == pytest.approx(np.sqrt(1001 / (12 * 500 * 500)), rel=0.35)


def test_paired_auc_difference():
    rng = np.random.default_rng(4)
    signal = rng.uniform(size=4000) < 0.5
    good = signal + rng.normal(0, 1.0, 4000)
    worse = good + rng.normal(0, 1.0, 4000)
    assert auc_difference(good, good, signal) == (0.0, 0.0)
    delta, error = auc_difference(good, worse, signal)
    assert delta == pytest.approx(auc(good, signal) - auc(worse, signal))
    assert delta > 5 * error > 0
    # pairing removes the shared fluctuation: the difference is known better than either AUC
    single = bootstrap_std(np.arange(4000), lambda i: auc(good[i], signal[i]))
    assert error < single
