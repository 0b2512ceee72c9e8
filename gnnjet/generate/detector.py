"""A parametric particle-flow detector: tracks, ECAL and a non-compensating HCAL, plus IPs and SVs.

All parameters live in `Detector` (override them from YAML with ``--detector FILE``). Per visible
particle (vectorised over flat numpy arrays):

* charged, |eta| < tracker_eta, pt > track_min_pt -> track with an efficiency falling linearly from 1
  at the beam line to 0 at production radius ``tracking_radius`` (decay products of K0S, Lambda, ...),
  pt smeared by ``track_pt_resolution (+) track_pt_resolution_slope * pt``; impact parameters from the
  true production vertex (straight line) smeared by ``d0_resolution (+) d0_resolution_ms / pt``.
  A charged hadron that is not tracked (outside the tracker, or displaced and missed) reaches the HCAL.
  A track is associated with the primary vertex (``ch_from_pv``) if its measured |dz| < ``pv_dz_max``.
* photons (and electrons outside the tracker) -> ECAL: sigma/E = ecal_stochastic/sqrt(E) (+)
  ecal_constant, energy threshold, small angular smearing.
* neutral hadrons (and charged hadrons outside the tracker) -> HCAL with the non-compensating
  response ``R(E) = 1 - (1 - h/e) * E^(m - 1)`` (Groom), sigma/E = hcal_stochastic/sqrt(E) (+)
  hcal_constant, threshold, coarse angular smearing.
* low-pt charged particles curl up and are lost; neutrinos never enter.
* secondary vertices: displaced tracks sharing a true decay vertex (B, D, V0 decays), found with
  ``sv_efficiency``, plus fake vertices from random track pairs (``sv_fake_rate`` per jet) and an
  optional V0 veto (``sv_v0_veto``: 2-track vertices with a K0S or Lambda mass are dropped).

The HCAL non-linearity and thresholds make the raw jet response below 1 and flavour dependent
(gluon jets, richer in soft hadrons, respond lower): the problem a jet energy correction solves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gnnjet.schema import dataclass_from_mapping, read_yaml_file

PION_MASS, PROTON_MASS = 0.13957, 0.93827  # GeV
K0S_MASS, LAMBDA_MASS = 0.49761, 1.11568  # GeV
K0S_WINDOW, LAMBDA_WINDOW = 0.03, 0.01  # GeV, half-widths of the V0 veto
TRACK, ECAL, HCAL = 1, 2, 3


@dataclass(frozen=True)
class Detector:
    """Detector parameters (energies in GeV, lengths in mm, angles in rad)."""

    tracker_eta: float = 2.5
    track_min_pt: float = 0.5
    tracking_radius: float = 600.0
    track_pt_resolution: float = 0.01
    track_pt_resolution_slope: float = 5e-5
    d0_resolution: float = 0.010
    d0_resolution_ms: float = 0.030
    dz_resolution: float = 0.020
    dz_resolution_ms: float = 0.060
    pv_dz_max: float = 1.0
    ecal_eta: float = 3.0
    ecal_stochastic: float = 0.10
    ecal_constant: float = 0.01
    ecal_threshold: float = 1.0
    ecal_angle: float = 0.005
    hcal_eta: float = 5.0
    hcal_stochastic: float = 1.0
    hcal_constant: float = 0.05
    hcal_threshold: float = 2.0
    hcal_angle: float = 0.03
    h_over_e: float = 0.6
    hcal_response_exponent: float = 0.85
    sv_min_tracks: int = 2
    sv_min_track_pt: float = 0.8
    sv_min_lxy: float = 0.1
    sv_efficiency: float = 0.7
    sv_position_resolution: float = 0.05
    sv_fake_rate: float = 0.03
    sv_fake_lxy: float = 1.0
    sv_v0_veto: bool = False

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Detector":
        """Defaults overridden by the keys of a YAML mapping; a missing or unreadable file, YAML that is not a
        plain mapping (tags included), unknown keys and values of the wrong type are ConfigErrors naming them."""
        return dataclass_from_mapping(cls, read_yaml_file(path, "detector file"), str(path))

    def hcal_response(self, energy: np.ndarray) -> np.ndarray:
        """Mean HCAL response (reconstructed / true energy) of hadrons of `energy` GeV."""
        return 1.0 - (1.0 - self.h_over_e) * np.power(np.maximum(energy, 0.1), self.hcal_response_exponent - 1.0)

    def simulate(self, particles: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Flat visible particles -> reconstructed particle-flow candidates.

        Args:
            particles: flat arrays pt eta phi (true), id, charge; vx vy (production vertex, mm; default 0).
        Returns: flat arrays pt eta phi (reconstructed), kind (0 lost, 1 track, 2 ECAL, 3 HCAL)
            and hcal_frac, aligned with the input (select ``kind > 0``).
        """
        pt, eta, phi = particles["pt"], particles["eta"], particles["phi"]
        abs_id, abs_eta, n = np.abs(particles["id"]), np.abs(eta), len(pt)
        energy = pt * np.cosh(eta)
        charged = particles["charge"] != 0
        radius = np.hypot(particles.get("vx", np.zeros(n)), particles.get("vy", np.zeros(n)))
        curling = charged & (abs_eta < self.tracker_eta) & (pt <= self.track_min_pt)
        found = rng.random(n) < np.clip(1.0 - radius / self.tracking_radius, 0.0, 1.0)
        is_track = charged & (abs_eta < self.tracker_eta) & ~curling & found
        is_ecal = ((abs_id == 22) | ((abs_id == 11) & ~is_track)) & (abs_eta < self.ecal_eta)
        is_hcal = ~is_track & ~is_ecal & ~curling & (abs_id != 13) & (abs_id != 22) & (abs_id != 11)
        is_hcal &= abs_eta < self.hcal_eta

        out_pt = np.zeros(n)
        out_eta, out_phi = eta.astype(np.float64).copy(), phi.astype(np.float64).copy()
        track_sigma = np.hypot(self.track_pt_resolution, self.track_pt_resolution_slope * pt)
        out_pt[is_track] = (pt * (1 + track_sigma * rng.normal(size=n)))[is_track]

        safe_energy = np.maximum(energy, 1e-3)
        ecal_sigma = np.hypot(self.ecal_stochastic / np.sqrt(safe_energy), self.ecal_constant)
        ecal_energy = energy * (1 + ecal_sigma * rng.normal(size=n))
        hcal_sigma = np.hypot(self.hcal_stochastic / np.sqrt(safe_energy), self.hcal_constant)
        hcal_energy = energy * self.hcal_response(energy) * (1 + hcal_sigma * rng.normal(size=n))
        ecal_ok = is_ecal & (ecal_energy > self.ecal_threshold)
        hcal_ok = is_hcal & (hcal_energy > self.hcal_threshold)
        for mask, angle in ((ecal_ok, self.ecal_angle), (hcal_ok, self.hcal_angle)):
            out_eta[mask] += angle * rng.normal(size=int(mask.sum()))
            out_phi[mask] += angle * rng.normal(size=int(mask.sum()))
        calo_energy = np.where(ecal_ok, ecal_energy, np.where(hcal_ok, hcal_energy, 0.0))
        calo = ecal_ok | hcal_ok
        out_pt[calo] = calo_energy[calo] / np.cosh(out_eta[calo])

        kind = np.zeros(n, dtype=np.int8)
        kind[is_track], kind[ecal_ok], kind[hcal_ok] = TRACK, ECAL, HCAL
        kind[out_pt <= 0] = 0
        # hadron showers start in the ECAL: part of a neutral hadron's energy is seen there
        hcal_frac = np.where(hcal_ok, rng.beta(8.0, 2.0, size=n), 0.0)
        return {"pt": out_pt, "eta": out_eta, "phi": (out_phi + np.pi) % (2 * np.pi) - np.pi,
                "kind": kind, "hcal_frac": hcal_frac}

    def impact_parameters(self, track: dict[str, np.ndarray], jet_px: np.ndarray, jet_py: np.ndarray,
                          rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Measured impact parameters of tracks (flat arrays).

        Args:
            track: true vx vy vz (mm) and px py pz (GeV) and reconstructed pt.
            jet_px, jet_py: the direction of each track's jet (same length).
        Returns: dxy (lifetime-signed, cm), dxy_significance, dz (cm), dz_significance.
        """
        px, py, pz = track["px"], track["py"], track["pz"]
        pt_true = np.sqrt(np.maximum(px**2 + py**2, 1e-12))
        # the point of closest approach is d0 * n with n = (py, -px) / pt, perpendicular to the track
        d0 = (track["vx"] * py - track["vy"] * px) / pt_true
        t = -(track["vx"] * px + track["vy"] * py) / pt_true**2
        dz = track["vz"] + t * pz
        pt = np.maximum(track["pt"], 0.1)
        sigma_d0 = np.hypot(self.d0_resolution, self.d0_resolution_ms / pt)
        sigma_dz = np.hypot(self.dz_resolution, self.dz_resolution_ms / pt)
        d0_measured = d0 + sigma_d0 * rng.normal(size=len(d0))
        dz_measured = dz + sigma_dz * rng.normal(size=len(dz))
        # lifetime sign: the measured closest approach lies in front of (+) or behind (-) the jet axis
        signed = d0_measured * np.where(py * jet_px - px * jet_py >= 0, 1.0, -1.0)
        return {"dxy": 0.1 * signed, "dxy_significance": signed / sigma_d0,
                "dz": 0.1 * dz_measured, "dz_significance": dz_measured / sigma_dz}

    def secondary_vertices(self, track: dict[str, np.ndarray], jet: np.ndarray, num_jets: int,
                           rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Reconstruct SVs: tracks that share a true displaced production vertex, plus fake vertices.

        Args:
            track: flat arrays of the jets' tracks: true vx vy vz (mm), reconstructed pt eta phi, and charge
                (needed by the V0 veto).
            jet: [n_tracks] index of each track's jet (0..num_jets-1).
        Returns: SV arrays (pt eta phi mass in GeV, distance in cm, significance, num_tracks),
            ordered by jet, and the number of SVs per jet [num_jets].
        """
        real = self._true_vertices(track, jet, rng)
        fake = self._fake_vertices(track, jet, num_jets, rng)
        candidates = {k: np.concatenate([real[k], fake[k]]) for k in real}
        keep = ~self._v0_like(candidates) if self.sv_v0_veto else np.ones(len(candidates["jet"]), bool)
        order = np.argsort(candidates["jet"][keep], kind="stable")
        chosen = {k: v[keep][order] for k, v in candidates.items()}
        position = chosen.pop("position")
        position = position + self.sv_position_resolution * rng.normal(size=position.shape)
        distance = np.linalg.norm(position, axis=1)
        px, py, pz, energy = (chosen.pop(k) for k in ("px", "py", "pz", "energy"))
        sv_pt = np.hypot(px, py)
        sv = {
            "pt": sv_pt, "eta": np.arcsinh(pz / np.maximum(sv_pt, 1e-9)), "phi": np.arctan2(py, px),
            "mass": np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0)),
            "distance": 0.1 * distance,
            "significance": distance / (np.sqrt(3.0) * self.sv_position_resolution),
            "num_tracks": chosen["num_tracks"].astype(np.int32),
        }
        return sv, np.bincount(chosen["jet"], minlength=num_jets)

    def _true_vertices(self, track: dict[str, np.ndarray], jet: np.ndarray,
                       rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Groups of >= sv_min_tracks tracks (pt > sv_min_track_pt) from one displaced vertex, found with
        sv_efficiency: four-momentum sums (pion masses), true position, jet, track count, and the two tracks'
        (pt, eta, phi, charge) for 2-track vertices (for the V0 veto)."""
        lxy = np.hypot(track["vx"], track["vy"])
        use = (lxy > self.sv_min_lxy) & (track["pt"] > self.sv_min_track_pt)
        t = {k: v[use] for k, v in track.items() if len(v) == len(use)}
        jet = jet[use]
        order = np.lexsort((t["vz"], t["vy"], t["vx"], jet))
        t, jet = {k: v[order] for k, v in t.items()}, jet[order]
        new_group = np.ones(len(jet), dtype=bool)
        new_group[1:] = ((np.diff(jet) != 0) | (np.diff(t["vx"]) != 0) | (np.diff(t["vy"]) != 0)
                         | (np.diff(t["vz"]) != 0))
        group = np.cumsum(new_group) - 1
        num_groups = int(group[-1] + 1) if len(group) else 0
        size = np.bincount(group, minlength=num_groups)
        p4 = _pion_four_vectors(t)
        sums = [np.bincount(group, weights=w, minlength=num_groups) for w in p4]
        first = np.flatnonzero(new_group)
        found = (size >= self.sv_min_tracks) & (rng.random(num_groups) < self.sv_efficiency)
        second = np.minimum(first + 1, len(jet) - 1)  # the second track of a group (meaningful for 2-track groups)
        return {"px": sums[0][found], "py": sums[1][found], "pz": sums[2][found], "energy": sums[3][found],
                "position": np.stack([t[k][first][found] for k in ("vx", "vy", "vz")], axis=1).reshape(-1, 3),
                "jet": jet[first][found].astype(np.int64), "num_tracks": size[found],
                **_pair_fields(t, first[found], second[found])}

    def _fake_vertices(self, track: dict[str, np.ndarray], jet: np.ndarray, num_jets: int,
                       rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Poisson(sv_fake_rate) fake vertices per jet, each from two random tracks of the jet (pt >
        sv_min_track_pt), at an exponential transverse distance (mean sv_fake_lxy) along the pair's direction."""
        use = np.flatnonzero(track["pt"] > self.sv_min_track_pt)
        use = use[np.argsort(jet[use], kind="stable")]
        per_jet = np.bincount(jet[use], minlength=num_jets)
        wanted = rng.poisson(self.sv_fake_rate, num_jets) * (per_jet >= 2)
        fake_jet = np.repeat(np.arange(num_jets), wanted)
        n, start = per_jet[fake_jet], (np.cumsum(per_jet) - per_jet)[fake_jet]
        a = (rng.random(len(fake_jet)) * n).astype(np.int64)
        b = (rng.random(len(fake_jet)) * (n - 1)).astype(np.int64)
        b += b >= a  # a different track
        first, second = use[start + a], use[start + b]
        p4 = [x[first] + x[second] for x in _pion_four_vectors(track)]
        pt = np.maximum(np.hypot(p4[0], p4[1]), 1e-9)
        lxy = rng.exponential(self.sv_fake_lxy, len(fake_jet))
        position = np.stack([lxy * p4[0] / pt, lxy * p4[1] / pt, lxy * p4[2] / pt], axis=1)
        return {"px": p4[0], "py": p4[1], "pz": p4[2], "energy": p4[3], "position": position,
                "jet": fake_jet.astype(np.int64), "num_tracks": np.full(len(fake_jet), 2),
                **_pair_fields(track, first, second)}

    @staticmethod
    def _v0_like(sv: dict[str, np.ndarray]) -> np.ndarray:
        """2-track vertices of opposite-charge tracks with the K0S mass (pi pi) or the Lambda mass (p pi, the
        proton being the harder track)."""
        two = (sv["num_tracks"] == 2) & (sv["charge_1"] * sv["charge_2"] < 0)
        m_pipi = np.sqrt(np.maximum(sv["energy"] ** 2 - sv["px"] ** 2 - sv["py"] ** 2 - sv["pz"] ** 2, 0.0))
        hard_is_1 = sv["p_1"] >= sv["p_2"]
        p_hard, p_soft = np.where(hard_is_1, sv["p_1"], sv["p_2"]), np.where(hard_is_1, sv["p_2"], sv["p_1"])
        e_ppi = np.sqrt(p_hard**2 + PROTON_MASS**2) + np.sqrt(p_soft**2 + PION_MASS**2)
        p_sum2 = sv["px"] ** 2 + sv["py"] ** 2 + sv["pz"] ** 2
        m_ppi = np.sqrt(np.maximum(e_ppi**2 - p_sum2, 0.0))
        return two & ((np.abs(m_pipi - K0S_MASS) < K0S_WINDOW) | (np.abs(m_ppi - LAMBDA_MASS) < LAMBDA_WINDOW))


def _pion_four_vectors(track: dict[str, np.ndarray]) -> list[np.ndarray]:
    """(px, py, pz, E) of reconstructed tracks with the pion mass."""
    px, py = track["pt"] * np.cos(track["phi"]), track["pt"] * np.sin(track["phi"])
    pz = track["pt"] * np.sinh(track["eta"])
    return [px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + PION_MASS**2)]


def _pair_fields(track: dict[str, np.ndarray], first: np.ndarray, second: np.ndarray) -> dict[str, np.ndarray]:
    """Momentum magnitude and charge of a vertex's first two tracks (charge 0 when unknown)."""
    charge = track.get("charge", np.zeros(len(track["pt"])))
    p = track["pt"] * np.cosh(track["eta"])
    return {"p_1": p[first], "p_2": p[second], "charge_1": charge[first], "charge_2": charge[second]}


def as_dict(detector: Detector) -> dict[str, Any]:
    """The parameters as a plain mapping (written next to generated samples)."""
    return dataclasses.asdict(detector)
