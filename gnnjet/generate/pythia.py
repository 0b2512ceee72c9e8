"""Pythia 8 (pythia8mc wheel) set-up and batched event records as awkward arrays.

The wheel ships its xmldoc and PDF data, so nothing is downloaded. `nextBatch(n)` returns n events
as one awkward array; `particle_table` turns it into one jagged record per event with the
columns the rest of the generator uses (momenta in GeV, production vertices in mm).
"""

from __future__ import annotations

from typing import Any, Sequence

import awkward as ak
import numpy as np
import pythia8mc

from gnnjet.errors import GnnjetError

QUIET = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Init:showChangedSettings = off",
    "Init:showProcesses = off",
)
# Long-lived hadrons decay where they would in a detector: K0S (c tau 26.8 mm), Lambda (78.9 mm), Sigma,
# Xi and Omega decay at their displaced vertices if that vertex lies inside the tracker volume (r < 1.2 m,
# |z| < 2.8 m); charged pions and kaons and K0L (c tau > 3 m) and anything decaying further out are left to
# the detector. The displaced daughters become tracks (with an efficiency falling with radius, `Detector`)
# and V0 secondary vertices, as in real light-flavour jets.
LONG_LIVED_DECAYS = ("ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 1000",
                     "ParticleDecays:limitCylinder = on", "ParticleDecays:xyMax = 1200", "ParticleDecays:zMax = 2800")


def make_pythia(settings: Sequence[str], seed: int) -> Any:
    """An initialised Pythia with `settings`, a fixed seed (1..900000000) and no printout."""
    pythia = pythia8mc.Pythia("", False)
    for line in (*QUIET, "Random:setSeed = on", f"Random:seed = {seed % 900_000_000 + 1}", *settings):
        if not pythia.readString(line):
            raise GnnjetError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise GnnjetError(f"Pythia failed to initialise with settings {list(settings)}")
    return pythia


class ChargeTable:
    """PDG id -> electric charge, from Pythia's particle data (not in the batch record)."""

    def __init__(self, pythia: Any):
        self._pythia = pythia
        self._known: dict[int, float] = {}

    def __call__(self, pdg_ids: np.ndarray) -> np.ndarray:
        unique = np.unique(pdg_ids)
        for pid in unique:
            if int(pid) not in self._known:
                self._known[int(pid)] = float(self._pythia.particleData.charge(int(pid)))
        values = np.array([self._known[int(p)] for p in unique], dtype=np.float32)
        return values[np.searchsorted(unique, pdg_ids)]


def particle_table(events: ak.Array, charge: ChargeTable) -> ak.Array:
    """Per-event jagged records (index = Pythia event-record index).

    Fields: px py pz E pt (GeV), eta phi, id status m1 d1 (mother1, daughter1), charge,
    vx vy vz (production vertex, mm).
    """
    prt = events.prt
    px, py, pz, energy = prt.p.px, prt.p.py, prt.p.pz, prt.p.e
    counts = ak.num(prt.id)
    flat_id = ak.to_numpy(ak.flatten(prt.id))
    pt = np.hypot(px, py)
    p_abs = np.sqrt(pt**2 + pz**2)
    with np.errstate(all="ignore"):
        eta = np.arctanh(pz / np.maximum(p_abs, 1e-12))
    return ak.zip(
        {
            "px": px, "py": py, "pz": pz, "E": energy, "pt": pt,
            "eta": np.minimum(np.maximum(eta, -20.0), 20.0), "phi": np.arctan2(py, px),
            "id": prt.id, "status": prt.status, "m1": prt.mother1, "d1": prt.daughter1,
            "charge": ak.unflatten(charge(flat_id), counts),
            "vx": ak.fill_none(prt.vProd.px, 0.0), "vy": ak.fill_none(prt.vProd.py, 0.0),
            "vz": ak.fill_none(prt.vProd.pz, 0.0),
        },
        depth_limit=2,
    )


def visible_final_state(particles: ak.Array) -> ak.Array:
    """Final-state particles except neutrinos."""
    abs_id = abs(particles.id)
    return particles[(particles.status > 0) & (abs_id != 12) & (abs_id != 14) & (abs_id != 16)]
