"""The air-shower generator (bin/generate.py --process shower): labels and energies as asked, the physics that
separates the classes (muons far from the core in proton showers), a sensible reconstruction, and clear errors."""

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.errors import GnnjetError
from gnnjet.generate.pond import Pond
from gnnjet.generate.shower_physics import Atmosphere, Primaries, greisen_size, nkg_density, showers_at_ground
from gnnjet.generate.showers import ShowerSetup, core_box, simulate_class
from gnnjet.plots.shower_checks import space_angle
from tests.cli import run_bin


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """400 events (200 per class) through bin/generate.py, read back."""
    out = tmp_path_factory.mktemp("shower")
    assert run_bin("generate.py", "--process", "shower", "-n", "400", "-o", out, "--seed", "3",
                   "--shard-size", "200").returncode == 0
    return uproot.concatenate(str(out / "shower_3_*.root:Jets"), library="ak")


def test_labels_energies_and_hits_are_as_asked(sample):
    labels = np.stack([ak.to_numpy(sample["label_gamma"]), ak.to_numpy(sample["label_proton"])], axis=1)
    assert (labels.sum(axis=1) == 1).all() and labels[:, 0].sum() == 200
    energy = ak.to_numpy(sample["energy"])
    assert energy.min() >= 0.3 and energy.max() <= 30.0
    assert np.median(energy) < 1.5  # a steep power law: most events near the threshold
    assert (ak.to_numpy(sample["nhit"]) == ak.to_numpy(ak.num(sample["hit_charge"]))).all()
    charge = sample["hit_charge"]
    assert ak.all(charge[:, :-1] >= charge[:, 1:])  # sorted by decreasing charge
    assert ak.all(charge >= 1.0)  # above the threshold (noise hits: 1-3 pe)
    assert len(np.unique(ak.to_numpy(sample["event"]))) == 400


def test_power_law_energies_follow_their_index():
    energies = Primaries(energy_min=1.0, energy_max=100.0, index_gamma=2.0).energies(
        "gamma", 200_000, np.random.default_rng(0))
    # E^-2 between 1 and 100: P(E > 10) = (1/10 - 1/100) / (1 - 1/100)
    assert (energies > 10).mean() == pytest.approx(0.09 / 0.99, abs=0.003)


def test_nkg_density_integrates_to_the_shower_size():
    r = np.geomspace(1e-3, 1e5, 200_000)
    for age in (0.8, 1.2, 1.6):
        density = nkg_density(r, 1000.0, np.array(age), 130.0)
        integral = np.sum(((2 * np.pi * r * density)[1:] + (2 * np.pi * r * density)[:-1]) / 2 * np.diff(r))
        assert integral == pytest.approx(1000.0, rel=0.02)
    size_1, _ = greisen_size(np.array([1.0]), np.array([600.0]))
    size_10, _ = greisen_size(np.array([10.0]), np.array([600.0]))
    assert 5 < size_10[0] / size_1[0] < 20  # about linear in energy past the maximum


def test_proton_showers_carry_more_large_far_hits_than_gamma_showers_of_the_same_energy():
    """1-3 TeV: hits beyond 40 m of the true core with more than 30 pe (muons, sub-cores), per event."""
    setup = ShowerSetup(primaries=Primaries(energy_min=1.0, energy_max=3.0))
    rng = np.random.default_rng(1)
    far_large = {}
    for cls in ("gamma", "proton"):
        rows, _ = simulate_class(cls, 150, setup, rng)
        counts = []
        for row in rows:
            hits = row["hit"]
            r = np.hypot(hits["x"] - row["core_x"], hits["y"] - row["core_y"])
            counts.append(((r > 40) & (hits["charge"] > 30)).sum())
        far_large[cls] = np.mean(counts)
    assert far_large["proton"] > 3 * far_large["gamma"] and far_large["proton"] > 0.5


def test_muons_are_tens_of_times_more_in_proton_showers():
    pond, rng = Pond(), np.random.default_rng(2)
    common = (Primaries(energy_min=5.0, energy_max=5.001), Atmosphere(), pond.cells, pond.cell_area,
              core_box(ShowerSetup()))
    gamma = showers_at_ground("gamma", 200, *common, rng)
    proton = showers_at_ground("proton", 200, *common, rng)
    ratio = np.median(proton.muons) / np.median(gamma.muons)
    assert 20 < ratio < 60


def test_the_reconstructed_core_and_direction_are_close_for_contained_events(sample):
    contained = ((np.abs(ak.to_numpy(sample["core_x"])) < 40) & (np.abs(ak.to_numpy(sample["core_y"])) < 40)
                 & (ak.to_numpy(sample["nhit"]) > 60))
    assert contained.sum() > 20
    error = np.hypot(ak.to_numpy(sample["xc"] - sample["core_x"]), ak.to_numpy(sample["yc"] - sample["core_y"]))
    assert np.median(error[contained]) < 20  # m, on a 150 m pond
    angle = np.degrees(space_angle(*(ak.to_numpy(sample[k]) for k in ("zenith", "azimuth", "rec_zenith",
                                                                      "rec_azimuth"))))
    assert np.median(angle[contained]) < 1.5
    deltar = sample["hit_deltar"]
    expected = np.hypot(sample["hit_x"] - sample["xc"], sample["hit_y"] - sample["yc"])
    assert ak.all(abs(deltar - expected) < 1e-3)


@pytest.mark.parametrize("setup, message", [
    ({"pond": {"size_x": 0.0}}, "the sizes must be positive"),
    ({"pond": {"cell_size": 200.0}}, "no cells"),
    ({"primaries": {"energy_min": 30.0, "energy_max": 0.3}}, "energy_min < energy_max"),
    ({"pond": {"sise_x": 100.0}}, "pond.sise_x: unknown parameter; did you mean .size_x.?"),
])
def test_bad_setups_are_one_line_errors(tmp_path, setup, message):
    import yaml

    (tmp_path / "setup.yaml").write_text(yaml.safe_dump(setup))
    with pytest.raises(GnnjetError, match=message):
        ShowerSetup.from_yaml(tmp_path / "setup.yaml")
    result = run_bin("generate.py", "--process", "shower", "-n", "10", "-o", tmp_path / "out", "--detector",
                     tmp_path / "setup.yaml")
    assert result.returncode != 0 and "Traceback" not in result.stderr and message.split()[0] in result.stderr
