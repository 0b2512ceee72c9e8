"""The parametric detector: particle classes, thresholds, impact parameters, secondary vertices."""

import dataclasses

import numpy as np
import pytest

from gnnjet.errors import ConfigError
from gnnjet.generate.detector import ECAL, HCAL, TRACK, Detector


def particles(**values):
    n = len(values["pt"])
    base = {"eta": np.zeros(n), "phi": np.zeros(n), "id": np.full(n, 211), "charge": np.ones(n)}
    return {k: np.asarray(v, dtype=float) for k, v in {**base, **values}.items()}


def test_hcal_response_is_non_compensating():
    response = Detector().hcal_response(np.array([2.0, 10.0, 100.0, 1000.0]))
    assert np.all(response < 1) and np.all(np.diff(response) > 0)
    assert response[1] == pytest.approx(1 - 0.4 * 10**-0.15)


def test_particle_classes_and_thresholds():
    rng = np.random.default_rng(0)
    p = particles(pt=[5.0, 0.3, 5.0, 50.0, 50.0, 0.2, 50.0],
                  eta=[0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0],
                  id=[211, 211, 211, 22, 130, 22, 13],
                  charge=[1, 1, 1, 0, 0, 0, -1])
    out = Detector().simulate(p, rng)
    assert list(out["kind"]) == [TRACK, 0, HCAL, ECAL, HCAL, 0, TRACK]
    assert out["hcal_frac"][4] > 0 and out["hcal_frac"][3] == 0
    assert abs(out["pt"][0] / 5.0 - 1) < 0.1


def test_mean_hadron_response_below_one_photon_near_one():
    rng = np.random.default_rng(1)
    n = 20000
    hadrons = Detector().simulate(particles(pt=np.full(n, 20.0), id=np.full(n, 130), charge=np.zeros(n)), rng)
    photons = Detector().simulate(particles(pt=np.full(n, 20.0), id=np.full(n, 22), charge=np.zeros(n)), rng)
    assert np.mean(hadrons["pt"]) / 20 == pytest.approx(Detector().hcal_response(20.0), abs=0.02)
    assert np.mean(photons["pt"]) / 20 == pytest.approx(1.0, abs=0.01)


def test_impact_parameter_geometry_without_smearing():
    perfect = dataclasses.replace(Detector(), d0_resolution=0.0, d0_resolution_ms=0.0, dz_resolution=0.0,
                                  dz_resolution_ms=0.0)
    # track produced at (1, 0, 2) mm moving along +y: d0 = 1 mm, closest approach at the vertex
    track = {"vx": np.array([1.0, 1.0]), "vy": np.array([0.0, 0.0]), "vz": np.array([2.0, 2.0]),
             "px": np.array([0.0, 0.0]), "py": np.array([10.0, 10.0]), "pz": np.array([0.0, 0.0]),
             "pt": np.array([10.0, 10.0])}
    with np.errstate(divide="ignore"):  # zero resolution: significances are infinite
        ip = perfect.impact_parameters(track, jet_px=np.array([1.0, -1.0]), jet_py=np.array([1.0, 1.0]),
                                       rng=np.random.default_rng(0))
    np.testing.assert_allclose(ip["dxy"], [0.1, -0.1])  # cm, signed by the jet direction
    np.testing.assert_allclose(ip["dz"], [0.2, 0.2])


def test_prompt_tracks_follow_resolution():
    n = 20000
    zeros = np.zeros(n)
    track = {"vx": zeros, "vy": zeros, "vz": zeros, "px": np.full(n, 10.0), "py": zeros, "pz": zeros,
             "pt": np.full(n, 10.0)}
    ip = Detector().impact_parameters(track, np.ones(n), np.ones(n), np.random.default_rng(0))
    assert np.std(ip["dxy_significance"]) == pytest.approx(1.0, abs=0.03)


def test_secondary_vertices_group_tracks_by_vertex_and_jet():
    always = dataclasses.replace(Detector(), sv_efficiency=1.0, sv_fake_rate=0.0)
    track = {"vx": np.array([2.0, 2.0, 2.0, 2.0, 0.0, 5.0]), "vy": np.zeros(6), "vz": np.zeros(6),
             "pt": np.array([5.0, 4.0, 3.0, 6.0, 9.0, 2.0]), "eta": np.zeros(6), "phi": np.zeros(6)}
    jet = np.array([0, 0, 0, 1, 1, 1])  # jet 1: one track at the same vertex, one prompt, one alone
    sv, per_jet = always.secondary_vertices(track, jet, 2, np.random.default_rng(0))
    assert list(per_jet) == [1, 0]
    assert list(sv["num_tracks"]) == [3]
    assert sv["pt"][0] == pytest.approx(12.0)
    assert sv["distance"][0] == pytest.approx(0.2, abs=0.03)  # 2 mm = 0.2 cm


def test_detector_yaml(tmp_path):
    (tmp_path / "d.yaml").write_text("h_over_e: 0.8\n")
    assert Detector.from_yaml(tmp_path / "d.yaml").h_over_e == 0.8
    (tmp_path / "bad.yaml").write_text("h_over_ee: 0.8\n")
    with pytest.raises(ConfigError, match="h_over_ee: unknown parameter; did you mean .h_over_e.?"):
        Detector.from_yaml(tmp_path / "bad.yaml")


