"""Pile-up: Poisson overlay of minimum-bias interactions, rho, npv and primary-vertex association."""

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.generate.pileup import BEAMSPOT_SIGMA_Z, FIELDS, PileUp
from gnnjet.generate.pipeline import RHO_ETA_CELLS, RHO_ETA_MAX, RHO_PHI_CELLS, _rho
from gnnjet.generate.runner import generate
from tests.cli import BIN, run_bin


def test_overlay_draws_poisson_interactions_at_their_own_z():
    sizes = np.array([2, 3, 4])
    pool = PileUp(5.0, {k: np.arange(9, dtype=float) for k in FIELDS}, np.concatenate([[0], np.cumsum(sizes)]))
    particles, per_event, interactions = pool.overlay(4000, np.random.default_rng(1))
    assert interactions.mean() == pytest.approx(5.0, abs=0.1) and interactions.var() == pytest.approx(5.0, rel=0.1)
    assert per_event.sum() == len(particles["pt"]) and per_event.mean() == pytest.approx(5.0 * 3, rel=0.05)
    shift = particles["vz"] - particles["pt"]  # vz started equal to pt in this pool
    assert np.std(shift) == pytest.approx(np.sqrt(2) * BEAMSPOT_SIGMA_Z, rel=0.05)


def test_rho_is_the_median_cell_density():
    area = (2 * RHO_ETA_MAX / RHO_ETA_CELLS) * (2 * np.pi / RHO_PHI_CELLS)
    eta = np.repeat(np.linspace(-2.25, 2.25, RHO_ETA_CELLS), RHO_PHI_CELLS)
    phi = np.tile(np.linspace(-np.pi + 0.1, np.pi - 0.1, RHO_PHI_CELLS), RHO_ETA_CELLS)
    pt = np.full(len(eta), 2.0)
    pt[:10] = 50.0  # a jet in a few cells does not move the median
    event_of_two = {k: np.concatenate([v, v[:5]]) for k, v in {"pt": pt, "eta": eta, "phi": phi}.items()}
    rho = _rho(event_of_two, np.array([len(eta), 5]))
    assert rho[0] == pytest.approx(2.0 / area) and rho[1] == 0.0


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory):
    return {mu: generate("jec", 150, tmp_path_factory.mktemp(f"pu{mu}"), seed=5, workers=1, shard_size=150,
                         progress=False, pileup=mu) for mu in (0, 20)}


@pytest.fixture(scope="module")
def samples(sample_files):
    return {mu: uproot.concatenate([str(f) for f in files], library="ak") for mu, files in sample_files.items()}


def test_pileup_sample(samples):
    quiet, busy = samples[0], samples[20]
    assert ak.all(quiet.npv == 1) and ak.mean(busy.npv) == pytest.approx(21, abs=1.5)
    assert np.median(ak.to_numpy(quiet.rho)) < 2 and np.median(ak.to_numpy(busy.rho)) > 8
    # pile-up tracks come from other vertices: their |dz| is beyond the primary-vertex compatibility
    not_pv = {mu: 1 - ak.mean(ak.flatten(s.ch_from_pv)) for mu, s in samples.items()}
    assert not_pv[0] < 0.1 and not_pv[20] > 0.3, not_pv
    dz, from_pv = (ak.to_numpy(ak.flatten(busy[k])) for k in ("ch_dz", "ch_from_pv"))
    assert np.all((np.abs(dz) < 0.1) == (from_pv == 1))
    assert np.median(np.abs(dz[from_pv == 0])) > 1.0  # cm: vertices spread over the luminous region
    # pile-up energy inflates the raw response of low-pt jets (what an L1 offset correction removes)
    response = {mu: np.median(ak.to_numpy(s.pt / s.pt_gen)) for mu, s in samples.items()}
    assert response[20] > response[0] + 0.05, response


def test_every_constituent_records_its_origin_and_the_hard_jet(samples):
    """ch_is_pu / ne_is_pu: 0 without pile-up; with it, pile-up constituents are mostly not from the primary
    vertex; pt_nopu, mass_nopu rebuild the jet from hard-interaction constituents (equal to pt, mass without
    pile-up, below pt on average with it)."""
    quiet, busy = samples[0], samples[20]
    assert ak.sum(quiet.ch_is_pu) == 0 and ak.sum(quiet.ne_is_pu) == 0
    np.testing.assert_allclose(ak.to_numpy(quiet.pt_nopu), ak.to_numpy(quiet.pt), rtol=1e-4)
    np.testing.assert_allclose(ak.to_numpy(quiet.mass_nopu), ak.to_numpy(quiet.mass), rtol=1e-3, atol=1e-2)
    pu_tracks = ak.flatten(busy.ch_is_pu) == 1
    assert 0.05 < ak.mean(pu_tracks) < 0.95 and ak.mean(ak.flatten(busy.ne_is_pu)) > 0.05
    from_pv = ak.flatten(busy.ch_from_pv)
    assert ak.mean(from_pv[pu_tracks]) < 0.2 and ak.mean(from_pv[~pu_tracks]) > 0.9
    assert np.all(ak.to_numpy(busy.pt_nopu) <= ak.to_numpy(busy.pt) * (1 + 1e-5))
    assert np.median(ak.to_numpy(busy.pt_nopu / busy.pt)) < 0.98


def test_the_shipped_pileup_config_trains_and_predicts_per_particle(sample_files, samples, tmp_path):
    """configs/pileup_particlenet.yaml on a generated pile-up sample, from bin/: per-constituent scores and truth
    aligned with the sample's ch_* and ne_* collections."""
    files = [str(f) for f in sample_files[20]]
    trained = run_bin("train.py", "-c", BIN.parent / "configs" / "pileup_particlenet.yaml", "-i", *files, "-o",
                      tmp_path / "run", "--epochs", 1, "--set", "training.batch_size=32", "--set",
                      f"data.cache_dir={tmp_path / 'cache'}")
    assert trained.returncode == 0, trained.stderr
    predicted = run_bin("predict.py", "-m", tmp_path / "run", "-i", *files, "-o", tmp_path / "pred.root")
    assert predicted.returncode == 0, predicted.stderr
    pred, busy = uproot.open(tmp_path / "pred.root")["Jets"].arrays(), samples[20]
    for type_name, prefix in (("charged", "ch"), ("neutral", "ne")):
        assert ak.to_list(pred[f"{type_name}_label"]) == ak.to_list(busy[f"{prefix}_is_pu"])
        scores = ak.flatten(pred[f"{type_name}_score_pileup"]).to_numpy()
        assert np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()
    assert "val_auc" in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
