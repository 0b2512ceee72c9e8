"""Four-vector helpers shared by the converters (numpy and awkward arrays alike)."""

from __future__ import annotations

from typing import Any

import numpy as np


def pt_eta_phi(px: Any, py: Any, pz: Any) -> tuple[Any, Any, Any]:
    """Transverse momentum, pseudorapidity and azimuth of (px, py, pz) (GeV)."""
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.arcsinh(pz / pt)
    return pt, eta, np.arctan2(py, px)


def jet_sum(px: Any, py: Any, pz: Any, energy: Any) -> dict[str, np.ndarray]:
    """Jet four-momentum summed over the constituents of each jet (jagged [J, var] inputs) -> pt, eta, phi, mass,
    energy [J]."""
    import awkward as ak

    totals = [ak.to_numpy(ak.sum(v, axis=1)).astype(np.float64) for v in (px, py, pz, energy)]
    pt, eta, phi = pt_eta_phi(*totals[:3])
    mass2 = totals[3] ** 2 - totals[0] ** 2 - totals[1] ** 2 - totals[2] ** 2
    return {"pt": pt, "eta": eta, "phi": phi, "mass": np.sqrt(np.maximum(mass2, 0.0)), "energy": totals[3]}



def eta_sign(eta: np.ndarray) -> np.ndarray:
    """sign(eta) with 0 taken as +1: the factor of the ParT repository's ``part_deta`` (its conversion scripts
    flip the eta difference of backward jets)."""
    return np.where(eta < 0, -1.0, 1.0)
