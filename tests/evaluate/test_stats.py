"""Statistics on inputs with known answers."""

import numpy as np
import pytest

from gnnjet.errors import GnnjetError
from gnnjet.evaluate.stats import (
    Discriminant,
    auc,
    auc_difference,
    bootstrap_std,
    classification_summary,
    confusion_matrix,
    median,
    rejection_at,
    rejection_text,
    resolution,
    roc_curve,
)


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


def test_discriminant_uses_only_chosen_classes():
    names = ["b", "c", "uds", "g"]
    probabilities = np.array([[0.6, 0.2, 0.1, 0.1],   # b
                              [0.1, 0.7, 0.1, 0.1],   # c: not in b vs (uds, g)
                              [0.2, 0.0, 0.6, 0.2],   # uds
                              [0.62, 0.0, 0.0, 0.38]])  # g
    labels = np.arange(4)
    discriminant = Discriminant.parse("b: uds + g", names)
    assert discriminant == Discriminant("b", ("uds", "g")) and discriminant.name == "b_vs_uds_g"
    score, signal = discriminant.evaluate(probabilities, labels, names)
    np.testing.assert_allclose(score, [0.6 / 0.8, 0.2 / 1.0, 0.62])
    np.testing.assert_array_equal(signal, [True, False, False])
    # the g jet has a higher b score than the b jet, but a lower b / (b + uds + g)
    out = classification_summary(probabilities, labels, names, discriminants=(discriminant,))
    assert out["auc_b_vs_uds_g"] == 1.0 and out["auc_b"] < 1.0


@pytest.mark.parametrize("text, message", [("b", "SIGNAL:BACKGROUND"), ("b:", "SIGNAL:BACKGROUND"),
                                           ("t:qcd", "unknown class"), ("b:b+g", "twice"), ("b:g+g", "twice")])
def test_discriminant_errors(text, message):
    with pytest.raises(GnnjetError, match=message):
        Discriminant.parse(text, ["b", "c", "uds", "g"])


def test_confusion_matrix_rows_are_fractions_of_the_true_class():
    labels = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])
    matrix = confusion_matrix(np.eye(3)[predicted], labels, 3)
    np.testing.assert_allclose(matrix, [[2 / 3, 1 / 3, 0], [0, 1, 0], [1, 0, 0]])
    assert confusion_matrix(np.eye(3)[[0]], np.array([0]), 3)[1].sum() == 0  # no true class-1 jets


def test_rejection_text_bounds_infinite_rejection():
    assert rejection_text(float("inf"), 812) == "> 812"
    assert rejection_text(123.456, 812) == "123.5"
