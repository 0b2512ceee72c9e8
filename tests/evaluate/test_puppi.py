"""PUPPI (`gnnjet.evaluate.puppi`): the published behaviour on hand-made jets (an isolated pile-up particle gets weight
0, one inside a hard core ~1), alpha and the chi2 weight with known numbers, charged-hadron subtraction, and the
predictions file aligned with the input constituents."""

from __future__ import annotations

import math

import awkward as ak
import numpy as np
import pytest
import uproot

from gnnjet.data.writer import write_jets
from gnnjet.errors import DataError
from gnnjet.evaluate.puppi import alphas, puppi_weights, weighted_jets, weights_from_alpha, write_puppi


def test_alpha_sums_pt_over_distance_squared_inside_the_cone():
    """alpha = log sum (pt_j / dR_ij)^2 over primary-vertex charged particles with 0.02 < dR < 0.4."""
    pv_pt, pv_eta, pv_phi = np.array([10.0, 20.0, 5.0, 7.0]), np.array([0.1, 0.0, 0.01, 0.0]), np.zeros(4)
    # dR to the particle at (0, 0): 0.1, 0 (itself: excluded by index), 0.01 (< R_MIN), and 0.0 for the last one,
    # which is another particle on top of it (dR = 0 < R_MIN): only the first counts
    alpha = alphas(np.array([0.0]), np.array([0.0]), pv_pt, pv_eta, pv_phi, exclude=np.array([1]))
    assert alpha[0] == pytest.approx(math.log((10.0 / 0.1) ** 2))
    far = alphas(np.array([2.0]), np.array([0.0]), pv_pt, pv_eta, pv_phi)
    assert far[0] == -np.inf  # no neighbour in the cone


def test_weight_is_the_chi2_cdf_above_the_pileup_median():
    alpha = np.array([1.0, 3.0, 5.0, -np.inf])
    weights = weights_from_alpha(alpha, median=3.0, rms=2.0)
    assert weights[0] == 0 and weights[1] == 0 and weights[3] == 0  # at or below the median, or no neighbour
    assert weights[2] == pytest.approx(math.erf(math.sqrt(((5.0 - 3.0) / 2.0) ** 2 / 2)))  # chi2 = 1: 0.6827


def event_jets() -> ak.Array:
    """Two jets of one event: a hard jet with a dense core of primary-vertex tracks and a neutral inside it, plus an
    isolated pile-up neutral at its edge; a pile-up jet of soft pile-up tracks around one soft primary-vertex track,
    and a neutral placed as the pile-up tracks are (its alpha is theirs)."""
    return ak.Array({
        "event": [7, 7],
        "ch_pt": [[50.0, 40.0, 30.0, 1.0, 0.8], [1.0, 0.9, 1.2, 0.7]],
        "ch_eta": [[0.0, 0.05, -0.04, 0.2, -0.25], [1.0, 1.1, 0.9, 1.05]],
        "ch_phi": [[0.0, 0.03, -0.05, 0.3, -0.2], [2.0, 2.1, 1.9, 2.05]],
        "ch_from_pv": [[1, 1, 1, 0, 0], [0, 0, 0, 1]],
        "ne_pt": [[20.0, 2.0], [1.5]],
        "ne_eta": [[0.03, 0.45], [1.0]],
        "ne_phi": [[0.02, -0.5], [2.1]],
    })


def test_published_behaviour_on_hand_made_jets():
    """A neutral inside the hard core gets weight ~1, an isolated one 0, one among soft pile-up tracks ~0; charged
    particles keep their vertex association (CHS)."""
    charged, neutral = puppi_weights(event_jets())
    assert neutral[0][0] > 0.99  # inside the hard core
    assert neutral[0][1] == 0.0  # isolated: no primary-vertex track within 0.4
    assert neutral[1][0] < 0.1  # shaped like the pile-up tracks around it
    assert charged.tolist() == [[1, 1, 1, 0, 0], [0, 0, 0, 1]]


def test_rebuilt_jets_weight_each_four_vector():
    jets = event_jets()
    charged, neutral = puppi_weights(jets)
    pt_none, _ = weighted_jets(jets, ak.ones_like(jets.ch_pt), ak.ones_like(jets.ne_pt))
    pt_puppi, mass_puppi = weighted_jets(jets, charged, neutral)
    hard = ak.zip({"pt": jets.ch_pt[0][:3], "phi": jets.ch_phi[0][:3]})
    px = float(np.sum(hard.pt * np.cos(hard.phi))) + neutral[0][0] * 20.0 * math.cos(0.02)
    py = float(np.sum(hard.pt * np.sin(hard.phi))) + neutral[0][0] * 20.0 * math.sin(0.02)
    assert pt_puppi[0] == pytest.approx(math.hypot(px, py), rel=1e-6)
    assert pt_puppi[0] < pt_none[0] and np.all(mass_puppi >= 0)


def test_predictions_file_is_aligned_with_the_input_constituents(tmp_path):
    jets = event_jets()
    branches = {name: jets[name] for name in jets.fields}
    branches["ch_is_pu"] = ak.values_astype(1 - jets.ch_from_pv, np.int32)
    write_jets(tmp_path / "jets.root", branches)
    out = write_puppi([str(tmp_path / "jets.root")], tmp_path / "puppi")
    columns = uproot.open(out)["Jets"].arrays()
    assert ak.num(columns.ch_puppi).tolist() == [5, 4] and ak.num(columns.ne_puppi).tolist() == [2, 1]
    assert columns.ch_is_pu.tolist() == branches["ch_is_pu"].tolist()
    assert columns.event.tolist() == [7, 7] and len(columns.pt_chs) == 2
    np.testing.assert_allclose(ak.to_numpy(columns.ne_puppi[0]), ak.to_numpy(puppi_weights(jets)[1][0]))
    with pytest.raises(Exception, match="exists"):
        write_puppi([str(tmp_path / "jets.root")], tmp_path / "puppi")


def test_a_sample_without_vertex_association_is_one_error(tmp_path):
    jets = event_jets()
    write_jets(tmp_path / "jets.root", {name: jets[name] for name in jets.fields if name != "ch_from_pv"})
    with pytest.raises(DataError, match="'ch_from_pv' \\(needed by PUPPI\\) is missing"):
        write_puppi([str(tmp_path / "jets.root")], tmp_path / "puppi")
