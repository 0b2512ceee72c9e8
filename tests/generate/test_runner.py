"""End-to-end generation of each process: schema and physical sanity (small samples, fixed seeds)."""

import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.generate.runner import generate, quotas

ROOT = Path(__file__).resolve().parents[2]
JET = {"pt", "eta", "phi", "mass", "pt_gen", "eta_gen", "phi_gen", "mass_gen", "hadron_flavor", "parton_flavor"}
CH = {f"ch_{k}" for k in ("pt", "eta", "phi", "id", "charge", "dxy", "dxy_significance", "dz", "dz_significance")}
NE = {f"ne_{k}" for k in ("pt", "eta", "phi", "id", "hcal_frac")}
SV = {f"sv_{k}" for k in ("pt", "eta", "phi", "mass", "distance", "significance", "num_tracks")}


def generated(tmp_path_factory, process, num_jets, seed):
    out = tmp_path_factory.mktemp(process)
    files = generate(process, num_jets, out, seed=seed, workers=1, shard_size=num_jets, progress=False)
    return uproot.concatenate([str(f) for f in files], library="ak")


@pytest.fixture(scope="module")
def qg(tmp_path_factory):
    return generated(tmp_path_factory, "qg", 30, seed=11)


@pytest.fixture(scope="module")
def flavour(tmp_path_factory):
    return generated(tmp_path_factory, "flavour", 160, seed=12)


@pytest.fixture(scope="module")
def top(tmp_path_factory):
    return generated(tmp_path_factory, "top", 40, seed=3)


@pytest.fixture(scope="module")
def jec(tmp_path_factory):
    return generated(tmp_path_factory, "jec", 1500, seed=13)


def check_schema(jets, labels):
    assert JET | CH | NE | SV | {f"label_{c}" for c in labels} <= set(jets.fields)
    constituent_sum = ak.to_numpy(ak.sum(jets.ch_pt, axis=1) + ak.sum(jets.ne_pt, axis=1))
    assert np.median(constituent_sum / ak.to_numpy(jets.pt)) == pytest.approx(1.0, abs=0.02)
    assert ak.all(jets.ch_pt[:, :-1] >= jets.ch_pt[:, 1:]), "constituents are pt-ordered"
    assert set(np.unique(ak.to_numpy(ak.flatten(jets.ch_charge)))) <= {-1, 1}
    assert set(np.unique(ak.to_numpy(ak.flatten(jets.ne_id)))) <= {22, 130}


def test_qg_sample(qg):
    check_schema(qg, ("q", "g"))
    assert len(qg) == 30 and ak.sum(qg.label_q) == 15 and ak.all(qg.label_q + qg.label_g == 1)
    assert ak.all((qg.pt_gen > 500) & (qg.pt_gen < 550))
    assert ak.all(abs(qg.eta_gen) < 2.0)
    is_quark = ak.to_numpy(qg.label_q) == 1
    multiplicity = ak.to_numpy(ak.num(qg.ch_pt) + ak.num(qg.ne_pt))
    assert multiplicity[~is_quark].mean() > multiplicity[is_quark].mean(), "gluon jets have more constituents"


def test_flavour_sample(flavour):
    check_schema(flavour, ("b", "c", "uds", "g"))
    assert [int(ak.sum(flavour[f"label_{c}"])) for c in ("b", "c", "uds", "g")] == [40, 40, 40, 40]
    assert ak.all((flavour.pt_gen > 30) & (flavour.pt_gen < 1000))
    b, light = flavour[flavour.label_b == 1], flavour[(flavour.label_uds == 1) | (flavour.label_g == 1)]
    assert ak.all(b.hadron_flavor == 5)
    def tagging_dxy(jets):  # b-tagging's track selection, |dxy| < 2 mm, leaves out V0 daughters
        dxy = abs(ak.to_numpy(ak.flatten(jets.ch_dxy)))
        return dxy[dxy < 0.2].mean()

    assert tagging_dxy(b) > 3 * tagging_dxy(light)
    assert ak.mean(ak.num(b.sv_pt)) > ak.mean(ak.num(light.sv_pt)) + 0.3
    assert ak.sum(ak.num(light.sv_pt)) > 0, "light jets have V0 and fake vertices"


