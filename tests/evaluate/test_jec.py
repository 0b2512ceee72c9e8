"""Standard correction, binned JEC quantities, flavour metrics and prediction-file matching."""

import numpy as np
import pytest
import uproot

from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from gnnjet.evaluate import jec
from gnnjet.evaluate.apply_standard import fit_and_apply
from gnnjet.evaluate.predictions import flavour_groups, load_all
from gnnjet.evaluate.standard import StandardCorrection


def jets(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    pt_gen = np.exp(rng.uniform(np.log(20), np.log(1000), n))
    eta = rng.uniform(-4, 4, n)
    true_response = 0.85 + 0.03 * np.log10(pt_gen) - 0.02 * (np.abs(eta) > 2.5)
    pt = pt_gen * true_response * rng.normal(1, 0.08, n)
    flavour = rng.choice([1, 2, 21, 4, 5], n)
    return {"pt": pt.astype(np.float32), "eta": eta.astype(np.float32), "pt_gen": pt_gen.astype(np.float32),
            "eta_gen": eta.astype(np.float32), "hadron_flavor": np.where(flavour >= 4, flavour, 0).astype(np.int32),
            "parton_flavor": flavour.astype(np.int32)}


def test_standard_correction_restores_unit_response(tmp_path):
    sample = jets()
    correction = StandardCorrection.fit(sample["pt"], sample["eta"], sample["pt_gen"])
    test = jets(seed=1)
    corrected = test["pt"] * np.exp(correction.log_factor(test["pt"], test["eta"]))
    response = corrected / test["pt_gen"]
    for region in jec.ETA_REGIONS:
        mask = jec.eta_mask(test, region) & (test["pt_gen"] > 40)
        assert np.median(response[mask]) == pytest.approx(1.0, abs=0.015)
    correction.save(tmp_path / "s.json")
    np.testing.assert_allclose(StandardCorrection.load(tmp_path / "s.json").log_factor(test["pt"], test["eta"]),
                               correction.log_factor(test["pt"], test["eta"]))


def test_binned_skips_sparse_bins():
    sample = jets(200)
    result = jec.binned(sample["pt"] / sample["pt_gen"], sample["pt_gen"], np.ones(200, bool), "median")
    assert np.isnan(result.values[result.counts < jec.MIN_JETS]).all()
    assert np.isfinite(result.values[result.counts >= jec.MIN_JETS]).all()


def test_flavour_improvement_of_a_flavour_blind_and_a_perfect_model():
    sample = jets()
    groups = flavour_groups(sample)
    biased = dict(sample, pt_corr=sample["pt_gen"] * np.where(groups["g"], 0.97, 1.0))
    perfect = dict(sample, pt_corr=sample["pt_gen"] * 1.0)
    mask = np.ones(len(sample["pt"]), bool)
    assert jec.flavour_improvement(perfect, biased, groups, mask) == pytest.approx(100.0)
    assert jec.flavour_improvement(biased, biased, groups, mask) == pytest.approx(0.0)


def write_prediction(path, columns):
    write_jets(path, {"pred": np.zeros(len(columns["pt"]), np.float32), **columns})
    return str(path)


def test_prediction_files_are_matched_on_common_jets(tmp_path):
    sample = jets(100)
    a = write_prediction(tmp_path / "a.root", sample)
    order = np.random.default_rng(3).permutation(100)[:60]
    b = write_prediction(tmp_path / "b.root", {k: v[order] for k, v in sample.items()})
    models = load_all([a, b], ["A", "B"])
    assert len(models[0].columns["pt"]) == len(models[1].columns["pt"]) == 60
    np.testing.assert_array_equal(models[0].columns["pt_gen"], models[1].columns["pt_gen"])


def test_incompatible_prediction_files(tmp_path):
    sample = jets(50)
    a = write_prediction(tmp_path / "a.root", sample)
    other = write_prediction(tmp_path / "other.root", jets(50, seed=9))
    with pytest.raises(DataError, match=r"a\.root and .*other\.root have no jets in common"):
        load_all([a, other], ["A", "B"])
    write_jets(tmp_path / "cls.root", {"score_label_q": np.zeros(5, np.float32), "label_q": np.zeros(5, np.int32),
                                       "pt": np.ones(5, np.float32), "eta": np.zeros(5, np.float32)})
    with pytest.raises(DataError, match=r"different tasks: .*a\.root \(regression\), .*cls\.root \(classification\)"):
        load_all([a, str(tmp_path / "cls.root")], ["A", "B"])
    with pytest.raises(DataError, match="2 input"):
        load_all([a, a], ["A"])
    write_jets(tmp_path / "flavour.root", {"score_label_b": np.zeros(5, np.float32), "label_b": np.zeros(5, np.int32),
                                           "pt": np.ones(5, np.float32), "eta": np.zeros(5, np.float32)})
    with pytest.raises(DataError, match=r"different classes: .*cls\.root \(label_q\), .*flavour\.root \(label_b\)"):
        load_all([str(tmp_path / "cls.root"), str(tmp_path / "flavour.root")], ["A", "B"])


def test_fit_and_apply_writes_a_predictions_file(tmp_path):
    write_jets(tmp_path / "train.root", jets())
    write_jets(tmp_path / "test.root", jets(3000, seed=4))
    fit_and_apply([str(tmp_path / "train.root")], [str(tmp_path / "test.root")], tmp_path / "std")
    (model,) = load_all([str(tmp_path / "std")], ["Standard"])
    assert model.task == "regression" and len(model.columns["pt_corr"]) == 3000


def jets_with_pileup(n=40000, seed=0):
    """`jets` plus rho in [5, 40] GeV adding 0.5 GeV of pt per GeV of rho (an effective area of 0.5)."""
    sample = jets(n, seed)
    rho = np.random.default_rng(seed + 100).uniform(5, 40, n)
    sample["pt"] = (sample["pt"] + 0.5 * rho).astype(np.float32)
    return {**sample, "rho": rho.astype(np.float32)}


def test_offset_step_removes_the_pileup_dependence_of_the_response(tmp_path):
    train, test = jets_with_pileup(), jets_with_pileup(seed=1)
    with_l1 = StandardCorrection.fit(train["pt"], train["eta"], train["pt_gen"], train["rho"])
    without = StandardCorrection.fit(train["pt"], train["eta"], train["pt_gen"])
    assert with_l1.has_offset and not without.has_offset
    assert np.median(np.concatenate(with_l1.l1_slope)) == pytest.approx(0.5, abs=0.05)
    low_pt = (test["pt_gen"] > 25) & (test["pt_gen"] < 60) & (np.abs(test["eta"]) < 2.5)
    quiet, busy = low_pt & (test["rho"] < 15), low_pt & (test["rho"] > 30)

    def response(correction, mask):
        log_factor = correction.log_factor(test["pt"], test["eta"], test["rho"])
        return np.median(test["pt"][mask] * np.exp(log_factor[mask]) / test["pt_gen"][mask])

    assert abs(response(with_l1, busy) - response(with_l1, quiet)) < 0.02
    assert response(without, busy) - response(without, quiet) > 0.15  # L2L3 alone averages over rho
    with_l1.save(tmp_path / "s.json")
    loaded = StandardCorrection.load(tmp_path / "s.json")
    np.testing.assert_allclose(loaded.log_factor(test["pt"], test["eta"], test["rho"]),
                               with_l1.log_factor(test["pt"], test["eta"], test["rho"]))
    with pytest.raises(DataError, match="needs the jets' rho"):
        with_l1.log_factor(test["pt"], test["eta"])


def test_no_offset_step_without_pileup():
    sample = jets()
    correction = StandardCorrection.fit(sample["pt"], sample["eta"], sample["pt_gen"], np.full(len(sample["pt"]), 1.5))
    assert not correction.has_offset


def test_standard_correction_outputs_never_land_on_inputs_or_earlier_results(tmp_path):
    from tests.cli import run_bin

    out = tmp_path / "std"
    out.mkdir()
    write_jets(tmp_path / "train.root", jets(4000))
    write_jets(out / "pred.root", jets(300, seed=4))  # the input to correct lies in OUT, named as the output
    before = (out / "pred.root").read_bytes()
    for extra in ([], ["--overwrite"]):
        result = run_bin("standard_correction.py", "-t", tmp_path / "train.root", "-i", out / "pred.root", "-o", out,
                         *extra)
        assert result.returncode == 1 and "is one of the input files" in result.stderr
        assert (out / "pred.root").read_bytes() == before and not (out / "standard.json").exists()
    write_jets(tmp_path / "test.root", jets(300, seed=5))
    (out / "pred.root").unlink()
    first = run_bin("standard_correction.py", "-t", tmp_path / "train.root", "-i", tmp_path / "test.root", "-o", out)
    assert first.returncode == 0, first.stderr
    earlier = {name: (out / name).read_bytes() for name in ("standard.json", "pred.root")}
    again = run_bin("standard_correction.py", "-t", tmp_path / "train.root", "-i", tmp_path / "test.root", "-o", out)
    assert again.returncode == 1 and "already exists: pass --overwrite" in again.stderr
    write_jets(tmp_path / "broken.root", {k: v for k, v in jets(300, seed=6).items() if k != "pt_gen"})
    failed = run_bin("standard_correction.py", "-t", tmp_path / "train.root", "-i", tmp_path / "broken.root", "-o",
                     out, "--overwrite")
    assert failed.returncode == 1 and "'pt_gen'" in failed.stderr
    assert {name: (out / name).read_bytes() for name in earlier} == earlier  # the earlier pair is whole
    replaced = run_bin("standard_correction.py", "-t", tmp_path / "train.root", "-i", tmp_path / "test.root", "-o",
                       out, "--overwrite")
    assert replaced.returncode == 0 and uproot.open(out / "pred.root")["Jets"].num_entries == 300
