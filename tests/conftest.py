"""Shared fixtures: tiny ROOT ntuples in the gnnjet schema (README, "Data") and a matching config."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest

from gnnjet.data.writer import write_jets

CH = ("pt", "eta", "phi", "id", "charge", "dxy", "dxy_significance", "dz", "dz_significance")
NE = ("pt", "eta", "phi", "id", "hcal_frac")
SV = ("pt", "eta", "phi", "mass", "distance", "significance", "num_tracks")


def fake_jets(num_jets: int, seed: int = 0, max_ch: int = 30) -> dict[str, Any]:
    """Random jets in the gnnjet ROOT schema (not physics: for I/O and shape tests only).

    Jet 0 has no SVs, jet 1 has no charged constituents, jet 2 has a single constituent.
    """
    rng = np.random.default_rng(seed)
    n_ch = rng.integers(0, max_ch, num_jets)
    n_ne = rng.integers(0, 20, num_jets)
    n_sv = rng.integers(0, 4, num_jets)
    n_ch[0], n_sv[0] = max(n_ch[0], 5), 0
    n_ch[1], n_ne[1] = 0, max(n_ne[1], 3)
    n_ch[2], n_ne[2], n_sv[2] = 1, 0, 0
    pt = rng.uniform(30, 300, num_jets)
    eta = rng.uniform(-2.4, 2.4, num_jets)
    phi = rng.uniform(-np.pi, np.pi, num_jets)
    is_quark = rng.integers(0, 2, num_jets)

    def collection(counts: np.ndarray, names: tuple[str, ...]) -> ak.Array:
        total = int(counts.sum())
        jet = np.repeat(np.arange(num_jets), counts)
        cols = {}
        for name in names:
            if name == "pt":
                values = rng.exponential(5.0, total) + 0.5
            elif name == "eta":
                values = eta[jet] + rng.normal(0, 0.1, total)
            elif name == "phi":
                values = (phi[jet] + rng.normal(0, 0.1, total) + np.pi) % (2 * np.pi) - np.pi
            elif name in ("id", "charge", "num_tracks"):
                values = rng.integers(-2, 3, total).astype(np.int32)
            else:
                values = rng.normal(0, 1, total)
            cols[name] = ak.unflatten(values.astype(np.float32) if values.dtype.kind == "f" else values, counts)
        return ak.zip(cols)

    return {
        "pt": pt.astype(np.float32), "eta": eta.astype(np.float32), "phi": phi.astype(np.float32),
        "mass": rng.uniform(5, 30, num_jets).astype(np.float32),
        "pt_gen": (pt * rng.normal(1.05, 0.1, num_jets)).astype(np.float32),
        "eta_gen": eta.astype(np.float32), "phi_gen": phi.astype(np.float32),
        "mass_gen": rng.uniform(5, 30, num_jets).astype(np.float32),
        "hadron_flavor": rng.choice([0, 4, 5], num_jets).astype(np.int32),
        "parton_flavor": np.where(is_quark == 1, 1, 21).astype(np.int32),
        "label_q": is_quark.astype(np.int32), "label_g": (1 - is_quark).astype(np.int32),
        "ch": collection(n_ch, CH), "ne": collection(n_ne, NE), "sv": collection(n_sv, SV),
    }


def write_fake(path: Path, num_jets: int, seed: int = 0, **overrides: Any) -> Path:
    """Write `fake_jets` (with some branches replaced or removed) to a ROOT file."""
    branches = fake_jets(num_jets, seed)
    for key, value in overrides.items():
        if value is None:
            del branches[key]
        else:
            branches[key] = value
    write_jets(path, branches)
    return path


def write_fake_with_nonfinite_dxy(path: Path, num_jets: int) -> Path:
    """`write_fake` whose first three tracks have ch_dxy = NaN, +inf, -inf."""
    raw = fake_jets(num_jets)
    dxy = ak.to_numpy(ak.flatten(raw["ch"].dxy)).copy()
    dxy[:3] = [np.nan, np.inf, -np.inf]
    ch = ak.zip({**{f: raw["ch"][f] for f in raw["ch"].fields}, "dxy": ak.unflatten(dxy, ak.num(raw["ch"].pt))})
    return write_fake(path, num_jets, ch=ch)


def write_fake_with_nonfinite_kinematics(path: Path, num_jets: int) -> Path:
    """`write_fake` with NaN pt for jet 2's only track, inf eta and NaN phi for two tracks of jet 0."""
    raw = fake_jets(num_jets)
    counts = ak.num(raw["ch"].pt)
    fields = {f: ak.to_numpy(ak.flatten(raw["ch"][f])).copy() for f in raw["ch"].fields}
    start = np.concatenate([[0], np.cumsum(ak.to_numpy(counts))[:-1]])
    fields["pt"][start[2]] = np.nan
    fields["eta"][start[0] + 1] = np.inf
    fields["phi"][start[0] + 3] = np.nan
    return write_fake(path, num_jets, ch=ak.zip({f: ak.unflatten(v, counts) for f, v in fields.items()}))