def test_top_sample(top):
    check_schema(top, ("top", "qcd"))
    assert len(top) == 40 and ak.sum(top.label_top) == 20 and ak.all(top.label_top + top.label_qcd == 1)
    assert ak.all((top.pt > 550) & (top.pt < 650) & (abs(top.eta) < 2))
    assert not {"top_dr", "hard_quarks"} & set(top.fields), "selection bookkeeping is not written"
    mass = {c: np.median(ak.to_numpy(top.mass_gen[top[f"label_{c}"] == 1])) for c in ("top", "qcd")}
    assert 150 < mass["top"] < 200 and mass["qcd"] < mass["top"] - 50  # contained t -> bqq' vs QCD jets
    dphi = (top.ch_phi - top.phi + np.pi) % (2 * np.pi) - np.pi
    width = np.median(ak.to_numpy(ak.fill_none(ak.max(np.hypot(top.ch_eta - top.eta, dphi), axis=1), 0)))
    assert width > 0.4, "R = 0.8 jets reach beyond the R = 0.4 cone"


def test_top_labels_need_the_top_and_its_three_quarks_in_the_jet():
    from gnnjet.generate.processes import PROCESSES

    jets = {"pt": np.array([600.0, 600, 600, 600, 700]), "eta": np.array([0.0, 0, 0, 2.5, 0]),
            "top_dr": np.array([0.1, 0.1, 1.2, 0.1, 0.1]), "hard_quarks": np.array([3, 2, 3, 3, 3])}
    selected = PROCESSES["top"].selector(jets)
    np.testing.assert_array_equal(selected["top"], [True, False, False, False, False])
    np.testing.assert_array_equal(selected["qcd"], [True, True, True, False, False])  # the window only


def test_jec_sample_response(jec):  # the flavour dependence needs more jets: see test_sample.py
    check_schema(jec, ())
    response = ak.to_numpy(jec.pt / jec.pt_gen)
    pt_gen = ak.to_numpy(jec.pt_gen)
    assert np.median(response) < 0.97
    low, high = pt_gen < 40, pt_gen > 150
    assert np.median(response[low]) < np.median(response[high]), "response rises with pt"
    assert ak.all(jec.weight > 0)


def test_same_seed_same_sample(tmp_path):
    first = generate("jec", 40, tmp_path / "a", seed=5, progress=False)
    second = generate("jec", 40, tmp_path / "b", seed=5, progress=False)
    a, b = uproot.open(first[0])["Jets"].arrays(), uproot.open(second[0])["Jets"].arrays()
    assert ak.all(a.pt == b.pt) and ak.all(ak.flatten(a.ch_dxy) == ak.flatten(b.ch_dxy))


def test_quotas():
    assert quotas(10, ("b", "c", "uds", "g")) == {"b": 3, "c": 3, "uds": 2, "g": 2}


