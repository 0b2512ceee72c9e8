"""Per-jet resolution evaluation: coverage, pulls, calibration and terciles on synthetic jets with a known answer."""

import numpy as np
import pytest

from gnnjet.evaluate import intervals


def synthetic(jets=40000, claimed=1.0, seed=0):
    """pt_gen drawn around pt_corr with a known per-jet relative resolution (5-25%); the predicted interval claims
    `claimed` times the true sigma."""
    rng = np.random.default_rng(seed)
    pt_corr = rng.uniform(50, 500, jets)
    true_sigma = rng.uniform(0.05, 0.25, jets) * pt_corr
    pt_gen = pt_corr + true_sigma * rng.normal(size=jets)
    sigma = claimed * true_sigma
    return {"pt_gen": pt_gen, "pt_corr": pt_corr, "pt_corr_q16": pt_corr - sigma, "pt_corr_q84": pt_corr + sigma,
            "pt_corr_sigma": sigma, "eta_gen": np.zeros(jets)}


def test_coverage_is_68_percent_when_the_sigma_is_right_and_38_when_halved():
    everything = np.ones(40000, bool)
    right = intervals.interval_summary(synthetic(), everything)
    assert right["coverage"] == pytest.approx(0.6827, abs=3 * right["coverage_err"])
    assert right["pull_width"] == pytest.approx(1.0, abs=0.03) and abs(right["pull_median"]) < 0.03
    halved = intervals.interval_summary(synthetic(claimed=0.5), everything)
    assert halved["coverage"] == pytest.approx(0.3829, abs=3 * halved["coverage_err"])
    assert halved["pull_width"] == pytest.approx(2.0, abs=0.06)
    # bins inside the sampled range (near its ends, bins of pt_gen select fluctuations of one sign)
    binned = intervals.coverage(synthetic(), everything, edges=np.array([100.0, 200.0, 300.0, 400.0]))
    np.testing.assert_allclose(binned.values, 0.6827, atol=0.03)
    assert (binned.errors > 0).all() and 20000 < binned.counts.sum() < 40000


def test_calibration_lies_on_the_diagonal_and_terciles_separate_resolutions():
    columns = synthetic()
    curve = intervals.calibration(columns, np.ones(40000, bool))
    np.testing.assert_allclose(curve["observed"], curve["predicted"], rtol=0.08)
    overconfident = intervals.calibration(synthetic(claimed=0.5), np.ones(40000, bool))
    assert (overconfident["observed"] > 1.7 * overconfident["predicted"]).all()
    terciles = intervals.resolution_by_category(columns, np.ones(40000, bool))
    resolutions = [t["resolution"] for t in terciles]
    assert resolutions[0] < resolutions[1] < resolutions[2] and sum(t["jets"] for t in terciles) == 40000