def test_tracking_efficiency_falls_with_production_radius():
    n = 20000
    for radius, expected in ((0.0, 1.0), (300.0, 0.5), (700.0, 0.0)):
        p = particles(pt=np.full(n, 50.0), charge=np.ones(n))
        p["vx"], p["vy"] = np.full(n, radius), np.zeros(n)
        kind = Detector(tracking_radius=600.0).simulate(p, np.random.default_rng(3))["kind"]
        assert np.mean(kind == TRACK) == pytest.approx(expected, abs=0.02)
        assert np.all((kind == TRACK) | (kind == HCAL))  # a missed charged hadron still reaches the HCAL


def two_track_vertex(mass, p_hard, p_soft, hard_mass, soft_mass, vertex_x, jet):
    """Two opposite-charge tracks at eta 0 from (vertex_x, 0, 0) mm whose pair has `mass` (GeV) with these masses."""
    e_hard, e_soft = np.hypot(p_hard, hard_mass), np.hypot(p_soft, soft_mass)
    cos_angle = (e_hard * e_soft - (mass**2 - hard_mass**2 - soft_mass**2) / 2) / (p_hard * p_soft)
    angle = np.arccos(cos_angle)
    return {"vx": [vertex_x] * 2, "vy": [0.0] * 2, "vz": [0.0] * 2, "pt": [p_hard, p_soft], "eta": [0.0] * 2,
            "phi": [0.0, angle], "charge": [1.0, -1.0]}, [jet, jet]


def test_v0_veto_drops_k0s_and_lambda_vertices_only():
    pion, proton = 0.13957, 0.93827
    pieces = [two_track_vertex(0.4976, 3.0, 2.0, pion, pion, 5.0, 0),  # K0S -> pi pi
              two_track_vertex(1.1157, 5.0, 1.0, proton, pion, 9.0, 1),  # Lambda -> p pi (proton harder)
              two_track_vertex(1.8, 4.0, 3.0, pion, pion, 2.0, 2)]  # a D-like vertex
    track = {k: np.concatenate([np.asarray(t[k], float) for t, _ in pieces]) for k in pieces[0][0]}
    jet = np.concatenate([j for _, j in pieces])
    plain = Detector(sv_efficiency=1.0, sv_fake_rate=0.0)
    sv, per_jet = plain.secondary_vertices(track, jet, 3, np.random.default_rng(0))
    assert list(per_jet) == [1, 1, 1]
    assert sv["mass"][0] == pytest.approx(0.4976, abs=1e-3)  # the K0S peak, pion masses assumed
    vetoed, per_jet = dataclasses.replace(plain, sv_v0_veto=True).secondary_vertices(track, jet, 3,
                                                                                     np.random.default_rng(0))
    assert list(per_jet) == [0, 0, 1] and vetoed["mass"][0] == pytest.approx(1.8, abs=1e-3)


def test_fake_vertices_come_at_the_configured_rate_from_pairs_of_the_jets_tracks():
    num_jets = 20000
    track = {"vx": np.zeros(3 * num_jets), "vy": np.zeros(3 * num_jets), "vz": np.zeros(3 * num_jets),
             "pt": np.tile([5.0, 3.0, 0.5], num_jets), "eta": np.zeros(3 * num_jets),
             "phi": np.tile([0.0, 0.1, 0.2], num_jets)}
    jet = np.repeat(np.arange(num_jets), 3)
    detector = Detector(sv_fake_rate=0.4, sv_fake_lxy=2.0)
    sv, per_jet = detector.secondary_vertices(track, jet, num_jets, np.random.default_rng(5))
    assert per_jet.mean() == pytest.approx(0.4, abs=0.015)  # prompt tracks: every vertex is fake
    assert np.all(sv["num_tracks"] == 2)
    assert np.allclose(sv["pt"], np.hypot(5 + 3 * np.cos(0.1), 3 * np.sin(0.1)))  # never the 0.5 GeV track
    assert np.mean(sv["distance"]) == pytest.approx(0.2, rel=0.05)  # 2 mm = 0.2 cm


@pytest.mark.parametrize("content, message", [
    (None, "detector.yaml does not exist"),
    ("ecal_stochastic: !!python/object:os.system [ls]\n", "not valid YAML"),
    ("ecal_stochastic: [0.1\n", "not valid YAML"),
    ("- 0.1\n- 0.2\n", "expected a mapping of parameter names to values"),
    ("ecal_stochastic: 'ten percent'\n", "ecal_stochastic: expected a number, got 'ten percent'"),
    ("sv_v0_veto: 1\n", "sv_v0_veto: expected a bool, got 1"),
    ("ecal_stochastic: .nan\n", "ecal_stochastic: expected a finite number, got nan"),
    ("ecal_stochastc: 0.1\n", "ecal_stochastc: unknown parameter; did you mean 'ecal_stochastic'?"),
])
def test_a_bad_detector_file_is_one_line(tmp_path, content, message):
    from tests.cli import run_bin

    if content is not None:
        (tmp_path / "detector.yaml").write_text(content)
    result = run_bin("generate.py", "--process", "qg", "-n", "10", "-o", tmp_path / "out", "--detector",
                     tmp_path / "detector.yaml")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr and not (tmp_path / "out").exists()
