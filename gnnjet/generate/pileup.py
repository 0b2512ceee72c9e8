"""Pile-up: Poisson(mu) minimum-bias interactions overlaid on every hard event.

A pool of minimum-bias events (Pythia ``SoftQCD:nonDiffractive``) is generated once per shard and
reused by sampling, as experiments do with pre-mixing libraries. Each overlaid interaction sits at its
own z along the beam line: relative to the primary vertex it is N(0, sqrt(2) x 45 mm), so its charged
particles reach the tracker with large |dz| (`Detector.pv_dz_max` tells them from primary-vertex
tracks), while its neutral particles simply add energy to the calorimeters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import awkward as ak
import numpy as np

from gnnjet.generate.pythia import LONG_LIVED_DECAYS, ChargeTable, make_pythia, particle_table, visible_final_state

BEAMSPOT_SIGMA_Z = 45.0  # mm, length of the luminous region (LHC Run 2)
POOL_EVENTS = 200
FIELDS = ("pt", "eta", "phi", "id", "charge", "px", "py", "pz", "vx", "vy", "vz")


@dataclass
class PileUp:
    """A pool of minimum-bias events (flat visible particles, `FIELDS`, with per-event offsets) and the mean
    number `mu` of interactions overlaid per bunch crossing."""

    mu: float
    particles: dict[str, np.ndarray]
    offsets: np.ndarray  # [pool events + 1]

    @classmethod
    def generate(cls, mu: float, beam_settings: Sequence[str], seed: int, pool_events: int = POOL_EVENTS) -> "PileUp":
        """Generate the pool with the hard process's beam settings (e.g. ``Beams:eCM = 13000.``)."""
        pythia = make_pythia((*beam_settings, "SoftQCD:nonDiffractive = on", *LONG_LIVED_DECAYS), seed)
        visible = visible_final_state(particle_table(pythia.nextBatch(pool_events), ChargeTable(pythia)))
        counts = ak.to_numpy(ak.num(visible.pt))
        flat = {k: ak.to_numpy(ak.flatten(visible[k])) for k in FIELDS}
        return cls(mu, flat, np.concatenate([[0], np.cumsum(counts)]))

    def overlay(self, num_events: int,
                rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Pile-up particles for `num_events` hard events.

        Returns: flat particles (`FIELDS`, vz shifted to each interaction's z in mm relative to the primary
        vertex) ordered by event, the number of particles per event [num_events] and the number of overlaid
        interactions per event [num_events].
        """
        interactions = rng.poisson(self.mu, num_events)
        chosen = rng.integers(0, len(self.offsets) - 1, int(interactions.sum()))
        sizes = self.offsets[chosen + 1] - self.offsets[chosen]
        rows = np.repeat(self.offsets[chosen] - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        out = {k: v[rows] for k, v in self.particles.items()}
        z = rng.normal(0.0, np.sqrt(2.0) * BEAMSPOT_SIGMA_Z, len(chosen))
        out["vz"] = out["vz"] + np.repeat(z, sizes)
        per_event = np.bincount(np.repeat(np.arange(num_events), interactions), weights=sizes,
                                minlength=num_events).astype(np.int64)
        return out, per_event, interactions


def beam_settings(settings: Sequence[str]) -> tuple[str, ...]:
    """The beam lines of a Pythia configuration (its ``Beams:`` settings)."""
    return tuple(line for line in settings if line.replace(" ", "").lower().startswith("beams:"))