BASE_CONFIG: dict[str, Any] = {
    "data": {
        "node_types": {
            "charged": {
                "max_nodes": 16, "pt": "ch_pt", "eta": "ch_eta", "phi": "ch_phi",
                "features": [
                    {"name": "log_pt", "expr": "log(ch_pt)"},
                    {"name": "rel_pt", "expr": "log(ch_pt / pt)"},
                    {"name": "deta", "expr": "ch_eta - eta", "center": None, "scale": None, "clip": None},
                    {"name": "dphi", "expr": "delta_phi(ch_phi, phi)", "center": None, "scale": None, "clip": None},
                    "ch_charge",
                    {"name": "dxy", "expr": "ch_dxy", "center": 0.0, "scale": 2.0, "clip": [-3, 3]},
                ],
            },
            "neutral": {
                "max_nodes": 8, "pt": "ne_pt", "eta": "ne_eta", "phi": "ne_phi",
                "features": [
                    {"name": "log_pt", "expr": "log(ne_pt)"},
                    {"name": "deta", "expr": "ne_eta - eta", "center": None, "scale": None, "clip": None},
                    {"name": "dphi", "expr": "delta_phi(ne_phi, phi)", "center": None, "scale": None, "clip": None},
                    "ne_hcal_frac",
                ],
            },
            "sv": {
                "max_nodes": 4, "pt": "sv_pt", "eta": "sv_eta", "phi": "sv_phi", "mass": "sv_mass",
                "features": [{"name": "log_pt", "expr": "log(sv_pt)"}, "sv_mass", "sv_significance"],
            },
        },
        "jet_features": [{"name": "log_pt", "expr": "log(pt)"}, "eta"],
        "observers": ["pt", "eta", "pt_gen", "hadron_flavor"],
    },
    "model": {"name": "deepsets", "preset": "small"},
    "task": {"type": "classification", "labels": ["label_q", "label_g"]},
}


@pytest.fixture
def base_config() -> dict[str, Any]:
    """A fresh (unvalidated) config dict matching `fake_jets`."""
    return copy.deepcopy(BASE_CONFIG)


@pytest.fixture
def fake_file(tmp_path: Path) -> Path:
    """A 200-jet fake ntuple."""
    return write_fake(tmp_path / "jets.root", 200)


@pytest.fixture
def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "cache"


JETCLASS_LABELS = ("label_QCD", "label_Hbb", "label_Hcc", "label_Hgg", "label_H4q", "label_Hqql", "label_Zqq",
                   "label_Wqq", "label_Tbqq", "label_Tbl")


def write_jetclass(path: Path, num_jets: int, seed: int = 0, min_particles: int = 1, max_particles: int = 60) -> Path:
    """A JetClass-schema ROOT file (tree `tree`, one `part_*` collection, ten one-hot labels) of random jets.

    Particles are pt-ordered like JetClass's; about 60% are charged. Not physics: for I/O and model tests.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(min_particles, max_particles + 1, num_jets)
    n = int(counts.sum())
    jet_pt, jet_eta = rng.uniform(500, 1000, num_jets), rng.uniform(-2, 2, num_jets)
    jet_phi = rng.uniform(-3, 3, num_jets)
    jet_of = np.repeat(np.arange(num_jets), counts)
    fraction = np.concatenate([np.sort(rng.exponential(1.0, c))[::-1] for c in counts])
    pt = jet_pt[jet_of] * fraction / np.repeat(np.add.reduceat(fraction, np.cumsum(counts) - counts), counts)
    deta, dphi = rng.normal(0, 0.2, n), rng.normal(0, 0.2, n)
    eta, phi = jet_eta[jet_of] + deta, jet_phi[jet_of] + dphi
    charge = rng.choice([-1, 0, 1], n, p=[0.3, 0.4, 0.3])
    kind = rng.integers(0, 10, n)
    is_electron = (charge != 0) & (kind == 0)
    is_muon = (charge != 0) & (kind == 1)
    is_photon = (charge == 0) & (kind < 6)
    columns = {
        "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "energy": pt * np.cosh(eta),
        "deta": deta, "dphi": dphi, "d0val": rng.normal(0, 0.05, n) * (charge != 0),
        "d0err": rng.uniform(0.01, 0.05, n) * (charge != 0), "dzval": rng.normal(0, 0.05, n) * (charge != 0),
        "dzerr": rng.uniform(0.01, 0.05, n) * (charge != 0), "charge": charge.astype(np.float64),
        "isChargedHadron": ((charge != 0) & ~is_electron & ~is_muon).astype(np.float64),
        "isNeutralHadron": ((charge == 0) & ~is_photon).astype(np.float64), "isPhoton": is_photon.astype(np.float64),
        "isElectron": is_electron.astype(np.float64), "isMuon": is_muon.astype(np.float64),
    }
    part = ak.unflatten(ak.zip({k: v.astype(np.float32) for k, v in columns.items()}), counts)
    label = rng.integers(0, len(JETCLASS_LABELS), num_jets)
    branches: dict[str, Any] = {"jet_pt": jet_pt, "jet_eta": jet_eta, "jet_phi": jet_phi,
                                "jet_energy": jet_pt * np.cosh(jet_eta) * 1.01,
                                "jet_nparticles": counts.astype(np.float64),
                                "jet_sdmass": rng.uniform(0, 200, num_jets)}
    branches |= {name: (label == i).astype(np.bool_) for i, name in enumerate(JETCLASS_LABELS)}
    branches["part"] = part
    write_jets(path, branches, tree="tree")
    return path
