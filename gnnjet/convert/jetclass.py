"""JetClass (Qu, Li, Qian, arXiv:2202.03772) ROOT files -> gnnjet schema with the charged/neutral split.

Input: tree ``tree`` with one particle collection ``part_*`` (four-vectors, deta/dphi to the jet,
impact parameters, charge, particle-ID flags), jet-level ``jet_*`` and ten one-hot ``label_*``.
Output: ``ch_*`` (part_charge != 0) and ``ne_*`` collections with pt/eta/phi/energy, deta/dphi,
for charged particles the charge, ``dxy``/``dz`` with their errors and significances and the
electron/muon/hadron flags, for neutrals the photon/hadron flags; ``ch_id``/``ne_id`` are PDG
ids reconstructed from the flags and the charge (e-/mu- for charge -1, pi+-, photon 22,
neutral hadron K0L 130); jet ``pt eta phi mass energy`` and every ``jet_*`` and ``label_*`` branch.
Note: gnnjet also reads JetClass files directly (a config with ``select:`` splits the collection).
"""

from __future__ import annotations

from typing import Iterator

import awkward as ak
import numpy as np

from gnnjet.convert.kinematics import pt_eta_phi
from gnnjet.data.formats.root import open_tree
from gnnjet.data.writer import Branches
from gnnjet.errors import DataError

SUFFIXES = (".root",)
TREE = "tree"
PARTICLE = ("part_px", "part_py", "part_pz", "part_energy", "part_deta", "part_dphi", "part_d0val", "part_d0err",
            "part_dzval", "part_dzerr", "part_charge", "part_isChargedHadron", "part_isNeutralHadron",
            "part_isPhoton", "part_isElectron", "part_isMuon")
JET = ("jet_pt", "jet_eta", "jet_phi", "jet_energy")


def _tree(path: str):
    tree = open_tree(path, TREE)
    names = set(tree.keys())
    for branch in (*PARTICLE, *JET):
        if branch not in names:
            raise DataError(f"{path}: branch {branch!r} is not in tree {TREE!r} (not a JetClass file?)")
    if not any(n.startswith("label_") for n in names):
        raise DataError(f"{path}: no label_* branches in tree {TREE!r} (not a JetClass file?)")
    return tree


def count_jets(path: str) -> int:
    return _tree(path).num_entries


def read_chunks(path: str, chunk_size: int) -> Iterator[Branches]:
    tree = _tree(path)
    extra = sorted(n for n in tree.keys() if (n.startswith("jet_") or n.startswith("label_")) and n not in JET)
    for arrays in tree.iterate([*PARTICLE, *JET, *extra], step_size=chunk_size, library="ak"):
        yield _convert(arrays, extra)


def _significance(value: ak.Array, error: ak.Array) -> ak.Array:
    return ak.where(error > 0, value / ak.where(error > 0, error, 1.0), 0.0)


def _convert(a: ak.Array, extra: list[str]) -> Branches:
    pt, eta, phi = pt_eta_phi(a.part_px, a.part_py, a.part_pz)
    charge = a.part_charge
    pid = ak.where(a.part_isElectron != 0, -11 * charge,
                   ak.where(a.part_isMuon != 0, -13 * charge,
                            ak.where(charge != 0, 211 * charge, ak.where(a.part_isPhoton != 0, 22, 130))))
    common = {"pt": pt, "eta": eta, "phi": phi, "energy": a.part_energy, "deta": a.part_deta, "dphi": a.part_dphi,
              "id": ak.values_astype(pid, np.int32)}
    is_charged = charge != 0
    ch = {k: v[is_charged] for k, v in common.items()}
    ch |= {"charge": ak.values_astype(charge[is_charged], np.int32),
           "dxy": a.part_d0val[is_charged], "dxy_error": a.part_d0err[is_charged],
           "dz": a.part_dzval[is_charged], "dz_error": a.part_dzerr[is_charged],
           "dxy_significance": _significance(a.part_d0val, a.part_d0err)[is_charged],
           "dz_significance": _significance(a.part_dzval, a.part_dzerr)[is_charged],
           "is_electron": a.part_isElectron[is_charged], "is_muon": a.part_isMuon[is_charged],
           "is_charged_hadron": a.part_isChargedHadron[is_charged]}
    ne = {k: v[~is_charged] for k, v in common.items()}
    ne |= {"is_photon": a.part_isPhoton[~is_charged], "is_neutral_hadron": a.part_isNeutralHadron[~is_charged]}
    jet_pt, jet_eta, jet_energy = (ak.to_numpy(a[n]).astype(np.float64) for n in ("jet_pt", "jet_eta", "jet_energy"))
    mass2 = jet_energy**2 - (jet_pt * np.cosh(jet_eta)) ** 2
    out: dict = {"pt": jet_pt, "eta": jet_eta, "phi": ak.to_numpy(a.jet_phi).astype(np.float64),
                 "mass": np.sqrt(np.maximum(mass2, 0.0)), "energy": jet_energy}
    out |= {n: ak.to_numpy(a[n]) for n in extra}
    out |= {"ch": ak.zip(ch), "ne": ak.zip(ne)}
    return out