def test_cli_errors(tmp_path):
    bad = tmp_path / "detector.yaml"
    bad.write_text("hcal_stochastc: 1.0\n")
    result = subprocess.run([sys.executable, str(ROOT / "bin" / "generate.py"), "--process", "jec", "-n", "5",
                             "-o", str(tmp_path / "out"), "--detector", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "hcal_stochastc: unknown parameter; did you mean 'hcal_stochastic'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_events_without_detector_level_jets():
    """Gen jets whose event has no reco jet at all (here: a blind detector) are dropped, not a crash."""
    from gnnjet.generate.detector import Detector
    from gnnjet.generate.pipeline import simulate
    from gnnjet.generate.processes import PROCESSES
    from gnnjet.generate.pythia import ChargeTable, make_pythia

    pythia = make_pythia(PROCESSES["jec"].sources[0].settings, seed=3)
    blind = Detector(tracker_eta=0.0, ecal_eta=0.0, hcal_eta=0.0)
    table = simulate(pythia.nextBatch(20), ChargeTable(pythia), blind, np.random.default_rng(0))
    assert len(table) == 0 and len(table.collections["ch"]) == 0


def _contents(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_an_earlier_sample_is_refused_and_replaced_only_once_the_new_one_is_complete(tmp_path, monkeypatch):
    import gnnjet.generate.runner as runner
    from gnnjet.errors import GnnjetError

    out = tmp_path / "sample"
    generate("jec", 12, out, seed=5, shard_size=4, progress=False)  # three shards
    (out / "notes.txt").write_text("the user's")
    earlier = _contents(out)
    for process, seed in (("jec", 5), ("qg", 9)):  # its own sample again, or another one sharing detector.yaml
        with pytest.raises(GnnjetError, match="already holds .* file\\(s\\) of an earlier sample.*--overwrite"):
            generate(process, 4, out, seed=seed, shard_size=4, progress=False)
        assert _contents(out) == earlier

    calls = []

    def fail_on_the_second_shard(task):
        calls.append(task)
        if len(calls) == 2:
            raise RuntimeError("killed")
        return original(task)

    original = runner.generate_shard
    monkeypatch.setattr(runner, "generate_shard", fail_on_the_second_shard)
    with pytest.raises(RuntimeError):
        generate("jec", 8, out, seed=6, shard_size=4, progress=False, overwrite=True)  # a new sample fails midway
    assert _contents(out) == earlier and not any(p.is_dir() for p in out.iterdir())
    monkeypatch.setattr(runner, "generate_shard", original)

    files = generate("jec", 4, out, seed=5, shard_size=4, progress=False, overwrite=True)  # one shard replaces three
    assert [f.name for f in files] == ["jec_5_0000.root"]
    assert sorted(_contents(out)) == ["detector.yaml", "jec_5_0000.root", "jec_5_generation.json", "notes.txt"]
    assert uproot.open(files[0])["Jets"].num_entries == 4 and (out / "notes.txt").read_text() == "the user's"


def test_the_detector_file_is_never_written_over(tmp_path):
    from gnnjet.errors import GnnjetError
    from gnnjet.generate.detector import Detector

    out = tmp_path / "sample"
    generate("jec", 4, out, seed=5, shard_size=4, progress=False)
    record = out / "detector.yaml"
    before = record.read_bytes()
    with pytest.raises(GnnjetError, match="is an input of this generation"):
        generate("jec", 4, out, seed=5, shard_size=4, progress=False, detector=Detector.from_yaml(record),
                 overwrite=True, inputs=[record])
    assert record.read_bytes() == before


def test_a_missing_shower_setup_and_an_output_through_a_file_are_one_line(tmp_path):
    from tests.cli import run_bin

    missing = run_bin("generate.py", "--process", "shower", "-n", "5", "-o", tmp_path / "out", "--detector",
                      tmp_path / "none.yaml")
    assert missing.returncode == 1 and "shower setup file" in missing.stderr and "does not exist" in missing.stderr
    (tmp_path / "file").write_text("x")
    as_file = run_bin("generate.py", "--process", "jec", "-n", "5", "-o", tmp_path / "file" / "out")
    assert as_file.returncode == 1 and "is not a directory" in as_file.stderr and "Traceback" not in as_file.stderr
    for option, value in (("--seed", "-1"), ("-n", "0"), ("--pileup", "nan"), ("--shard-size", "inf")):
        refused = run_bin("generate.py", "--process", "jec", "-n", "5", "-o", tmp_path / "out", option, value)
        assert refused.returncode == 2 and f"argument {option}" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "out").exists()
