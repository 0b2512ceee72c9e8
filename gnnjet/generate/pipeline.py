"""Events -> matched (generator-level, detector-level) jets with constituents in the gnnjet schema.

For a batch of Pythia events: cluster generator-level jets from visible particles (with flavour
ghosts), pass the visible particles through the `Detector`, cluster detector-level jets from the
reconstructed candidates, match every generator-level jet to the closest detector-level jet
(dR < 0.2) and collect that jet's tracks (`ch_*`), calorimeter objects (`ne_*`) and secondary
vertices (`sv_*`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from gnnjet.generate.detector import ECAL, TRACK, Detector
from gnnjet.generate.jets import cluster, delta_phi, flavours, gather, ghost_inputs, kinematics, match
from gnnjet.generate.pileup import FIELDS, PileUp
from gnnjet.generate.pythia import ChargeTable, particle_table, visible_final_state

JET_RADIUS = 0.4
GEN_MIN_PT = 10.0  # GeV, generator-level jets considered
RECO_MIN_PT = 5.0  # GeV, detector-level jets considered for matching
MATCH_DR = 0.2
RHO_ETA_MAX, RHO_ETA_CELLS, RHO_PHI_CELLS = 2.5, 10, 12  # the grid of the median pt density rho
BOOKKEEPING = ("rank", "hard_id", "y_gen", "top_dr", "hard_quarks")  # used for selections, not written


@dataclass
class JetTable:
    """Matched jets of a batch: jet-level [J] numpy arrays and jagged ch/ne/sv collections."""

    jets: dict[str, np.ndarray]
    collections: dict[str, ak.Array]

    def __len__(self) -> int:
        return len(self.jets["pt"])

    def take(self, index: np.ndarray) -> "JetTable":
        return JetTable({k: v[index] for k, v in self.jets.items()},
                        {k: v[index] for k, v in self.collections.items()})

    @staticmethod
    def concatenate(tables: list["JetTable"]) -> "JetTable":
        return JetTable({k: np.concatenate([t.jets[k] for t in tables]) for k in tables[0].jets},
                        {k: ak.concatenate([t.collections[k] for t in tables]) for k in tables[0].collections})

    def branches(self) -> dict[str, Any]:
        """Branches for `gnnjet.data.writer.write_jets` (bookkeeping fields left out)."""
        jets = {k: (v.astype(np.float32) if v.dtype == np.float64 else v)
                for k, v in self.jets.items() if k not in BOOKKEEPING}
        return {**jets, **self.collections}


def _flat(array: ak.Array) -> np.ndarray:
    return ak.to_numpy(ak.flatten(array, axis=None))


def simulate(events: ak.Array, charge: ChargeTable, detector: Detector, rng: np.random.Generator,
             radius: float = JET_RADIUS, pileup: PileUp | None = None) -> JetTable:
    """All generator-level anti-kT jets of `radius` (pt > 10 GeV) of `events` that match a detector-level jet.

    Jet-level fields: pt eta phi mass (detector level), pt_gen eta_gen y_gen phi_gen mass_gen,
    hadron_flavor parton_flavor, weight (event weight), event (index in the batch; the runner makes it the
    sample's event number), rank
    (pt rank of the generator-level jet in its event, 0 = leading), top_dr (Delta R to the closest top
    quark of the hard process, inf without one) and hard_quarks (quarks of the hard process and its
    resonance decays, Pythia status 23, within `radius`: 3 for a fully contained t -> bqq'), rho (median pt
    density of the event's reconstructed candidates, GeV per unit area) and npv (1 + pile-up interactions).
    With `pileup`, its particles enter the detector (and so the detector-level jets), never the
    generator-level jets; every constituent records whether it came from a pile-up interaction (ch_is_pu,
    ne_is_pu: 1 pile-up, 0 the hard interaction), and pt_nopu, mass_nopu are those of the detector-level jet
    rebuilt from its hard-interaction constituents alone (equal to pt, mass without pile-up).
    """
    particles = particle_table(events, charge)
    visible = visible_final_state(particles)
    ghosts = ghost_inputs(particles, visible)
    gen_jets, gen_index = cluster(ghosts, radius, GEN_MIN_PT)
    hadron, parton = flavours(gather(ghosts, gen_index))
    gen = kinematics(gen_jets)

    counts = ak.to_numpy(ak.num(visible.pt))
    flat = {k: _flat(visible[k]) for k in FIELDS}
    interactions = np.zeros(len(counts), np.int64)
    is_pu = np.zeros(int(counts.sum()), np.int32)
    if pileup is not None:
        flat, counts, interactions, is_pu = _with_pileup(flat, counts, pileup, rng)
    reco = detector.simulate(flat, rng)
    keep = reco["kind"] > 0
    kept_counts = np.bincount(np.repeat(np.arange(len(counts)), counts)[keep], minlength=len(counts))
    candidates = {k: v[keep] for k, v in reco.items()}
    candidates.update({f"true_{k}": flat[k][keep] for k in ("id", "charge", "px", "py", "pz", "vx", "vy", "vz")})
    candidates["is_pu"] = is_pu[keep]
    pt, eta, phi = candidates["pt"], candidates["eta"], candidates["phi"]
    candidates.update(px=pt * np.cos(phi), py=pt * np.sin(phi), pz=pt * np.sinh(eta), E=pt * np.cosh(eta))
    reco_particles = ak.unflatten(ak.zip({k: v for k, v in candidates.items()}), kept_counts)
    reco_jets, reco_index = cluster(reco_particles, radius, RECO_MIN_PT)
    reco_kin = kinematics(reco_jets)

    best, _ = match(ak.zip({"eta": gen["eta"], "phi": gen["phi"]}),
                    ak.zip({"eta": reco_kin["eta"], "phi": reco_kin["phi"]}), MATCH_DR)
    matched = best >= 0
    # matched reco jets by their index in the flattened (all events) reco-jet list
    reco_offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(reco_kin["pt"])))[:-1]])
    event = _flat(ak.broadcast_arrays(ak.local_index(gen["pt"], axis=0), gen["pt"])[0][matched]).astype(np.int64)
    reco_row = reco_offsets[event] + _flat(best[matched])
    members = ak.flatten(gather(reco_particles, reco_index), axis=1)[reco_row]  # (jets, k)

    weights = ak.to_numpy(ak.firsts(events.info.weights)).astype(np.float64)
    jets = {
        **{k: _flat(reco_kin[k])[reco_row] for k in ("pt", "eta", "phi", "mass")},
        **{f"{k}_gen": _flat(gen[k][matched]) for k in ("pt", "eta", "y", "phi", "mass")},
        "hadron_flavor": _flat(hadron[matched]).astype(np.int32),
        "parton_flavor": _flat(parton[matched]).astype(np.int32),
        "event": event,
        "rank": _flat(ak.local_index(gen["pt"])[matched]).astype(np.int32),
    }
    jets["pt_nopu"], jets["mass_nopu"] = _hard_interaction_jets(members)
    jets["weight"] = weights[jets["event"]]
    jets["rho"] = _rho(candidates, kept_counts)[jets["event"]]
    jets["npv"] = (1 + interactions[jets["event"]]).astype(np.int32)
    jets["hard_id"] = _hard_outgoing(particles)[jets["event"]]
    jets["top_dr"], jets["hard_quarks"] = _hard_partons_near(particles, jets, radius)
    return JetTable(jets, _collections(members, jets, detector, rng))


def _with_pileup(flat: dict[str, np.ndarray], counts: np.ndarray, pileup: PileUp,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The events' particles followed, event by event, by their pile-up particles; the new counts per event, the
    number of pile-up interactions per event and each particle's origin (1: pile-up, 0: the hard interaction)."""
    extra, extra_counts, interactions = pileup.overlay(len(counts), rng)
    events = np.arange(len(counts))
    order = np.argsort(np.concatenate([np.repeat(events, counts), np.repeat(events, extra_counts)]), kind="stable")
    merged = {k: np.concatenate([flat[k], extra[k].astype(flat[k].dtype)])[order] for k in flat}
    origin = np.concatenate([np.zeros(int(counts.sum()), np.int32), np.ones(int(extra_counts.sum()), np.int32)])
    return merged, counts + extra_counts, interactions, origin[order]


def _hard_interaction_jets(members: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """pt and mass [J] of each detector-level jet rebuilt from its constituents [J, n] that came from the hard
    interaction (is_pu == 0)."""
    hard = members[members.is_pu == 0]
    px, py, pz, energy = (ak.to_numpy(ak.sum(hard[k], axis=1)).astype(np.float64) for k in ("px", "py", "pz", "E"))
    return np.hypot(px, py), np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def _rho(candidates: dict[str, np.ndarray], counts: np.ndarray) -> np.ndarray:
    """Per event, the median over a grid of |eta| < 2.5 cells of the candidates' pt per unit eta-phi area
    (CMS's fixed-grid rho): the diffuse pile-up and underlying-event density, in GeV."""
    cells = RHO_ETA_CELLS * RHO_PHI_CELLS
    event = np.repeat(np.arange(len(counts)), counts)
    inside = np.abs(candidates["eta"]) < RHO_ETA_MAX
    eta_cell = ((candidates["eta"][inside] + RHO_ETA_MAX) / (2 * RHO_ETA_MAX) * RHO_ETA_CELLS).astype(np.int64)
    phi_cell = ((candidates["phi"][inside] + np.pi) / (2 * np.pi) * RHO_PHI_CELLS).astype(np.int64) % RHO_PHI_CELLS
    index = event[inside] * cells + np.minimum(eta_cell, RHO_ETA_CELLS - 1) * RHO_PHI_CELLS + phi_cell
    pt_sum = np.bincount(index, weights=candidates["pt"][inside], minlength=len(counts) * cells)
    area = (2 * RHO_ETA_MAX / RHO_ETA_CELLS) * (2 * np.pi / RHO_PHI_CELLS)
    return np.median(pt_sum.reshape(len(counts), cells), axis=1) / area


def _hard_partons_near(particles: ak.Array, jets: dict[str, np.ndarray],
                       radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Per jet: Delta R to the closest hard-process top (status -22) and the number of hard-process quarks
    (status 23: the outgoing partons and the products of resonance decays, e.g. t -> b W(-> q q')) within
    `radius` of the generator-level jet axis."""
    abs_id, status = abs(particles.id), particles.status
    hard = particles[((abs_id == 6) & (status == -22)) | ((abs_id <= 5) & (abs(status) == 23))]
    hard = hard[jets["event"]]  # one row of hard partons per jet
    dr = np.hypot(hard.eta - jets["eta_gen"], delta_phi(hard.phi, jets["phi_gen"]))
    is_top = abs(hard.id) == 6
    top_dr = ak.to_numpy(ak.fill_none(ak.min(dr[is_top], axis=1), np.inf)).astype(np.float64)
    return top_dr, ak.to_numpy(ak.sum((dr < radius) & ~is_top, axis=1)).astype(np.int32)


def _hard_outgoing(particles: ak.Array) -> np.ndarray:
    """Per event, the PDG id of the hard process's outgoing parton (entries 5, 6; not a Z/photon)."""
    ids = ak.to_numpy(particles.id[:, 5:7])
    return np.where(np.isin(np.abs(ids[:, 0]), (22, 23)), ids[:, 1], ids[:, 0]).astype(np.int32)


def _collections(members: ak.Array, jets: dict[str, np.ndarray], detector: Detector,
                 rng: np.random.Generator) -> dict[str, ak.Array]:
    """Split each jet's candidates into tracks, neutrals and SVs, pt-ordered."""
    members = members[ak.argsort(members.pt, axis=1, ascending=False)]
    num_jets = len(members)
    jet_px, jet_py = jets["pt"] * np.cos(jets["phi"]), jets["pt"] * np.sin(jets["phi"])

    tracks = members[members.kind == TRACK]
    track_counts = ak.to_numpy(ak.num(tracks.pt))
    jet_of_track = np.repeat(np.arange(num_jets), track_counts)
    t = {k: _flat(tracks[k]) for k in tracks.fields}
    true = {"vx": t["true_vx"], "vy": t["true_vy"], "vz": t["true_vz"], "px": t["true_px"], "py": t["true_py"],
            "pz": t["true_pz"], "pt": t["pt"], "eta": t["eta"], "phi": t["phi"], "charge": t["true_charge"]}
    ip = detector.impact_parameters(true, jet_px[jet_of_track], jet_py[jet_of_track], rng)
    abs_id = np.abs(t["true_id"])
    pf_id = np.where((abs_id == 11) | (abs_id == 13), abs_id, 211) * np.sign(t["true_charge"]).astype(np.int32)
    ch = {"pt": t["pt"], "eta": t["eta"], "phi": t["phi"], "id": pf_id.astype(np.int32),
          "charge": t["true_charge"].astype(np.int32), **ip,
          "from_pv": (np.abs(ip["dz"]) < 0.1 * detector.pv_dz_max).astype(np.int32),  # dz in cm, pv_dz_max in mm
          "is_pu": t["is_pu"].astype(np.int32)}

    neutrals = members[members.kind != TRACK]
    n = {k: _flat(neutrals[k]) for k in ("pt", "eta", "phi", "kind", "hcal_frac", "is_pu")}
    ne = {"pt": n["pt"], "eta": n["eta"], "phi": n["phi"],
          "id": np.where(n["kind"] == ECAL, 22, 130).astype(np.int32), "hcal_frac": n["hcal_frac"],
          "is_pu": n["is_pu"].astype(np.int32)}

    sv, sv_counts = detector.secondary_vertices(true, jet_of_track, num_jets, rng)
    sv_order = np.lexsort((-sv["pt"], np.repeat(np.arange(num_jets), sv_counts)))

    def jagged(values: dict[str, np.ndarray], counts: np.ndarray, order: np.ndarray | None = None) -> ak.Array:
        cast = {k: (v if v.dtype.kind == "i" else v.astype(np.float32)) for k, v in values.items()}
        if order is not None:
            cast = {k: v[order] for k, v in cast.items()}
        return ak.unflatten(ak.zip(cast), counts)

    return {"ch": jagged(ch, track_counts), "ne": jagged(ne, ak.to_numpy(ak.num(neutrals.pt))),
            "sv": jagged(sv, sv_counts, sv_order)}
