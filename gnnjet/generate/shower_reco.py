"""The standard reconstruction a water-Cherenkov array provides with its events: the shower core, the direction, and
per hit its distance and polar angle around the core and its time residual to the fitted front.

Core: the charge-weighted centre of the brightest cells (at most `brightest`), refined once with the hits within
`core_radius` of that first estimate. Direction: a least-squares fit of a plane front with a fixed curvature,
t_i = t0 - (x_i u_x + y_i u_y) / c + curvature r_i (u: the horizontal part of the unit vector towards the source,
r_i: distance to the reconstructed core), weighted by sqrt(charge), refitted once without hits more than 3 RMS off
(noise, late particles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gnnjet.generate.pond import LIGHT_SPEED


@dataclass
class Reconstructed:
    """One event's reconstruction: core [2] (m), zenith and azimuth (rad), and per hit deltar [H] (m), polar [H]
    (rad, in (-pi, pi]) and dt [H] (ns, time minus the fitted front)."""

    core: np.ndarray
    zenith: float
    azimuth: float
    deltar: np.ndarray
    polar: np.ndarray
    dt: np.ndarray


def reconstruct_core(xy: np.ndarray, charge: np.ndarray, brightest: int = 10, core_radius: float = 30.0
                     ) -> np.ndarray:
    """Core [2] from hits xy [H, 2] and charges [H] sorted by decreasing charge."""
    top = slice(0, min(brightest, len(charge)))
    first = np.average(xy[top], axis=0, weights=charge[top])
    near = np.hypot(*(xy - first).T) < core_radius
    return np.average(xy[near], axis=0, weights=charge[near]) if near.any() else first


def fit_front(xy: np.ndarray, time: np.ndarray, charge: np.ndarray, core: np.ndarray, curvature: float
              ) -> tuple[float, float, np.ndarray]:
    """(zenith, azimuth, residuals [H]) of a curved plane front fitted to hit times (see the module docstring)."""
    r = np.hypot(*(xy - core).T)
    target = time - curvature * r
    design = np.column_stack([np.ones(len(time)), -xy[:, 0] / LIGHT_SPEED, -xy[:, 1] / LIGHT_SPEED])
    weights = np.sqrt(np.maximum(charge, 0.0))
    used = np.ones(len(time), dtype=bool)
    for _ in range(2):
        w = weights[used]
        solution, *_ = np.linalg.lstsq(design[used] * w[:, None], target[used] * w, rcond=None)
        residual = target - design @ solution
        rms = np.sqrt(np.average(residual[used] ** 2, weights=w)) if used.sum() > 3 else np.inf
        keep = np.abs(residual) < 3 * max(rms, 1.0)
        if keep.sum() < 3:
            break
        used = keep
    ux, uy = solution[1], solution[2]
    sine = min(float(np.hypot(ux, uy)), 0.999)
    return float(np.arcsin(sine)), float(np.arctan2(uy, ux)), residual


def reconstruct(xy: np.ndarray, charge: np.ndarray, time: np.ndarray, curvature: float) -> Reconstructed:
    """Core, direction and per-hit quantities of one event (hits sorted by decreasing charge, at least 3)."""
    core = reconstruct_core(xy, charge)
    zenith, azimuth, residual = fit_front(xy, time, charge, core, curvature)
    offset = xy - core
    return Reconstructed(core, zenith, azimuth, np.hypot(offset[:, 0], offset[:, 1]),
                         np.arctan2(offset[:, 1], offset[:, 0]), residual)
