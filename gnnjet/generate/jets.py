"""Jet clustering (FastJet on awkward batches), constituent gathering, flavour labels, matching.

Flavour labels follow the CMS definitions via ghost association (momenta scaled by 1e-18 so they
do not change the jets): hadron flavour = 5 if a weakly decaying b hadron is clustered into the
jet, else 4 for a c hadron, else 0; parton flavour = 5/4 if a b/c parton entering hadronisation
(status -71..-79) is clustered in, else |id| of the hardest such parton.
"""

from __future__ import annotations

import awkward as ak
import fastjet
import numpy as np
import vector

vector.register_awkward()

GHOST_SCALE = 1e-18
CODE_VISIBLE, CODE_C, CODE_B, CODE_PARTON = 0, 4, 5, 9


def delta_phi(a: ak.Array | np.ndarray, b: ak.Array | np.ndarray) -> ak.Array | np.ndarray:
    """a - b wrapped to [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def cluster(particles: ak.Array, radius: float, min_pt: float) -> tuple[ak.Array, ak.Array]:
    """Anti-kT jets of each event, pt-ordered.

    Args:
        particles: (events, particles) records with px py pz E.
    Returns: jets (events, jets) with px py pz E and the constituent indices (events, jets, k)
        into `particles`.
    """
    inputs = ak.zip({"px": particles.px, "py": particles.py, "pz": particles.pz, "E": particles.E},
                    with_name="Momentum4D")
    sequence = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = sequence.inclusive_jets(min_pt=min_pt)
    index = sequence.constituent_index(min_pt=min_pt)
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)
    return jets[order], index[order]


def kinematics(p: ak.Array) -> dict[str, ak.Array]:
    """pt, eta, rapidity y, phi, mass of four-vectors with px py pz E."""
    pt = np.hypot(p.px, p.py)
    p_abs = np.sqrt(pt**2 + p.pz**2)
    with np.errstate(all="ignore"):
        eta = np.arctanh(p.pz / np.maximum(p_abs, 1e-12))
        rapidity = 0.5 * np.log(np.maximum(p.E + p.pz, 1e-300) / np.maximum(p.E - p.pz, 1e-300))
    mass = np.sqrt(np.maximum(p.E**2 - p_abs**2, 0.0))
    return {"pt": pt, "eta": eta, "y": rapidity, "phi": np.arctan2(p.py, p.px), "mass": mass}


def gather(records: ak.Array, index: ak.Array) -> ak.Array:
    """records (events, n) taken at index (events, jets, k) -> (events, jets, k)."""
    per_event = ak.num(records, axis=1)
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(per_event))[:-1]])
    n_jets, n_const = ak.num(index, axis=1), ak.num(index, axis=2)
    flat_index = ak.to_numpy(ak.flatten(index, axis=None))
    event_of = np.repeat(np.arange(len(per_event)), ak.to_numpy(ak.sum(n_const, axis=1)))
    picked = ak.flatten(records)[flat_index + offsets[event_of]]
    return ak.unflatten(ak.unflatten(picked, ak.flatten(n_const)), n_jets)


def weakly_decaying(particles: ak.Array, quark: int) -> ak.Array:
    """Mask of hadrons containing `quark` (5 or 4) with no same-flavour hadron daughter."""
    counts = ak.to_numpy(ak.num(particles.id))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    abs_id = np.abs(ak.to_numpy(ak.flatten(particles.id)))
    mother = ak.to_numpy(ak.flatten(particles.m1))
    event = np.repeat(np.arange(len(counts)), counts)

    def contains(q: int) -> np.ndarray:
        return (abs_id > 100) & (((abs_id // 100) % 10 == q) | ((abs_id // 1000) % 10 == q))

    heavy = contains(quark)
    if quark == 4:  # a hadron with both b and c counts as b
        heavy &= ~contains(5)
    has_heavy_daughter = np.zeros_like(heavy)
    with_mother = heavy & (mother > 0)
    has_heavy_daughter[mother[with_mother] + offsets[event[with_mother]]] = True
    return ak.unflatten(heavy & ~has_heavy_daughter, counts)


def ghost_inputs(particles: ak.Array, visible: ak.Array) -> ak.Array:
    """Visible particles (code 0) plus ghosts of b hadrons (5), c hadrons (4) and partons (9)."""
    abs_id = abs(particles.id)
    partons = particles[(particles.status <= -71) & (particles.status >= -79) & ((abs_id <= 5) | (abs_id == 21))]

    def tagged(records: ak.Array, code: int, scale: float) -> ak.Array:
        return ak.zip({"px": records.px * scale, "py": records.py * scale, "pz": records.pz * scale,
                       "E": records.E * scale, "code": ak.values_astype(records.id * 0 + code, np.int32),
                       "pid": records.id}, depth_limit=2)

    return ak.concatenate([
        tagged(visible, CODE_VISIBLE, 1.0),
        tagged(particles[weakly_decaying(particles, 5)], CODE_B, GHOST_SCALE),
        tagged(particles[weakly_decaying(particles, 4)], CODE_C, GHOST_SCALE),
        tagged(partons, CODE_PARTON, GHOST_SCALE),
    ], axis=1)


def flavours(members: ak.Array) -> tuple[ak.Array, ak.Array]:
    """(hadron_flavor, parton_flavor), each (events, jets), from ghost-tagged jet members."""
    code = members.code
    has_b, has_c = ak.any(code == CODE_B, axis=2), ak.any(code == CODE_C, axis=2)
    hadron = ak.where(has_b, 5, ak.where(has_c, 4, 0))
    partons = members[code == CODE_PARTON]
    abs_id = abs(partons.pid)
    hardest = ak.firsts(abs_id[ak.argmax(np.hypot(partons.px, partons.py), axis=2, keepdims=True)], axis=2)
    parton = ak.where(ak.any(abs_id == 5, axis=2), 5,
                      ak.where(ak.any(abs_id == 4, axis=2), 4, ak.fill_none(hardest, 0)))
    return hadron, parton


def match(gen: ak.Array, reco: ak.Array, max_dr: float) -> tuple[ak.Array, ak.Array]:
    """For each gen jet (events, g) the index of the closest reco jet and the distance dR.

    gen and reco need eta and phi. Gen jets with no reco jet get index -1 and dR = inf.
    """
    pairs = ak.cartesian([gen, reco], nested=True)
    g, r = ak.unzip(pairs)
    dr = np.hypot(g.eta - r.eta, delta_phi(g.phi, r.phi))
    best = ak.argmin(dr, axis=2, keepdims=True)
    best_dr = ak.fill_none(ak.firsts(dr[best], axis=2), np.inf)
    best_index = ak.fill_none(ak.firsts(best, axis=2), -1)
    matched = best_dr < max_dr
    return ak.where(matched, best_index, -1), ak.where(matched, best_dr, np.inf)
